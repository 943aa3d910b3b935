import type { BillingInterval, PlanPrice, PriceTier } from './billing.model';

/**
 * Money math of plans, shared by every provider: what a quantity costs under a price, proration of an amount by
 * the part of a period it covers, and the arithmetic of billing periods. Amounts are BigInt minor units (cents);
 * no floating point is ever involved.
 */

const DIGITS = /^(0|[1-9][0-9]*)$/;

/** A stored amount (a string of decimal digits, minor units) as a BigInt; anything else is a programming error. */
export function minorUnits(value: string): bigint {
  if (!DIGITS.test(value)) throw new RangeError(`not an amount in minor units: ${JSON.stringify(value)}`);
  return BigInt(value);
}

/**
 * What `quantity` units cost under `price`, in minor units.
 * - Without tiers: `quantity × unitAmount` (a flat price is charged with quantity 1).
 * - Graduated tiers: each tier prices the units that fall into it (`upTo` inclusive, null = every unit above the
 *   previous tier), plus its `flatAmount` once when the quantity reaches it. The first tier starts at zero, so a
 *   quantity of 0 is in the first tier and is charged that tier's flat amount (a base fee), as Stripe does.
 */
export function amountFor(price: Pick<PlanPrice, 'unitAmount' | 'tiers'>, quantity: bigint): bigint {
  if (quantity < 0n) throw new RangeError(`a quantity cannot be negative: ${quantity}`);
  if (price.tiers && price.tiers.length > 0) return graduated(price.tiers, quantity);
  if (price.unitAmount === null) throw new RangeError('a price needs a unit amount or tiers');
  return quantity * minorUnits(price.unitAmount);
}

function graduated(tiers: PriceTier[], quantity: bigint): bigint {
  checkTiers(tiers);
  let total = 0n;
  let below = 0n; // the units covered by the tiers before this one
  for (const [i, tier] of tiers.entries()) {
    // Tiers after the first start above the previous bound: a quantity that does not pass it never reaches them.
    if (i > 0 && quantity <= below) break;
    const upTo = tier.upTo === null ? null : BigInt(tier.upTo);
    const top = upTo === null || quantity < upTo ? quantity : upTo;
    total += (top - below) * minorUnits(tier.unitAmount) + minorUnits(tier.flatAmount);
    if (upTo === null) break;
    below = upTo;
  }
  return total;
}

/** Bounds are positive whole numbers that increase; the last tier, and only it, is open-ended. */
function checkTiers(tiers: PriceTier[]): void {
  let below = 0;
  for (const [i, tier] of tiers.entries()) {
    const last = i === tiers.length - 1;
    if ((tier.upTo === null) !== last) throw new RangeError('the last tier, and only it, has no upper bound');
    if (tier.upTo !== null) {
      if (!Number.isSafeInteger(tier.upTo) || tier.upTo <= below) throw new RangeError('tier bounds must increase');
      below = tier.upTo;
    }
  }
}

/**
 * `amount × numerator / denominator`, rounded half up (amounts are never negative): a price scaled to a span of
 * time measured against another (e.g. a monthly price for ten months of a yearly period).
 */
export function scaleAmount(amount: bigint, numerator: bigint, denominator: bigint): bigint {
  if (amount < 0n || numerator < 0n) throw new RangeError('cannot scale a negative amount');
  if (denominator <= 0n) throw new RangeError(`a period must have a positive length: ${denominator}`);
  // floor((amount·n + d/2) / d), written without halving d so that odd denominators round exactly.
  return (2n * amount * numerator + denominator) / (2n * denominator);
}

/**
 * The share of a period's `amount` for the `part` of the period it covers (e.g. milliseconds left of `whole`
 * milliseconds), rounded half up. `part` is clamped to [0, whole]: a share is never more than the whole amount.
 */
export function prorate(amount: bigint, part: bigint, whole: bigint): bigint {
  if (whole <= 0n) throw new RangeError(`a period must have a positive length: ${whole}`);
  return scaleAmount(amount, part < 0n ? 0n : part > whole ? whole : part, whole);
}

/** Sum of amounts given as digit strings. */
export function sumAmounts(amounts: Iterable<string>): bigint {
  let total = 0n;
  for (const a of amounts) total += minorUnits(a);
  return total;
}

/** The day count of a UTC month (`month` 0-based, may be out of range: it is normalised with the year). */
function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * `months` calendar months after `from` in UTC, at the same time of day; the day of month is clamped to the
 * target month's length (Jan 31 + 1 month = Feb 28 or 29).
 */
export function addMonthsUtc(from: Date, months: number): Date {
  const year = from.getUTCFullYear();
  const month = from.getUTCMonth() + months;
  const day = Math.min(from.getUTCDate(), daysInMonth(year, month));
  return new Date(
    Date.UTC(
      year,
      month,
      day,
      from.getUTCHours(),
      from.getUTCMinutes(),
      from.getUTCSeconds(),
      from.getUTCMilliseconds(),
    ),
  );
}

/**
 * The end of a billing period that starts at `from`: one calendar month or year later (UTC, day clamped), or,
 * when `periodSeconds` is set (BILLING_PERIOD_SECONDS, for demos and tests), exactly that many seconds later
 * whatever the interval.
 */
export function addInterval(from: Date, interval: BillingInterval, periodSeconds?: number | null): Date {
  if (periodSeconds) return new Date(from.getTime() + periodSeconds * 1000);
  return addMonthsUtc(from, interval === 'year' ? 12 : 1);
}

/** Milliseconds in [from, to) as a BigInt (for `prorate`). */
export function spanMs(from: Date, to: Date): bigint {
  return BigInt(to.getTime() - from.getTime());
}

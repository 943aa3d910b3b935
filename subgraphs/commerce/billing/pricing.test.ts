import type { PriceTier } from './billing.model';
import { addInterval, addMonthsUtc, amountFor, minorUnits, prorate, scaleAmount, spanMs, sumAmounts } from './pricing';

const unit = (unitAmount: string) => ({ unitAmount, tiers: null });
const tiered = (tiers: PriceTier[]) => ({ unitAmount: null, tiers });
const tier = (upTo: number | null, unitAmount: string, flatAmount = '0'): PriceTier => ({
  upTo,
  unitAmount,
  flatAmount,
});

describe('amountFor', () => {
  it('charges quantity × unit amount without tiers', () => {
    expect(amountFor(unit('1999'), 1n)).toBe(1999n);
    expect(amountFor(unit('500'), 7n)).toBe(3500n);
    expect(amountFor(unit('500'), 0n)).toBe(0n);
  });

  it('keeps exact values far beyond the range of a double', () => {
    expect(amountFor(unit('123456789012345678'), 1000n)).toBe(123456789012345678000n);
  });

  it('prices each unit in the tier it falls into (graduated)', () => {
    const price = tiered([tier(1000, '0'), tier(10000, '2'), tier(null, '1')]);
    expect(amountFor(price, 0n)).toBe(0n);
    expect(amountFor(price, 1000n)).toBe(0n);
    expect(amountFor(price, 1001n)).toBe(2n);
    expect(amountFor(price, 10000n)).toBe(9000n * 2n);
    expect(amountFor(price, 12345n)).toBe(9000n * 2n + 2345n);
  });

  it("adds a tier's flat amount once the quantity reaches that tier", () => {
    const price = tiered([tier(10, '100', '1000'), tier(null, '50', '300')]);
    expect(amountFor(price, 10n)).toBe(1000n + 1000n);
    expect(amountFor(price, 11n)).toBe(1000n + 1000n + 300n + 50n);
  });

  it("charges the first tier's flat amount at zero quantity (a base fee)", () => {
    const price = tiered([tier(5, '0', '2500'), tier(null, '300')]);
    expect(amountFor(price, 0n)).toBe(2500n);
    expect(amountFor(price, 5n)).toBe(2500n);
    expect(amountFor(price, 6n)).toBe(2800n);
  });

  it('refuses malformed prices and quantities', () => {
    expect(() => amountFor(unit('500'), -1n)).toThrow(RangeError);
    expect(() => amountFor(unit('5.00'), 1n)).toThrow(RangeError);
    expect(() => amountFor(unit('-5'), 1n)).toThrow(RangeError);
    expect(() => amountFor({ unitAmount: null, tiers: null }, 1n)).toThrow(RangeError);
    expect(() => amountFor(tiered([tier(10, '1'), tier(20, '1')]), 1n)).toThrow(/last tier/);
    expect(() => amountFor(tiered([tier(null, '1'), tier(null, '1')]), 1n)).toThrow(/last tier/);
    expect(() => amountFor(tiered([tier(10, '1'), tier(10, '1'), tier(null, '1')]), 1n)).toThrow(/increase/);
  });
});

describe('prorate', () => {
  it('takes the covered share of an amount', () => {
    expect(prorate(3000n, 10n, 30n)).toBe(1000n);
    expect(prorate(3000n, 30n, 30n)).toBe(3000n);
    expect(prorate(3000n, 0n, 30n)).toBe(0n);
  });

  it('rounds half up, exactly', () => {
    expect(prorate(1n, 1n, 2n)).toBe(1n); // 0.5 → 1
    expect(prorate(1n, 1n, 3n)).toBe(0n); // 0.333… → 0
    expect(prorate(2n, 1n, 3n)).toBe(1n); // 0.666… → 1
    expect(prorate(5n, 1n, 2n)).toBe(3n); // 2.5 → 3
    expect(prorate(1000n, 1n, 7n)).toBe(143n); // 142.857… → 143
    expect(prorate(999n, 1n, 8n)).toBe(125n); // 124.875 → 125
  });

  it('never gives more than the whole or less than nothing', () => {
    expect(prorate(1000n, 40n, 30n)).toBe(1000n);
    expect(prorate(1000n, -5n, 30n)).toBe(0n);
  });

  it('refuses an empty period and negative amounts', () => {
    expect(() => prorate(1000n, 1n, 0n)).toThrow(RangeError);
    expect(() => prorate(-1n, 1n, 2n)).toThrow(RangeError);
  });

  it('prorates over milliseconds of real dates', () => {
    const start = new Date('2025-02-01T00:00:00Z');
    const end = new Date('2025-03-01T00:00:00Z'); // 28 days
    const now = new Date('2025-02-15T00:00:00Z'); // 14 days left
    expect(prorate(2800n, spanMs(now, end), spanMs(start, end))).toBe(1400n);
  });
});

describe('scaleAmount', () => {
  it('scales beyond the whole (a shorter price over a longer span)', () => {
    expect(scaleAmount(1000n, 10n, 1n)).toBe(10000n);
    expect(scaleAmount(1000n, 3n, 2n)).toBe(1500n);
    expect(scaleAmount(1n, 3n, 2n)).toBe(2n); // 1.5 → 2
  });
});

describe('amounts as strings', () => {
  it('reads only digit strings', () => {
    expect(minorUnits('0')).toBe(0n);
    expect(minorUnits('12345678901234567890123456789')).toBe(12345678901234567890123456789n);
    for (const bad of ['', '01', '1e3', ' 1', '1.0', '-1']) expect(() => minorUnits(bad)).toThrow(RangeError);
  });

  it('sums them', () => {
    expect(sumAmounts(['1', '2', '3'])).toBe(6n);
    expect(sumAmounts([])).toBe(0n);
  });
});

describe('billing periods', () => {
  it('adds a calendar month in UTC at the same time of day', () => {
    expect(addMonthsUtc(new Date('2025-03-15T10:30:00.250Z'), 1).toISOString()).toBe('2025-04-15T10:30:00.250Z');
    expect(addMonthsUtc(new Date('2025-12-15T00:00:00Z'), 1).toISOString()).toBe('2026-01-15T00:00:00.000Z');
  });

  it('clamps the day to the length of the target month', () => {
    expect(addMonthsUtc(new Date('2025-01-31T12:00:00Z'), 1).toISOString()).toBe('2025-02-28T12:00:00.000Z');
    expect(addMonthsUtc(new Date('2024-01-31T12:00:00Z'), 1).toISOString()).toBe('2024-02-29T12:00:00.000Z');
    expect(addMonthsUtc(new Date('2025-03-31T00:00:00Z'), 1).toISOString()).toBe('2025-04-30T00:00:00.000Z');
  });

  it('adds a year, clamping 29 February', () => {
    expect(addInterval(new Date('2024-02-29T08:00:00Z'), 'year').toISOString()).toBe('2025-02-28T08:00:00.000Z');
    expect(addInterval(new Date('2025-06-01T00:00:00Z'), 'year').toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(addInterval(new Date('2025-06-01T00:00:00Z'), 'month').toISOString()).toBe('2025-07-01T00:00:00.000Z');
  });

  it('uses a fixed length in seconds when one is configured, whatever the interval', () => {
    const from = new Date('2025-01-31T00:00:00Z');
    expect(addInterval(from, 'month', 90).toISOString()).toBe('2025-01-31T00:01:30.000Z');
    expect(addInterval(from, 'year', 90).toISOString()).toBe('2025-01-31T00:01:30.000Z');
    expect(addInterval(from, 'month', null).toISOString()).toBe('2025-02-28T00:00:00.000Z');
  });
});

import Stripe from 'stripe';
import { withNoTenant } from '../../../../kernel/db/tenant-scope';
import { returningRows } from '../../../../kernel/db/values';
import type { HookRequest, HookResponse } from '../../../../kernel/http/hooks';
import { logger } from '../../../../kernel/log';
import type { SubgraphDeps } from '../../../../kernel/subgraph';
import type { BillingChanges } from '../billing.model';
import type { BillingState } from '../billing.service';
import type { StripeProvider } from './stripe.provider';

const log = logger('commerce.billing.stripe.webhooks');

/** How old a signature may be (seconds): Stripe signs every delivery attempt anew, so a retry is always fresh. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** How many of a customer's latest invoices a subscription event refreshes. */
const RECENT_INVOICES = 10;

const refusal = (status: number, code: string, message: string): HookResponse => ({
  status,
  body: { error: { code, message } },
});

/** The `t=` of a `stripe-signature` header (Unix seconds), or null. */
export function signatureTimestamp(header: string): number | null {
  for (const part of header.split(',')) {
    const [k, v] = part.split('=');
    if (k?.trim() === 't' && /^\d{1,12}$/.test(v?.trim() ?? '')) return Number(v.trim());
  }
  return null;
}

type Outcome = { ignored?: string };

/**
 * POST /hooks/commerce/stripe: Stripe's webhook events.
 *
 * - The signature (`stripe-signature`, the endpoint's secret) must be valid and at most 5 minutes old: a bad one is
 *   400 INVALID_SIGNATURE, a valid but old one 400 STALE_SIGNATURE.
 * - Replay vs redelivery, by event id and the signature's timestamp (`commerce.provider_events`): Stripe signs each
 *   delivery attempt anew, so a request whose event was already received with this timestamp (or a later one) is a
 *   copy of a request already seen: 400 REPLAYED, nothing done. A newer timestamp is Stripe delivering again: if the
 *   event was processed, 200 `{duplicate: true}`; if not (an earlier attempt failed), it is processed again.
 * - The event only says what to look at: the subscription, invoice, charge or dispute is read back from Stripe and
 *   that current state is applied, so late, reordered or repeated events all end in the same state.
 * - The tenant is the one the customer was created for (`BillingState.tenantOfCustomer`); other customers' events
 *   are acknowledged and ignored. A failure answers 500, so Stripe delivers the event again later.
 */
export function stripeWebhookHook(
  deps: SubgraphDeps,
  state: BillingState,
  provider: StripeProvider,
): (req: HookRequest) => Promise<HookResponse> {
  const secret = deps.config.billing.STRIPE_WEBHOOK_SECRET;

  const verify = (req: HookRequest, key: string): { event: Stripe.Event } | { refused: HookResponse } => {
    const header = req.headers['stripe-signature'];
    if (!header) return { refused: refusal(400, 'INVALID_SIGNATURE', 'The stripe-signature header is missing') };
    try {
      return { event: provider.stripe.webhooks.constructEvent(req.body, header, key, SIGNATURE_TOLERANCE_SECONDS) };
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeSignatureVerificationError)) {
        // Signed by Stripe, yet not JSON: nothing to do with it.
        log.warn({ err }, 'Stripe webhook body is not an event');
        return { refused: refusal(400, 'INVALID_PAYLOAD', 'The body is not a Stripe event') };
      }
    }
    // Tell an old but genuine signature from a wrong one: does it verify without the age check?
    try {
      provider.stripe.webhooks.constructEvent(req.body, header, key, 0);
      return { refused: refusal(400, 'STALE_SIGNATURE', 'The signature is too old') };
    } catch {
      return { refused: refusal(400, 'INVALID_SIGNATURE', 'The signature does not match') };
    }
  };

  /** Records the delivery; what to do with it: process it, or answer at once. */
  const admit = async (event: Stripe.Event, signedAt: number): Promise<'process' | HookResponse> => {
    const rows = await withNoTenant(deps.ds, async (em) =>
      returningRows<{ processed_at: Date | null }>(
        await em.query(
          `INSERT INTO commerce.provider_events (id, type, signed_at) VALUES ($1, $2, to_timestamp($3))
           ON CONFLICT (id) DO UPDATE SET signed_at = EXCLUDED.signed_at
            WHERE commerce.provider_events.signed_at < EXCLUDED.signed_at
           RETURNING processed_at`,
          [event.id, event.type, signedAt],
        ),
      ),
    );
    if (rows.length === 0) {
      log.warn({ eventId: event.id, type: event.type, signedAt }, 'Stripe webhook replayed: refused');
      return refusal(400, 'REPLAYED', 'This request was already received');
    }
    if (rows[0].processed_at) return { status: 200, body: { received: true, duplicate: true } };
    return 'process';
  };

  const processed = (eventId: string) =>
    withNoTenant(deps.ds, (em) =>
      em.query(`UPDATE commerce.provider_events SET processed_at = now() WHERE id = $1`, [eventId]),
    );

  /** The tenant of a Stripe customer, or why the event is not ours. */
  const tenantOf = async (customerId: string | null): Promise<string | Outcome> => {
    if (!customerId) return { ignored: 'no customer' };
    const tenantId = await state.tenantOfCustomer(customerId);
    return tenantId ?? { ignored: 'unknown customer' };
  };

  /** Applies a subscription's current state and its customer's latest invoices. */
  const refreshSubscription = async (subscriptionId: string, ended: boolean): Promise<Outcome> => {
    const sub = await provider.readSubscription(subscriptionId);
    if (!sub) return { ignored: 'no such subscription' };
    const tenant = await tenantOf(typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
    if (typeof tenant !== 'string') return tenant;
    if (sub.metadata?.tenantId && sub.metadata.tenantId !== tenant) {
      log.warn({ subscriptionId, tenantId: tenant }, 'Stripe subscription names another tenant: ignored');
      return { ignored: 'tenant mismatch' };
    }
    const subscription = provider.snapshot(sub, ended ? 'canceled' : undefined);
    const invoices = await provider.customerInvoices(subscription.customerId, RECENT_INVOICES);
    // Oldest first, so the latest state of dunning is what remains.
    await state.apply(tenant, { subscription, invoices: invoices.reverse() });
    return {};
  };

  /** The charge a refund event names (only which charge to read again: its state is read from Stripe). */
  const chargeOf = (refund: { id: string; charge?: unknown }): string | null =>
    typeof refund.charge === 'string' ? refund.charge : ((refund.charge as { id?: string } | null)?.id ?? null);

  const handlers: Partial<Record<string, (object: { id: string; charge?: unknown }) => Promise<Outcome>>> = {
    'checkout.session.completed': async ({ id }) => {
      const checkout = await provider.readCheckout(id);
      if (!checkout) return { ignored: 'not a subscription checkout' };
      return refreshSubscription(checkout.subscriptionId, false);
    },
    'customer.subscription.created': ({ id }) => refreshSubscription(id, false),
    'customer.subscription.updated': ({ id }) => refreshSubscription(id, false),
    'customer.subscription.deleted': ({ id }) => refreshSubscription(id, true),
    'invoice.finalized': ({ id }) => refreshInvoice(id),
    'invoice.paid': ({ id }) => refreshInvoice(id),
    'invoice.payment_failed': ({ id }) => refreshInvoice(id),
    'charge.refunded': ({ id }) => refreshRefunds(id),
    // A refund that was pending when the charge was refunded counts once it succeeds: its charge is read again.
    'charge.refund.updated': (refund) => refreshRefunds(chargeOf(refund)),
    'refund.updated': (refund) => refreshRefunds(chargeOf(refund)),
    'charge.dispute.created': ({ id }) => refreshDispute(id),
    'charge.dispute.closed': ({ id }) => refreshDispute(id),
  };

  /** Applies an invoice's current state, with its subscription's (an invoice event may come before the subscription's). */
  async function refreshInvoice(id: string): Promise<Outcome> {
    const read = await provider.readInvoice(id);
    if (!read) return { ignored: 'no such invoice' };
    const tenant = await tenantOf(read.customerId);
    if (typeof tenant !== 'string') return tenant;
    const changes: BillingChanges = { invoices: [read.invoice] };
    if (read.invoice.subscriptionId) {
      const sub = await provider.readSubscription(read.invoice.subscriptionId);
      if (sub) changes.subscription = provider.snapshot(sub);
    }
    await state.apply(tenant, changes);
    return {};
  }

  /** Applies the current state of every refund of a charge. */
  async function refreshRefunds(chargeId: string | null): Promise<Outcome> {
    if (!chargeId) return { ignored: 'no charge' };
    const charge = await provider.readRefunds(chargeId);
    if (!charge) return { ignored: 'no such charge' };
    const tenant = await tenantOf(charge.customerId);
    if (typeof tenant !== 'string') return tenant;
    for (const refund of charge.refunds) await state.adjustment(tenant, refund);
    return {};
  }

  async function refreshDispute(id: string): Promise<Outcome> {
    const read = await provider.readDispute(id);
    if (!read) return { ignored: 'no such dispute' };
    const tenant = await tenantOf(read.customerId);
    if (typeof tenant !== 'string') return tenant;
    await state.adjustment(tenant, read.dispute);
    return {};
  }

  return async (req) => {
    if (req.path !== 'stripe') return refusal(404, 'NOT_FOUND', 'No such hook');
    if (req.method !== 'POST') return refusal(405, 'METHOD_NOT_ALLOWED', 'POST only');
    if (!secret) return refusal(404, 'NOT_FOUND', 'Stripe webhooks are not configured');
    const verified = verify(req, secret);
    if ('refused' in verified) {
      log.warn({ code: (verified.refused.body as { error: { code: string } }).error.code }, 'Stripe webhook refused');
      return verified.refused;
    }
    const { event } = verified;
    const signedAt = signatureTimestamp(req.headers['stripe-signature']!)!;
    const handle = Object.hasOwn(handlers, event.type) ? handlers[event.type] : undefined;
    const admitted = await admit(event, signedAt);
    if (admitted !== 'process') return admitted;
    let outcome: Outcome;
    try {
      const object = event.data.object as { id?: unknown; charge?: unknown };
      outcome =
        handle && typeof object.id === 'string'
          ? await handle({ id: object.id, charge: object.charge })
          : { ignored: handle ? 'no object id' : 'event type not handled' };
    } catch (err) {
      log.error({ err, eventId: event.id, type: event.type }, 'Stripe webhook failed; Stripe will deliver it again');
      return refusal(500, 'PROCESSING_FAILED', 'The event could not be processed; deliver it again');
    }
    await processed(event.id);
    if (outcome.ignored) {
      log.info({ eventId: event.id, type: event.type, reason: outcome.ignored }, 'Stripe webhook ignored');
      return { status: 200, body: { received: true, ignored: true } };
    }
    log.info({ eventId: event.id, type: event.type }, 'Stripe webhook processed');
    return { status: 200, body: { received: true } };
  };
}

import { randomBytes, randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RequestContext } from '../../../kernel/context';
import { withSystem, withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid, returningRows } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import { logger } from '../../../kernel/log';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { DOMAINS_CHANGED_TOPIC } from '../../../kernel/contracts/topics';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { CHALLENGE_PREFIX, CHALLENGE_VALUE_PREFIX, Domain, DomainStatus } from './domain.entity';

const log = logger('tenancy.domains');
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** DNS answers that mean "the record is not there" (anything else is a lookup failure, retried later). */
const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** A domain as stored: lower case, no trailing dot; null when it cannot be a public host name. */
export function normaliseDomain(raw: unknown): string | null {
  const domain = (typeof raw === 'string' ? raw : '').trim().toLowerCase().replace(/\.$/, '');
  if (domain.length < 3 || domain.length > 253 || isIP(domain)) return null;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1)!)) return null;
  return domain;
}

type Lookup = { found: true } | { found: false; reason: string; transient: boolean };

/**
 * `{ tenantId, domain }`: the tenant holds a verified domain (again, at each successful recheck) / no longer does.
 * Identity learns from them which e-mail domains the tenant's identity providers may sign in.
 */
export const DOMAIN_VERIFIED_EVENT = 'tenancy.domain_verified';
export const DOMAIN_RELEASED_EVENT = 'tenancy.domain_released';

/**
 * Custom domains: added with a TXT challenge, verified by looking the record up (with the configured
 * resolvers), claimed by one tenant only, checked again periodically.
 */
export class DomainService {
  private readonly resolver: Resolver;

  constructor(private readonly deps: SubgraphDeps) {
    this.resolver = new Resolver({ timeout: 3000, tries: 2 });
    if (deps.config.domains.DNS_SERVERS.length) this.resolver.setServers(deps.config.domains.DNS_SERVERS);
  }

  list(ctx: RequestContext): Promise<Domain[]> {
    return withTenant(this.deps.ds, ctx, (em, tenantId) =>
      em.find(Domain, { where: { tenantId }, order: { createdAt: 'ASC' } }),
    );
  }

  async add(ctx: RequestContext, raw: string): Promise<Domain> {
    const domain = normaliseDomain(raw);
    if (!domain) throw tenancyError(TenancyErrorCode.INVALID_DOMAIN);
    return withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const [owner]: { owner: string | null }[] = await em.query(`SELECT tenancy.domain_owner($1) AS owner`, [domain]);
      if (owner?.owner && owner.owner !== tenantId) throw tenancyError(TenancyErrorCode.DOMAIN_TAKEN);
      const id = randomUUID();
      try {
        await em.insert(Domain, {
          tenantId,
          id,
          domain,
          token: randomBytes(16).toString('hex'),
          status: DomainStatus.PENDING,
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw tenancyError(TenancyErrorCode.DOMAIN_EXISTS);
        throw err;
      }
      return em.findOneByOrFail(Domain, { tenantId, id });
    });
  }

  /** Looks the TXT record up now; verified domains route this tenant (Host header, SSO by e-mail domain). */
  async verify(ctx: RequestContext, id: string): Promise<Domain> {
    const domain = await this.find(ctx, id);
    const lookup = await this.lookup(domain);
    const outcome = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      if (!lookup.found) {
        await em.update(Domain, { tenantId, id: domain.id }, { lastCheckedAt: new Date(), lastError: lookup.reason });
        return {
          error: tenancyError(
            TenancyErrorCode.DOMAIN_VERIFICATION_FAILED,
            `${lookup.reason}: expected a TXT record ${domain.txtRecordName} = "${domain.txtRecordValue}"`,
          ),
        };
      }
      const [claim]: { owner: string }[] = await em.query(`SELECT tenancy.claim_domain($1, $2) AS owner`, [
        domain.domain,
        tenantId,
      ]);
      if (claim.owner !== tenantId) {
        await em.update(
          Domain,
          { tenantId, id: domain.id },
          { lastCheckedAt: new Date(), lastError: 'verified by another tenant' },
        );
        return { error: tenancyError(TenancyErrorCode.DOMAIN_TAKEN) };
      }
      await em.update(
        Domain,
        { tenantId, id: domain.id },
        { status: DomainStatus.VERIFIED, verifiedAt: new Date(), lastCheckedAt: new Date(), lastError: null },
      );
      const event = await recordEvent(em, 'tenancy', {
        type: DOMAIN_VERIFIED_EVENT,
        tenantId,
        payload: { tenantId, domain: domain.domain },
      });
      return { domain: await em.findOneByOrFail(Domain, { tenantId, id: domain.id }), event };
    });
    if (outcome.error) throw outcome.error;
    // Identity knows the domain is the tenant's by the time this answers.
    await this.deps.outbox.deliverNow([outcome.event!]);
    await this.deps.pubsub.publish(DOMAINS_CHANGED_TOPIC, { domain: domain.domain });
    return outcome.domain!;
  }

  async remove(ctx: RequestContext, id: string): Promise<boolean> {
    const domain = await this.find(ctx, id);
    const event = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      await em.delete(Domain, { tenantId, id: domain.id });
      if (domain.status !== DomainStatus.VERIFIED) return null;
      await em.query(`SELECT tenancy.release_domain($1, $2)`, [domain.domain, tenantId]);
      return recordEvent(em, 'tenancy', {
        type: DOMAIN_RELEASED_EVENT,
        tenantId,
        payload: { tenantId, domain: domain.domain },
      });
    });
    if (event) await this.deps.outbox.deliverNow([event]);
    await this.deps.pubsub.publish(DOMAINS_CHANGED_TOPIC, { domain: domain.domain });
    return true;
  }

  /** For the gateway: the tenant a host name belongs to (a verified domain of an active tenant), or null. */
  async ownerOf(host: string): Promise<{ tenantId: string } | null> {
    const domain = normaliseDomain(host);
    if (!domain) return null;
    const rows: { owner: string | null }[] = await withSystem(
      this.deps.ds,
      'domain owner',
      (em) => em.query(`SELECT tenancy.domain_owner($1) AS owner`, [domain]),
      'debug',
    );
    return rows[0]?.owner ? { tenantId: rows[0].owner } : null;
  }

  /**
   * Checks verified domains whose last check is older than DOMAIN_RECHECK_SECONDS (several instances
   * share the work: each row is claimed once). A missing record unverifies the domain and releases it;
   * a failed lookup only notes the error.
   */
  async recheckDue(limit = 50): Promise<number> {
    const due: { tenant_id: string; id: string; domain: string; token: string }[] = await withSystem(
      this.deps.ds,
      'recheck domains',
      (em) =>
        em
          .query(
            `UPDATE tenancy.domains d SET last_checked_at = now()
             FROM (SELECT tenant_id, id FROM tenancy.domains
                    WHERE status = 'verified' AND (last_checked_at IS NULL OR last_checked_at < now() - make_interval(secs => $1))
                    ORDER BY last_checked_at NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED) due
            WHERE d.tenant_id = due.tenant_id AND d.id = due.id
            RETURNING d.tenant_id, d.id, d.domain, d.token`,
            [this.deps.config.domains.DOMAIN_RECHECK_SECONDS, limit],
          )
          .then((r: unknown) => returningRows<{ tenant_id: string; id: string; domain: string; token: string }>(r)),
      'debug',
    );
    for (const row of due) {
      const domain = Object.assign(new Domain(), {
        tenantId: row.tenant_id,
        id: row.id,
        domain: row.domain,
        token: row.token,
      });
      const lookup = await this.lookup(domain);
      const payload = { tenantId: row.tenant_id, domain: row.domain };
      if (lookup.found) {
        // Said again, so every subgraph that listens learns the domains verified before it did.
        await withSystem(
          this.deps.ds,
          'recheck domains',
          (em) => recordEvent(em, 'tenancy', { type: DOMAIN_VERIFIED_EVENT, tenantId: row.tenant_id, payload }),
          'debug',
        );
        continue;
      }
      await withSystem(this.deps.ds, 'recheck domains', async (em) => {
        if (lookup.transient) {
          await em.update(Domain, { tenantId: row.tenant_id, id: row.id }, { lastError: lookup.reason });
          return;
        }
        await em.update(
          Domain,
          { tenantId: row.tenant_id, id: row.id },
          { status: DomainStatus.FAILED, lastError: lookup.reason },
        );
        await em.query(`SELECT tenancy.release_domain($1, $2)`, [row.domain, row.tenant_id]);
        await recordEvent(em, 'tenancy', { type: DOMAIN_RELEASED_EVENT, tenantId: row.tenant_id, payload });
      });
      if (!lookup.transient) {
        log.warn({ tenantId: row.tenant_id, domain: row.domain, reason: lookup.reason }, 'domain no longer verified');
        await this.deps.pubsub.publish(DOMAINS_CHANGED_TOPIC, { domain: row.domain });
      }
    }
    return due.length;
  }

  private async find(ctx: RequestContext, id: string): Promise<Domain> {
    const domain = isUuid(id)
      ? await withTenant(this.deps.ds, ctx, (em, tenantId) => em.findOneBy(Domain, { tenantId, id }))
      : null;
    if (!domain) throw tenancyError(TenancyErrorCode.DOMAIN_NOT_FOUND);
    return domain;
  }

  private async lookup(domain: Domain): Promise<Lookup> {
    try {
      const records = await this.resolver.resolveTxt(`${CHALLENGE_PREFIX}.${domain.domain}`);
      const expected = `${CHALLENGE_VALUE_PREFIX}${domain.token}`;
      if (records.some((chunks) => chunks.join('') === expected)) return { found: true };
      return { found: false, reason: 'TXT record does not hold the expected value', transient: false };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERROR';
      return ABSENT.has(code)
        ? { found: false, reason: 'TXT record not found', transient: false }
        : { found: false, reason: `DNS lookup failed (${code})`, transient: true };
    }
  }
}

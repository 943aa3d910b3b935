import type { RequestContext } from '../../../kernel/context';
import { withNoTenant, withTenant } from '../../../kernel/db/tenant-scope';
import { isUuid } from '../../../kernel/db/values';
import { recordEvent } from '../../../kernel/events';
import type { SubgraphDeps } from '../../../kernel/subgraph';
import { TEXT_LIMITS, cleanName } from '../../../kernel/text';
import { TenancyErrorCode, tenancyError } from '../tenancy.errors';
import { Branding, type TenantBranding, type UpdateBrandingInput } from './branding.entity';

const COLOR = /^#[0-9a-f]{6}$/;

/** Optional name: omitted keeps, null clears, otherwise cleaned (no control or bidirectional formatting characters) and checked. */
function text(value: string | null | undefined, current: string | null, max: number, field: string): string | null {
  if (value === undefined) return current;
  if (value === null) return null;
  // No line breaks or angle brackets: a sender name ends up in a mail header (a line break is refused, not removed).
  const t = /[\r\n]/.test(value) ? '' : cleanName(value);
  if (t.length < 1 || t.length > max || /[<>"]/.test(t))
    throw tenancyError(
      TenancyErrorCode.INVALID_BRANDING,
      `${field} must be 1 to ${max} characters, without line breaks, quotes or angle brackets`,
    );
  return t;
}

function color(value: string | null | undefined, current: string | null, field: string): string | null {
  if (value === undefined) return current;
  if (value === null) return null;
  const c = value.trim().toLowerCase();
  if (!COLOR.test(c)) throw tenancyError(TenancyErrorCode.INVALID_BRANDING, `${field} must be a #rrggbb colour`);
  return c;
}

function logo(value: string | null | undefined, current: string | null): string | null {
  if (value === undefined) return current;
  if (value === null) return null;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw tenancyError(TenancyErrorCode.INVALID_BRANDING, 'logoUrl must be an https URL');
  }
  if (url.protocol !== 'https:' || url.href.length > 2048)
    throw tenancyError(TenancyErrorCode.INVALID_BRANDING, 'logoUrl must be an https URL');
  return url.href;
}

/** White-label branding: set by tenant admins, read by anyone (a login page renders before sign-in). */
export class BrandingService {
  constructor(private readonly deps: SubgraphDeps) {}

  /** By tenant id (e.g. resolved from the Host header) or slug; null for unknown or inactive tenants. */
  async publicBranding(by: { tenantId?: string | null; slug?: string | null }): Promise<TenantBranding | null> {
    const tenantId = by.tenantId && isUuid(by.tenantId) ? by.tenantId : null;
    const slug = typeof by.slug === 'string' ? by.slug.trim().toLowerCase() : null;
    if (!tenantId && !slug) return null;
    const rows: Record<string, string | null>[] = await withNoTenant(this.deps.ds, (em) =>
      em.query(`SELECT * FROM tenancy.public_branding($1, $2)`, [tenantId, slug]),
    );
    const r = rows[0];
    if (!r) return null;
    return {
      name: r.name!,
      slug: r.slug!,
      displayName: r.display_name ?? r.name!,
      logoUrl: r.logo_url,
      primaryColor: r.primary_color,
      accentColor: r.accent_color,
      emailSenderName: r.email_sender_name,
    };
  }

  async update(ctx: RequestContext, input: UpdateBrandingInput): Promise<TenantBranding> {
    const event = await withTenant(this.deps.ds, ctx, async (em, tenantId) => {
      const current =
        (await em.findOneBy(Branding, { tenantId })) ??
        Object.assign(new Branding(), {
          tenantId,
          displayName: null,
          logoUrl: null,
          primaryColor: null,
          accentColor: null,
          emailSenderName: null,
        });
      const next = {
        tenantId,
        displayName: text(input.displayName, current.displayName, TEXT_LIMITS.brandName, 'displayName'),
        logoUrl: logo(input.logoUrl, current.logoUrl),
        primaryColor: color(input.primaryColor, current.primaryColor, 'primaryColor'),
        accentColor: color(input.accentColor, current.accentColor, 'accentColor'),
        emailSenderName: text(input.emailSenderName, current.emailSenderName, TEXT_LIMITS.brandName, 'emailSenderName'),
      };
      await em.upsert(Branding, next, ['tenantId']);
      return recordEvent(em, 'tenancy', {
        type: 'tenancy.branding_changed',
        tenantId,
        payload: { tenantId, displayName: next.displayName, emailSenderName: next.emailSenderName },
      });
    });
    // Identity's mails for this tenant use the new names from now on.
    await this.deps.outbox.deliverNow([event]);
    return (await this.publicBranding({ tenantId: ctx.tenantId }))!;
  }
}

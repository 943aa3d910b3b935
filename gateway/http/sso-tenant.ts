import type express from 'express';
import type { HostTenantResolver } from '../host-tenant';

/**
 * The tenant a single sign-on started without naming one is for: the tenant that verified the domain of the
 * e-mail address given, else the custom domain asked.
 */
export function ssoTenantHint(hosts: HostTenantResolver): (req: express.Request) => Promise<{ tenant: string } | null> {
  return async (req) => {
    if (typeof req.query.tenant === 'string' && req.query.tenant) return null;
    const email = typeof req.query.email === 'string' ? req.query.email.trim().toLowerCase() : '';
    const domain = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : '';
    const tenant = (domain ? await hosts.tenantFor(domain) : null) ?? (await hosts.tenantFor(req.hostname));
    return tenant ? { tenant } : null;
  };
}

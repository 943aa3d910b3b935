/**
 * Database role names, in one module that imports nothing (bootstrap creates the roles; the tenant scope, RLS grants
 * and schema set-up name them).
 */

/** The runtime role every tenant-scoped transaction switches to (SET LOCAL ROLE): NOLOGIN, no BYPASSRLS, owns nothing. */
export const APP_ROLE = 'nexus_app';

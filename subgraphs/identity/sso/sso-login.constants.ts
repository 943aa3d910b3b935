/** How long a sign-in may stay in flight (from start to the provider's answer). */
export const REQUEST_TTL_MS = 10 * 60_000;
/** How long the one-time code a finished sign-in redirects with stays valid. */
export const CODE_TTL_SECONDS = 60;
/** How far the IdP's clock may be from ours. */
export const CLOCK_SKEW_MS = 60_000;
/** How long an OpenID Provider's discovery document is kept. */
export const DISCOVERY_TTL_MS = 10 * 60_000;
/** The cookie that binds a sign-in to the browser that started it. */
export const BROWSER_COOKIE = 'nexus_sso';

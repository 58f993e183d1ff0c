/**
 * The session cookie of cookie mode (`SESSION_COOKIE=on`): the backend-for-frontend pattern of
 * the IETF draft "OAuth 2.0 for Browser-Based Applications", where the browser app never holds
 * the session token at all.
 */

/**
 * `__Host-` makes browsers refuse the cookie unless it is `Secure`, has `Path=/` and no
 * `Domain`: no sibling subdomain can set or shadow it.
 */
export const SESSION_COOKIE_NAME = "__Host-session";

/**
 * HttpOnly: page scripts (and so any injected script) cannot read it. Secure: sent over HTTPS
 * only (browsers treat loopback as secure too). SameSite=Strict: another site's page cannot
 * make the browser send it, whatever request it forges.
 */
const ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict";

/** A `Set-Cookie` value carrying a session token for `maxAgeMs` (rounded down to whole seconds, never past the session's end). */
export function sessionCookieHeader(token: string, maxAgeMs: number): string {
  return `${SESSION_COOKIE_NAME}=${token}; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}; ${ATTRIBUTES}`;
}

/** A `Set-Cookie` value that makes the browser drop the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE_NAME}=; Max-Age=0; ${ATTRIBUTES}`;
}

/**
 * The session token in a `Cookie` header, if any. Should several cookies of that name arrive
 * (a browser may send one per path), the first is taken: RFC 6265 orders longer paths first, and
 * `__Host-` pins ours to `/`, so any other one would be stale anyway.
 */
export function sessionCookieToken(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const pair of cookieHeader.split(";")) {
    const at = pair.indexOf("=");
    if (at !== -1 && pair.slice(0, at).trim() === SESSION_COOKIE_NAME) {
      const value = pair.slice(at + 1).trim();
      return value === "" ? undefined : value;
    }
  }
  return undefined;
}

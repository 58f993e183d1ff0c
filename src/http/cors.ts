import type { IncomingMessage, ServerResponse } from "node:http";

/** Headers a listed origin's page may send: JSON, a bearer token, Apollo's CSRF headers, a request id. */
const ALLOWED_HEADERS = "content-type, authorization, apollo-require-preflight, x-apollo-operation-name, x-request-id";
/** How long a browser may reuse a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Cross-origin access to `/graphql`, for the exact origins of `CORS_ORIGINS` only, always with
 * credentials (there is no wildcard: config refuses `*`). Pages of any other origin get no CORS
 * header at all, so their browser neither sends a preflighted request nor lets them read an
 * answer. Returns true when it has answered the request itself (a preflight).
 */
export function corsPolicy(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  const listed = new Set(origins);
  return (req, res, path) => {
    // Answers differ by Origin, so no cache may serve one origin's answer to another.
    res.setHeader("vary", "Origin");
    if (path !== "/graphql") return false;
    const origin = req.headers.origin;
    const allowed = origin !== undefined && listed.has(origin);
    if (allowed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-allow-credentials", "true");
      res.setHeader("access-control-expose-headers", "x-request-id");
    }
    if (req.method !== "OPTIONS") return false;
    if (allowed) {
      res.setHeader("access-control-allow-methods", "GET, POST");
      res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
      res.setHeader("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    // An unlisted origin's preflight gets a refusal without CORS headers: its browser stops there.
    res.writeHead(allowed ? 204 : 403, { "cache-control": "no-store" });
    res.end();
    return true;
  };
}

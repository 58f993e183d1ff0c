/**
 * The app's one way to the gateway: POST /graphql on its own origin with a typed document.
 * In cookie mode the browser attaches the HttpOnly session cookie and this code never sees a
 * token; against a gateway in bearer mode the token is kept in memory only (never in storage,
 * where any script of the origin could read it) and is gone when the page is.
 */
import type { TypedDocumentString } from "./graphql.js";

let bearer: string | null = null;

/** A GraphQL error as the gateway reports it: its message and its contract code. */
export class GatewayRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export async function execute<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables): Promise<TResult> {
  const response = await fetch("/graphql", {
    method: "POST",
    // A JSON body is not a "simple" request: it satisfies Apollo's CSRF prevention, and a
    // page of another origin could only send it after a CORS preflight the gateway refuses.
    headers: { "content-type": "application/json", ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }) },
    credentials: "same-origin",
    body: JSON.stringify({ query: String(document), variables }),
  });
  const body = (await response.json()) as { data?: TResult | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  const [error] = body.errors ?? [];
  if (error !== undefined) throw new GatewayRequestError(error.message, error.extensions?.code ?? "UNKNOWN");
  if (body.data === undefined || body.data === null)
    throw new GatewayRequestError(`The gateway answered ${response.status} without data.`, "UNKNOWN");
  return body.data;
}

/** After a sign-in or role change: the payload's token (bearer mode), or null when the cookie holds it. */
export function holdToken(token: string | null): void {
  bearer = token;
}

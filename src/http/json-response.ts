import type { ServerResponse } from "node:http";

/** Answers `body` as JSON; never cached (every answer of this gateway is about its state now). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/**
 * A refusal outside GraphQL execution, shaped as a GraphQL error so clients read its code as
 * any other: one of the public codes, or Apollo's BAD_REQUEST for a request that is not GraphQL.
 */
export function sendGraphqlError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });
}

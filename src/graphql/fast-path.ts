import type { GraphQLSchema } from "graphql";
import { maskError } from "../errors/mask.js";
import type { GatewayContext } from "../graph/context.js";
import { recordErrors, recordOperation } from "../observability/outcome.js";
import { runCompiled } from "./compiled-executor.js";
import type { KnownOperations } from "./known-operations.js";

/** An answer the fast path gave, to be written as it is. */
export interface FastAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** A GraphQL request as the HTTP front received it: method and headers as sent, the body as parsed JSON (undefined for any other body). */
interface FastRequest {
  method: string | undefined;
  contentType: string | undefined;
  accept: string | undefined;
  body: unknown;
}

/** The `accept` values answered here, and the content type Apollo chooses for each (ApolloServer's content negotiation). */
const CONTENT_TYPES = new Map<string | undefined, string>([
  [undefined, "application/json; charset=utf-8"],
  ["", "application/json; charset=utf-8"],
  ["*/*", "application/json; charset=utf-8"],
  ["application/json", "application/json; charset=utf-8"],
  ["application/graphql-response+json", "application/graphql-response+json; charset=utf-8"],
]);

/** The JSON content types a request body is read from (src/http/server.ts parses no other). */
const JSON_BODY = /^application\/(graphql-response\+)?json\b/i;

const BODY_FIELDS = new Set(["query", "operationName", "variables"]);

/**
 * Runs a query Apollo has already parsed, validated and run once (KnownOperations) without going
 * through Apollo's request pipeline again: that pipeline, on this machine, allows no more than
 * about a fifth of what bare node:http serves even for a hello world (`npm run bench`), which
 * is below the gateway's target for a warm `me` (measured with and without it: docs/performance.md).
 *
 * A proven subset or nothing: a request it is not sure of (not a JSON POST of query,
 * operationName and variables; an `accept` other than the common ones; a query not yet known;
 * variables that do not coerce) gets undefined, and goes to Apollo. What it answers, it answers
 * with the code Apollo's path runs: the same compiled operation through the same `runCompiled`
 * (variable coercion included), the outcome recorded by the same functions as Apollo's outcome
 * plugin (src/observability/outcome.ts), errors masked by the same `maskError`; and Apollo's
 * body (errors then data, a final line break), content type and status.
 * test/graphql/fast-path.test.ts sends every operation of test/operations and web/operations,
 * and their error cases, both ways and compares the bytes. No Apollo plugin runs here: the
 * only one with request hooks is the outcome plugin, whose work is done above (the same test
 * fails when another is added). Mutations never come here (KnownOperations).
 */
export class FastPath {
  readonly #known: KnownOperations;
  readonly #schema: GraphQLSchema;

  constructor(known: KnownOperations, schema: GraphQLSchema) {
    this.#known = known;
    this.#schema = schema;
  }

  async answer(request: FastRequest, context: GatewayContext): Promise<FastAnswer | undefined> {
    // CSRF: Apollo refuses (csrfPrevention, src/graphql/apollo.ts) a GET or POST a browser sends
    // without a preflight: one with no content type or a text/plain, form or multipart body, and
    // no preflight header. This path runs none of Apollo's checks, so it takes only a POST whose
    // body is JSON (application/json or application/graphql-response+json): a browser preflights
    // that content type, and Apollo's check accepts every such request. Anything else, a GET
    // included, goes to Apollo and its check (test/graphql/fast-path.test.ts sends both).
    if (request.method !== "POST" || !JSON_BODY.test(request.contentType ?? "")) return undefined;
    const contentType = CONTENT_TYPES.get(request.accept?.trim());
    const { body } = request;
    if (contentType === undefined || typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const fields = body as Record<string, unknown>;
    for (const field in fields) if (!BODY_FIELDS.has(field)) return undefined;
    const { query, operationName, variables } = fields;
    if (typeof query !== "string" || (operationName !== undefined && operationName !== null && typeof operationName !== "string")) return undefined;
    if (variables !== undefined && variables !== null && (typeof variables !== "object" || Array.isArray(variables))) return undefined;
    const known = this.#known.get(query, operationName ?? undefined);
    if (known === undefined) return undefined;

    const run = await runCompiled(this.#schema, known, context, (variables ?? {}) as Record<string, unknown>);
    // Apollo words (and codes) refused variables with a 400; nothing has run yet, so it may as well answer.
    if ("refused" in run) return undefined;
    recordOperation(context, operationName ?? undefined, known.operation, known.document);
    const { result } = run;
    if (result.errors !== undefined && result.errors.length > 0) recordErrors(context, result.errors);
    const formatted = result.errors?.map((error) => {
      // As Apollo hands errors to formatError: its own JSON form, a code always present.
      const json = error.toJSON();
      return maskError({ ...json, extensions: { ...json.extensions, code: error.extensions.code ?? "INTERNAL_SERVER_ERROR" } }, error);
    });
    return { status: 200, contentType, body: `${JSON.stringify({ errors: formatted, data: result.data })}\n` };
  }
}

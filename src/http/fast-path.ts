import { getVariableValues, type GraphQLSchema } from "graphql";
import type { GatewayContext } from "../graph/context.js";
import { maskError, recordErrors, rootFields } from "./apollo.js";
import { asGraphQLError } from "./compiled-executor.js";
import type { KnownOperation, KnownOperations } from "./known-operations.js";

/** An answer the fast path gave, to be written as it is. */
export interface FastAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** The `accept` values answered here, and the content type Apollo chooses for each (ApolloServer's content negotiation). */
const CONTENT_TYPES = new Map<string | undefined, string>([
  [undefined, "application/json; charset=utf-8"],
  ["", "application/json; charset=utf-8"],
  ["*/*", "application/json; charset=utf-8"],
  ["application/json", "application/json; charset=utf-8"],
  ["application/graphql-response+json", "application/graphql-response+json; charset=utf-8"],
]);

const BODY_FIELDS = new Set(["query", "operationName", "variables"]);

/**
 * Runs a query Apollo has already parsed, validated and run once (KnownOperations) without going
 * through Apollo's request pipeline again: that pipeline, on this machine, allows no more than
 * about a fifth of what bare node:http serves even for a hello world (`npm run bench`), which
 * is below the gateway's target for a warm `me`.
 *
 * It answers exactly as Apollo would, or not at all: a request it is not sure of (not a plain
 * POST body of query, operationName and variables; an `accept` other than the common ones; a
 * query not yet known; variables that do not coerce) gets undefined, and goes to Apollo. What it
 * answers has Apollo's body (errors then data, a final line break), content type and status, and
 * records the operation, its outcome codes and its log lines with the functions Apollo's outcome
 * plugin uses, errors masked by the same `maskError`. Mutations never come here (KnownOperations).
 */
export class FastPath {
  readonly #known: KnownOperations;
  readonly #schema: GraphQLSchema;
  readonly #rootFields = new WeakMap<KnownOperation, string>();

  constructor(known: KnownOperations, schema: GraphQLSchema) {
    this.#known = known;
    this.#schema = schema;
  }

  async answer(body: unknown, accept: string | undefined, context: GatewayContext): Promise<FastAnswer | undefined> {
    const contentType = CONTENT_TYPES.get(accept?.trim());
    if (contentType === undefined || typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const request = body as Record<string, unknown>;
    for (const field in request) if (!BODY_FIELDS.has(field)) return undefined;
    const { query, operationName, variables } = request;
    if (typeof query !== "string" || (operationName !== undefined && operationName !== null && typeof operationName !== "string")) return undefined;
    if (variables !== undefined && variables !== null && (typeof variables !== "object" || Array.isArray(variables))) return undefined;
    const known = this.#known.get(query, operationName ?? undefined);
    if (known === undefined) return undefined;
    const inputs = (variables ?? {}) as Record<string, unknown>;
    if (known.operation.variableDefinitions !== undefined && known.operation.variableDefinitions.length > 0) {
      // Apollo words (and codes) refused variables; nothing has run yet, so it may as well answer.
      if (getVariableValues(this.#schema, known.operation.variableDefinitions, inputs).errors !== undefined) return undefined;
    }

    let fields = this.#rootFields.get(known);
    if (fields === undefined) this.#rootFields.set(known, (fields = rootFields(known.operation, known.document)));
    context.outcome.operation = operationName ?? known.operation.name?.value ?? null;
    context.outcome.rootFields = fields;

    const result = await known.compiled.query(undefined, context, inputs);
    const errors = result.errors?.map(asGraphQLError);
    if (errors !== undefined && errors.length > 0) recordErrors(context, errors);
    const formatted = errors?.map((error) => {
      // As Apollo hands errors to formatError: its own JSON form, a code always present.
      const json = error.toJSON();
      return maskError({ ...json, extensions: { ...json.extensions, code: error.extensions.code ?? "INTERNAL_SERVER_ERROR" } }, error);
    });
    return { status: 200, contentType, body: `${JSON.stringify({ errors: formatted, data: result.data })}\n` };
  }
}

import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, Kind, type ASTNode, type GraphQLFormattedError } from "graphql";
import { ErrorCode } from "./error-codes.js";
import { toPublicError } from "./gateway-error.js";

/** Apollo's own codes for requests that never reached a resolver; they pass as they are (docs/errors.md lists them, test/docs/errors.test.ts holds the two together). */
export const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  ErrorCode.BAD_USER_INPUT,
]);

/**
 * What a client over any of the document limits (src/graphql/limits.ts) is told, the token limit
 * included: no limit is named, so whoever probes for the edges has nothing to tune against.
 */
export const TOO_COMPLEX = "The operation is too complex.";

const VALUE_KINDS = new Set<string>([
  Kind.OBJECT,
  Kind.OBJECT_FIELD,
  Kind.STRING,
  Kind.INT,
  Kind.FLOAT,
  Kind.BOOLEAN,
  Kind.NULL,
  Kind.ENUM,
  Kind.LIST,
  Kind.ARGUMENT,
]);

/** Apollo's words (and only error without a code) for an automatic persisted query whose sha256Hash is not its text's. */
const APQ_HASH_MISMATCH = "provided sha does not match query";

/** Apollo's refusal of introspection in production tells how to turn it on; the gateway's says what it is. */
const INTROSPECTION_REFUSED = "Introspection is turned off in production. The schema is published with the gateway (schema/schema.graphql).";

/**
 * The one place that decides what a client sees of an error (Apollo's `formatError`): the
 * contract's codes with messages written for it, Apollo's request errors without echoed values
 * (a document over the token limit as the generic complexity refusal), and for anything else a
 * generic INTERNAL_SERVER_ERROR.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const { code, message, extensions, hideLocations } = publicView(error, formatted.message, formatted.extensions?.code);
  return { message, locations: hideLocations ? undefined : formatted.locations, path: formatted.path, extensions: { ...extensions, code } };
}

/**
 * What an error is, in the contract's words; `unexpected` ones are logged in full (by the
 * outcome recording, src/observability/outcome.ts) and answered generically.
 */
export function publicView(
  error: unknown,
  message: string,
  requestCode: unknown,
): { code: string; message: string; extensions: Record<string, unknown>; unexpected: boolean; hideLocations?: boolean } {
  const known = toPublicError(unwrapResolverError(error));
  if (known !== undefined) return { ...known, unexpected: false };
  if (requestCode === "GRAPHQL_PARSE_FAILED" && TOKEN_LIMIT.test(message)) {
    // A document over the token limit is refused like one over the other limits (src/graphql/limits.ts),
    // with the same words and code: the limit is not for clients to read, nor to work out from
    // the location where the parser stopped.
    return { code: "GRAPHQL_VALIDATION_FAILED", message: TOO_COMPLEX, extensions: {}, unexpected: false, hideLocations: true };
  }
  if (requestCode === "GRAPHQL_VALIDATION_FAILED" && error instanceof GraphQLError && error.extensions.validationErrorCode === "INTROSPECTION_DISABLED") {
    return { code: requestCode, message: INTROSPECTION_REFUSED, extensions: {}, unexpected: false };
  }
  if (error instanceof GraphQLError && error.message === APQ_HASH_MISMATCH) {
    // Apollo refuses it with 400 but no code, which would read as the gateway's own failure.
    return { code: "BAD_REQUEST", message: "The persisted query's hash does not match its text.", extensions: {}, unexpected: false };
  }
  if (typeof requestCode === "string" && REQUEST_ERROR_CODES.has(requestCode)) {
    // An argument literal of the wrong shape or with unknown fields is bad input in the
    // contract's words, though GraphQL finds it while validating the document.
    const badArgument = requestCode === "GRAPHQL_VALIDATION_FAILED" && error instanceof GraphQLError && (error.nodes ?? []).some(isValueNode);
    return { code: badArgument ? ErrorCode.BAD_USER_INPUT : requestCode, message: withoutEchoedValues(message), extensions: {}, unexpected: false };
  }
  return { code: ErrorCode.INTERNAL_SERVER_ERROR, message: "Internal server error.", extensions: {}, unexpected: true };
}

/** graphql-js's parser error for a document over `maxTokens` (16.x spells it "more that"; "than" may follow). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] \d+ tokens\b/;

function isValueNode(node: ASTNode): boolean {
  return VALUE_KINDS.has(node.kind);
}

/**
 * graphql-js quotes the offending value in coercion messages (`got invalid value "hunter2"`,
 * `found 123`, `non string value: 123`) and the offending token in syntax errors (`Unexpected
 * String "hunter2"`, from a client that pasted a password into the document unescaped). Those
 * values can be passwords or tokens.
 */
function withoutEchoedValues(message: string): string {
  if (!message.startsWith("Variable \"$")) {
    return message
      .replace(/, found [\s\S]*$/, ".")
      .replace(/(cannot represent a non[- ][\w ]+value): [\s\S]*$/, "$1.")
      .replace(/^(Syntax Error: Unexpected (?:Name|String|BlockString|Int|Float)) [\s\S]*$/, "$1.");
  }
  // [\s\S], not ".": an echoed value or key can hold a line break, U+2028 or U+2029.
  const variable = /^(Variable "\$[^"]+") got invalid value [\s\S]*?(?: at "([^"]+)")?; ([\s\S]*)$/.exec(message);
  if (variable === null) {
    // A message about a variable that does not read as expected may still quote its value.
    return /^Variable "\$[^"]+" of (required |non-null )?type "[^"]+" (was not provided|must not be null)\.$/.test(message)
      ? message
      : `${/^Variable "\$[^"]+"/.exec(message)![0]} has an invalid value.`;
  }
  const [, subject, at, reason] = variable;
  const safeReason = /^(Field "[^"]+" is not defined by type "[^"]+"|Field "[^"]+" of required type "[^"]+" was not provided|Expected non-nullable type "[^"]+" not to be null)\.?/.exec(reason ?? "");
  return `${subject} got an invalid value${at === undefined ? "" : ` at "${at}"`}${safeReason === null ? "." : `; ${safeReason[0].replace(/\.?$/, ".")}`}`;
}

import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import {
  GraphQLError,
  Kind,
  type ASTNode,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { BackendError, StoreError } from "../errors/backend-error.js";
import { ErrorCode } from "../errors/error-codes.js";
import { toPublicError } from "../errors/gateway-error.js";
import type { GatewayContext } from "../graph/context.js";
import { compiledExecutor } from "./compiled-executor.js";
import type { KnownOperations } from "./known-operations.js";
import { MAX_TOKENS, TOO_COMPLEX, complexityLimitRule, oneSensitiveMutationRule } from "./limits.js";

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

export interface ApolloOptions {
  schema: GraphQLSchema;
  production: boolean;
  /** Where queries that passed the whole pipeline are kept for the fast path (src/http/fast-path.ts); none kept when unset. */
  known?: KnownOperations;
}

/** Apollo Server for the gateway's graph, with the one error mask and the per-request outcome. */
export function createApollo(options: ApolloOptions): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    // The schema reaches Apollo through its gateway interface only to run operations compiled (see there).
    gateway: compiledExecutor<GatewayContext>(options.schema, options.known),
    introspection: !options.production,
    // Field suggestions ("Did you mean ...?") describe the schema to whoever probes it.
    hideSchemaDetailsFromClientErrors: options.production,
    // Details of unexpected errors go to the log with the request id, never to the client.
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // One document per request: a JSON array of operations would multiply every per-request limit.
    allowBatchedHttpRequests: false,
    // graphql-js stops parsing at the limit; maskError below hides the number it names.
    parseOptions: { maxTokens: MAX_TOKENS },
    validationRules: [complexityLimitRule, oneSensitiveMutationRule],
    formatError: maskError,
    // The gateway owns shutdown (src/main.ts): Apollo's own handler would stop the server and
    // re-raise the signal before the requests in progress had finished.
    stopOnTerminationSignals: false,
    plugins: [
      // Installed by default, it hooks the resolution of every field to compute cache hints;
      // nothing of this graph may be cached (it is all per user), so it is pure per-field cost.
      ApolloServerPluginCacheControlDisabled(),
      // includeCookies: the Sandbox's requests carry the session cookie, so it works in cookie mode too.
      options.production ? ApolloServerPluginLandingPageDisabled() : sandboxWithOfflineWayOut(),
      outcomePlugin,
      // Apollo turns on inline traces for a subgraph schema (src/graph/federation): they would
      // hand any router that asks per-field timings and error details; nothing here reads them.
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
}

/**
 * Apollo Sandbox, whose script comes from Apollo's CDN: on a network without internet (health
 * networks often are) its page says only that Sandbox cannot be loaded. That fallback is
 * rewritten to link to what this gateway serves itself, the explorer and the example app
 * (relative links, so they hold behind a proxy's path prefix too), and the empty full-window
 * box Sandbox would have filled stops covering it.
 */
function sandboxWithOfflineWayOut(): ApolloServerPlugin<GatewayContext> {
  // includeCookies: the Sandbox's requests carry the session cookie, so it works in cookie mode too.
  const sandbox = ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: true });
  return {
    async serverWillStart(service) {
      const listener = await sandbox.serverWillStart!(service);
      return {
        async renderLandingPage() {
          const page = await listener!.renderLandingPage!();
          return { html: async () => withOfflineWayOut(typeof page.html === "string" ? page.html : await page.html()) };
        },
      };
    },
  };
}

/** The landing page with the offline message replaced (test/http/cookie-session.test.ts pins the markup this relies on). */
function withOfflineWayOut(html: string): string {
  return html
    .replace(
      /<p>Apollo Sandbox cannot be loaded;[^<]*<\/p>/,
      `<p>Apollo Sandbox cannot be loaded: it comes from the internet, which this network does not seem to reach.</p>
  <p id="offline-explorer">Use the gateway's own <a href="explorer/">GraphiQL explorer</a>, which works offline, or the <a href="app/">example app</a>.</p>`,
    )
    .replace("#embeddableSandbox {", "#embeddableSandbox:empty {\n    pointer-events: none;\n  }\n  #embeddableSandbox {");
}

/** Apollo's words (and only error without a code) for an automatic persisted query whose sha256Hash is not its text's. */
const APQ_HASH_MISMATCH = "provided sha does not match query";

/** Apollo's refusal of introspection in production tells how to turn it on; the gateway's says what it is. */
const INTROSPECTION_REFUSED = "Introspection is turned off in production. The schema is published with the gateway (schema/schema.graphql).";

/**
 * The one place that decides what a client sees of an error: the contract's codes with
 * messages written for it, Apollo's request errors without echoed values (a document over the
 * token limit as the generic complexity refusal), and for anything else a generic
 * INTERNAL_SERVER_ERROR.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const { code, message, extensions, hideLocations } = classify(error, formatted.message, formatted.extensions?.code);
  return { message, locations: hideLocations ? undefined : formatted.locations, path: formatted.path, extensions: { ...extensions, code } };
}

/** What an error is, in the contract's words; `unexpected` ones are logged in full, answered generically. */
function classify(
  error: unknown,
  message: string,
  requestCode: unknown,
): { code: string; message: string; extensions: Record<string, unknown>; unexpected: boolean; hideLocations?: boolean } {
  const known = toPublicError(unwrapResolverError(error));
  if (known !== undefined) return { ...known, unexpected: false };
  if (requestCode === "GRAPHQL_PARSE_FAILED" && TOKEN_LIMIT.test(message)) {
    // A document over the token limit is refused like one over the other limits (src/http/limits.ts),
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
export function withoutEchoedValues(message: string): string {
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

/**
 * The root fields an operation selects, sorted and joined with `+` (`me+session`): a label of
 * few values, unlike the operation name, which the client chooses. Aliases count as the field
 * they alias; introspection fields as `introspection`. Called once the operation passed
 * validation, so every other name is a root field of the schema.
 */
export function rootFields(operation: OperationDefinitionNode, document: DocumentNode): string {
  const names = new Set<string>();
  const visit = (selections: SelectionSetNode): void => {
    for (const selection of selections.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value.startsWith("__") ? "introspection" : selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else {
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return [...names].sort().join("+");
}

/**
 * Records the operation and its outcome on the context, for the request log line, and logs
 * what an operator should see: backend and store failures (no URL, header or body: the
 * errors carry none) and, with the request id, anything unexpected.
 */
const outcomePlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operationName, operation, document }) {
        recordOperation(contextValue, operationName ?? undefined, operation, document);
      },
      async didEncounterErrors({ contextValue, errors }) {
        recordErrors(contextValue, errors);
      },
    };
  },
};

/** The operation's name (as the client gave it) and root fields, on the context. Shared with the fast path. */
export function recordOperation(contextValue: GatewayContext, operationName: string | undefined, operation: OperationDefinitionNode | undefined, document: DocumentNode): void {
  contextValue.outcome.operation = operationName ?? operation?.name?.value ?? null;
  contextValue.outcome.rootFields = operation === undefined ? null : rootFields(operation, document);
}

/** Each error's public code on the context, and what an operator should see in the log. Shared with the fast path. */
export function recordErrors(contextValue: GatewayContext, errors: readonly GraphQLError[]): void {
  for (const error of errors) {
    const original = unwrapResolverError(error);
    const { code, unexpected } = classify(error, error.message, error.extensions.code);
    contextValue.outcome.codes.add(code);
    if (unexpected) contextValue.log.error({ err: original }, "unexpected error, answered as INTERNAL_SERVER_ERROR");
    if (original instanceof BackendError) {
      contextValue.log.warn(
        { backend: original.backend, endpoint: original.endpoint, failure: original.failure, status: original.status, ersCode: original.ersCode },
        "backend call failed",
      );
    } else if (original instanceof StoreError) {
      contextValue.log.error({ cause: (original.cause as Error | undefined)?.message }, "session store failed");
    }
  }
}

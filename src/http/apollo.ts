import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { GraphQLError, Kind, type ASTNode, type GraphQLFormattedError, type GraphQLSchema } from "graphql";
import { BackendError, StoreError } from "../errors/backend-error.js";
import { ErrorCode } from "../errors/error-codes.js";
import { toPublicError } from "../errors/gateway-error.js";
import type { GatewayContext } from "../graph/context.js";

/** Apollo's own codes for requests that never reached a resolver; they pass as they are. */
const REQUEST_ERROR_CODES = new Set([
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
}

/** Apollo Server for the gateway's graph, with the one error mask and the per-request outcome. */
export function createApollo(options: ApolloOptions): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    schema: options.schema,
    introspection: !options.production,
    // Field suggestions ("Did you mean ...?") describe the schema to whoever probes it.
    hideSchemaDetailsFromClientErrors: options.production,
    // Details of unexpected errors go to the log with the request id, never to the client.
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    formatError: maskError,
    plugins: [
      options.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      outcomePlugin,
    ],
  });
}

/**
 * The one place that decides what a client sees of an error: the contract's codes with
 * messages written for it, Apollo's request errors without echoed values, and for anything
 * else a generic INTERNAL_SERVER_ERROR.
 */
export function maskError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const known = toPublicError(original);
  if (known !== undefined) {
    return { message: known.message, locations: formatted.locations, path: formatted.path, extensions: { ...known.extensions, code: known.code } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === "string" && REQUEST_ERROR_CODES.has(code)) {
    // An argument literal of the wrong shape or with unknown fields is bad input in the
    // contract's words, though GraphQL finds it while validating the document.
    const badArgument = code === "GRAPHQL_VALIDATION_FAILED" && error instanceof GraphQLError && (error.nodes ?? []).some(isValueNode);
    return {
      message: withoutEchoedValues(formatted.message),
      locations: formatted.locations,
      extensions: { code: badArgument ? ErrorCode.BAD_USER_INPUT : code },
    };
  }
  return { message: "Internal server error.", locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

function isValueNode(node: ASTNode): boolean {
  return VALUE_KINDS.has(node.kind);
}

/**
 * graphql-js quotes the offending value in coercion messages (`got invalid value "hunter2"`,
 * `found 123`, `non string value: 123`). Those values can be passwords or tokens.
 */
export function withoutEchoedValues(message: string): string {
  const variable = /^(Variable "\$[^"]+") got invalid value .*?(?: at "([^"]+)")?; ([\s\S]*)$/.exec(message);
  if (variable !== null) {
    const [, subject, at, reason] = variable;
    const safeReason = /^(Field "[^"]+" is not defined by type "[^"]+"|Field "[^"]+" of required type "[^"]+" was not provided|Expected non-nullable type "[^"]+" not to be null)\.?/.exec(reason ?? "");
    return `${subject} got an invalid value${at === undefined ? "" : ` at "${at}"`}${safeReason === null ? "." : `; ${safeReason[0].replace(/\.?$/, ".")}`}`;
  }
  return message.replace(/, found [\s\S]*$/, ".").replace(/(cannot represent a non[- ][\w ]+value): [\s\S]*$/, "$1.");
}

/**
 * Records the operation and its outcome on the context, for the request log line, and logs
 * what an operator should see: backend and store failures (no URL, header or body: the
 * errors carry none) and, with the request id, anything unexpected.
 */
const outcomePlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ contextValue, operationName, operation }) {
        contextValue.outcome.operation = operationName ?? operation?.name?.value ?? null;
      },
      async didEncounterErrors({ contextValue, errors }) {
        for (const error of errors) {
          const original = unwrapResolverError(error);
          const known = toPublicError(original);
          const requestCode = error.extensions.code;
          if (known !== undefined) {
            contextValue.outcome.codes.add(known.code);
          } else if (typeof requestCode === "string" && REQUEST_ERROR_CODES.has(requestCode)) {
            contextValue.outcome.codes.add(requestCode);
          } else {
            contextValue.outcome.codes.add(ErrorCode.INTERNAL_SERVER_ERROR);
            contextValue.log.error({ err: original }, "unexpected error, answered as INTERNAL_SERVER_ERROR");
          }
          if (original instanceof BackendError) {
            contextValue.log.warn(
              { backend: original.backend, endpoint: original.endpoint, failure: original.failure, status: original.status, ersCode: original.ersCode },
              "backend call failed",
            );
          } else if (original instanceof StoreError) {
            contextValue.log.error({ cause: (original.cause as Error | undefined)?.message }, "session store failed");
          }
        }
      },
    };
  },
};

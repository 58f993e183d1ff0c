import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import { maskError } from "../errors/mask.js";
import type { GatewayContext } from "../graph/context.js";
import { recordErrors, recordOperation } from "../observability/outcome.js";
import { compiledExecutor } from "./compiled-executor.js";
import type { KnownOperations } from "./known-operations.js";
import { sandboxWithOfflineWayOut } from "./landing-page.js";
import { MAX_TOKENS, complexityLimitRule, oneSensitiveMutationRule } from "./limits.js";

interface ApolloOptions {
  schema: GraphQLSchema;
  production: boolean;
  /** Where queries that passed the whole pipeline are kept for the fast path (src/graphql/fast-path.ts); none kept when unset. */
  known?: KnownOperations;
}

/** Apollo Server for the gateway's graph, with the one error mask (src/errors/mask.ts) and the per-request outcome. */
export function createApollo(options: ApolloOptions): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    // The schema reaches Apollo through its gateway interface only to run operations compiled (see there).
    gateway: compiledExecutor<GatewayContext>(options.schema, options.known),
    introspection: !options.production,
    // Field suggestions ("Did you mean ...?") describe the schema to whoever probes it.
    hideSchemaDetailsFromClientErrors: options.production,
    // Details of unexpected errors go to the log with the request id, never to the client.
    includeStacktraceInErrorResponses: false,
    // The fast path (src/graphql/fast-path.ts) relies on this: it answers only what this check accepts.
    csrfPrevention: true,
    // One document per request: a JSON array of operations would multiply every per-request limit.
    allowBatchedHttpRequests: false,
    // graphql-js stops parsing at the limit; maskError hides the number it names.
    parseOptions: { maxTokens: MAX_TOKENS },
    validationRules: [complexityLimitRule, oneSensitiveMutationRule],
    formatError: maskError,
    // The gateway owns shutdown (src/main.ts): Apollo's own handler would stop the server and
    // re-raise the signal before the requests in progress had finished.
    stopOnTerminationSignals: false,
    // A plugin with request hooks added here must be matched in the fast path, which runs
    // no plugin: test/graphql/fast-path.test.ts fails on one it does not know of.
    plugins: [
      // Installed by default, it hooks the resolution of every field to compute cache hints;
      // nothing of this graph may be cached (it is all per user), so it is pure per-field cost.
      ApolloServerPluginCacheControlDisabled(),
      options.production ? ApolloServerPluginLandingPageDisabled() : sandboxWithOfflineWayOut(),
      outcomePlugin,
      // Apollo turns on inline traces for a subgraph schema (src/graph/federation): they would
      // hand any router that asks per-field timings and error details; nothing here reads them.
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
}

/** Records the operation and its outcome (src/observability/outcome.ts) as Apollo runs it. */
export const outcomePlugin: ApolloServerPlugin<GatewayContext> = {
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

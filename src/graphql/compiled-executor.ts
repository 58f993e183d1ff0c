import type { ApolloServerOptionsWithGateway, BaseContext } from "@apollo/server";
import { GraphQLError, getVariableValues, printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema } from "graphql";
import { compileQuery, isCompiledQuery, type CompiledQuery } from "graphql-jit";
import type { KnownOperation, KnownOperations } from "./known-operations.js";

type Gateway<TContext extends BaseContext> = ApolloServerOptionsWithGateway<TContext>["gateway"];

/**
 * Serves `schema` to Apollo Server through its gateway interface, so that Apollo runs each
 * operation with graphql-jit instead of graphql-js: an operation is compiled to JavaScript
 * once and the compiled function runs every later request. Apollo still parses, validates,
 * caches documents and runs every plugin and `formatError` as before; only execution changes.
 *
 * Compiled operations are kept per document object: Apollo's document store hands the same
 * parsed document for the same query text, and when it evicts a document the compiled
 * operations go with it (a WeakMap), so this cache is bounded as the store is.
 *
 * Compiling costs time in proportion to the operation's fields with its fragments expanded,
 * which a small document can make exponential. Apollo calls the executor only with a document
 * that passed validation with the gateway's rules (its request pipeline validates before it
 * caches a document or executes it), and complexityLimitRule (src/graphql/limits.ts) bounds that
 * count there; the fast path runs only what was compiled here.
 */
export function compiledExecutor<TContext extends BaseContext>(schema: GraphQLSchema, known?: KnownOperations): Gateway<TContext> {
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | ExecutionResult>>();
  const compile = (document: DocumentNode, operationName: string | undefined): CompiledQuery | ExecutionResult => {
    let byName = compiled.get(document);
    if (byName === undefined) compiled.set(document, (byName = new Map<string, CompiledQuery | ExecutionResult>()));
    const key = operationName ?? "";
    let query = byName.get(key);
    if (query === undefined) byName.set(key, (query = compileQuery(schema, document, operationName)));
    return query;
  };
  return {
    async load() {
      return {
        schema,
        executor: async (requestContext) => {
          const { document, request, context, operation } = requestContext;
          // Apollo leaves choosing the operation to a gateway: an operationName the document does
          // not hold, or none for a document of several, reaches here without one. Answered with
          // errors, Apollo refuses the request as OPERATION_RESOLUTION_FAILURE (400).
          if (operation === undefined) return { errors: [new GraphQLError(request.operationName ? UNKNOWN_OPERATION : OPERATION_NAME_NEEDED)] };
          const query = compile(document, request.operationName ?? undefined);
          if (!isCompiledQuery(query)) return query;
          const run = await runCompiled(schema, { compiled: query, operation }, context, request.variables ?? {});
          if ("refused" in run) return { errors: run.refused };
          if (known !== undefined && request.query !== undefined)
            known.remember(request.query, request.operationName ?? undefined, { compiled: query, document, operation });
          return run.result;
        },
      };
    },
    // Apollo learns the schema from this call; it never changes afterwards, so there is nothing more to tell.
    onSchemaLoadOrUpdate: (callback) => {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async stop() {},
  };
}

/** What running a compiled operation gave: variables refused before anything ran, or the operation's result. */
type CompiledRun = { refused: readonly GraphQLError[] } | { result: ExecutionResult };

/**
 * Runs a compiled operation with a request's variables: the one way an operation is run, by
 * the executor above (every request through Apollo) and by the fast path alike. Variables are
 * checked by graphql-js first, so a bad value is refused in graphql-js's own words, which
 * Apollo (BAD_USER_INPUT) and the mask (no echoed value, src/errors/mask.ts) rely on; the
 * compiled function checks them again on its own (graphql-jit offers no way to hand it values
 * already coerced), which costs a warm request without variables nothing.
 */
export async function runCompiled(
  schema: GraphQLSchema,
  { compiled, operation }: Pick<KnownOperation, "compiled" | "operation">,
  context: unknown,
  variables: Record<string, unknown>,
): Promise<CompiledRun> {
  if (operation.variableDefinitions !== undefined && operation.variableDefinitions.length > 0) {
    const coerced = getVariableValues(schema, operation.variableDefinitions, variables);
    if (coerced.errors !== undefined) return { refused: coerced.errors };
  }
  const result = await compiled.query(undefined, context, variables);
  return { result: result.errors === undefined ? result : { ...result, errors: result.errors.map(asGraphQLError) } };
}

/** Without the name as sent: a client's operationName is any string it chose, not the document's syntax. */
const UNKNOWN_OPERATION = "Unknown operation name: the document has no operation of that name.";
/** graphql-js's words for the same case. */
const OPERATION_NAME_NEEDED = "Must provide operation name if query contains multiple operations.";

/**
 * graphql-jit's errors are not graphql-js's: no `extensions` unless the cause has some, no
 * `nodes`. Apollo's plugins, `unwrapResolverError` and the mask expect graphql-js's shape, so
 * each becomes one, with the same message, path, locations and cause.
 */
function asGraphQLError(error: GraphQLError): GraphQLError {
  const converted = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
  // graphql-js works locations out from nodes, which graphql-jit does not keep; it gives them as they are.
  return Object.assign(converted, { locations: error.locations });
}

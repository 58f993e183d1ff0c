import { unwrapResolverError } from "@apollo/server/errors";
import type { DocumentNode, GraphQLError, OperationDefinitionNode } from "graphql";
import { BackendError } from "../errors/backend-error.js";
import { StoreError } from "../errors/store-error.js";
import { publicView } from "../errors/mask.js";
import type { GatewayContext } from "../graph/context.js";
import { rootFields } from "./root-fields.js";

/*
 * An operation's outcome, recorded on its request's context for the request log line and the
 * metrics (src/http/server.ts writes both when the answer is sent), and what an operator should
 * see of its errors in the log. Apollo's outcome plugin (src/graphql/apollo.ts) and the fast path
 * (src/graphql/fast-path.ts) both call these, so a request is recorded alike on either.
 */

/** The part of a request's context the recording writes to. */
type Recorded = Pick<GatewayContext, "outcome" | "log">;

/**
 * The label of each operation already seen: Apollo hands the same parsed document (and so the
 * same operation node) for the same query text, so a warm request walks no selection again.
 * Keyed weakly, it goes when Apollo's document cache lets the document go.
 */
const labels = new WeakMap<OperationDefinitionNode, string>();

/** The operation's name (as the client gave it) and its root fields. */
export function recordOperation(
  context: Recorded,
  operationName: string | undefined,
  operation: OperationDefinitionNode | undefined,
  document: DocumentNode,
): void {
  context.outcome.operation = operationName ?? operation?.name?.value ?? null;
  if (operation === undefined) {
    context.outcome.rootFields = null;
    return;
  }
  let label = labels.get(operation);
  if (label === undefined) labels.set(operation, (label = rootFields(operation, document)));
  context.outcome.rootFields = label;
}

/**
 * Each error's public code, and in the log: backend and store failures (no URL, header or body:
 * the errors carry none) and, with the request id, anything unexpected.
 */
export function recordErrors(context: Recorded, errors: readonly GraphQLError[]): void {
  for (const error of errors) {
    const original = unwrapResolverError(error);
    const { code, unexpected } = publicView(error, error.message, error.extensions.code);
    context.outcome.codes.add(code);
    if (unexpected) context.log.error({ err: original }, "unexpected error, answered as INTERNAL_SERVER_ERROR");
    if (original instanceof BackendError) {
      context.log.warn(
        { backend: original.backend, endpoint: original.endpoint, failure: original.failure, status: original.status, ersCode: original.ersCode },
        "backend call failed",
      );
    } else if (original instanceof StoreError) {
      context.log.error({ cause: (original.cause as Error | undefined)?.message }, "session store failed");
    }
  }
}

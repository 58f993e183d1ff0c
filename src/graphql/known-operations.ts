import { OperationTypeNode, type DocumentNode, type OperationDefinitionNode } from "graphql";
import type { CompiledQuery } from "graphql-jit";

/** A query Apollo has parsed, validated and run once, compiled; what a later request needs to run it again. */
export interface KnownOperation {
  compiled: CompiledQuery;
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

/** Past this many distinct queries the oldest is forgotten: a client sending ever new texts gains no memory. */
const MAX_KNOWN = 1_000;

/**
 * Queries that passed Apollo's whole pipeline (parse within the token limit, validation with
 * every rule of the gateway), by query text and operation name. Whether a text passes depends
 * on the text and the schema alone, so a request with the same text may skip straight to
 * execution (src/graphql/fast-path.ts). Mutations are not kept: they stay on Apollo's path.
 */
export class KnownOperations {
  readonly #byKey = new Map<string, KnownOperation>();

  get(query: string, operationName: string | undefined): KnownOperation | undefined {
    return this.#byKey.get(keyOf(query, operationName));
  }

  remember(query: string, operationName: string | undefined, known: KnownOperation): void {
    if (known.operation.operation !== OperationTypeNode.QUERY) return;
    const key = keyOf(query, operationName);
    if (this.#byKey.has(key)) return;
    if (this.#byKey.size >= MAX_KNOWN) this.#byKey.delete(this.#byKey.keys().next().value!);
    this.#byKey.set(key, known);
  }
}

function keyOf(query: string, operationName: string | undefined): string {
  // A NUL cannot end an operation name, so no two pairs share a key.
  return `${operationName ?? ""}\u0000${query}`;
}

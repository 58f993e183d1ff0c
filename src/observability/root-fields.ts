import { Kind, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from "graphql";

/**
 * The root fields an operation selects, sorted and joined with `+` (`me+session`): the metrics
 * label of an operation, a label of few values, unlike the operation name, which the client
 * chooses. Aliases count as the field they alias; introspection fields as `introspection`.
 * Called once the operation passed validation, so every other name is a root field of the schema.
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

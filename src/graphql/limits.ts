/**
 * Limits on the shape of an operation document, checked as Apollo validates it, before anything
 * runs. They are sized for this graph: two queries, four mutations, nothing nested deeper than
 * five fields. None is ever named in an error: a client over a limit is told only that the
 * operation is too complex, which gives whoever probes for the edges nothing to tune against.
 *
 * Hand-written, not graphql-armor's plugins (@escape.tech/graphql-armor 3.2.0, evaluated for
 * issue 17), because they do not do the same job:
 * - no rule of theirs counts the fields an operation expands to (what bounds graphql-jit's
 *   compile time): cost-limit weighs inline fragments and spreads as fields too and, by
 *   default, skips `__schema`; none refuses a second sensitive mutation. Both need the walk
 *   below, which memoises fragments; depth, aliases and directives cost it a line each.
 * - max-depth exempts `__schema` only: `__type(name:)` with its `ofType` chain (a common
 *   introspection query) would be refused at depth 7, which the gateway admits.
 * - max-aliases and max-directives count as this does (fragments memoised too), but each is a
 *   walk of its own whose refusal is thrown (or reported per rule) as `Syntax Error: ...`: kept
 *   to these words and to one error per operation only through an onReject adapter, which
 *   would add code and walks and remove none.
 * - max-tokens, under Apollo, parses every new document a second time (a parser of its own
 *   in parsingDidStart); graphql-js's own `maxTokens` (src/graphql/apollo.ts) stops the one parse.
 */
import {
  GraphQLError,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  getNamedType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  type ASTVisitor,
  type GraphQLNamedType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { TOO_COMPLEX } from "../errors/mask.js";

/**
 * Lexical tokens per document, counted by graphql-js's parser, which stops reading there. Every
 * operation in test/operations together (fragments included) is about 200 tokens and the full
 * introspection query about 190, so 1000 leaves room for real clients while bounding the cost of
 * parsing and validating: 1000 copies of `me { id }` are 4000 tokens.
 */
export const MAX_TOKENS = 1000;

/**
 * Fields on the longest path of an operation, fragments flattened. The deepest path the schema
 * allows is 5 (signin → session → user → permissions → businessFunction); one level of slack lets
 * the schema grow by a level without refusing clients (test/security/query-limits.test.ts fails
 * when the schema outgrows it). Introspection fields do not count: the Sandbox's introspection
 * query goes deeper, and in production introspection is refused anyway.
 */
export const MAX_DEPTH = 6;

/**
 * Aliases per operation, counted through fragments. With two queries and four mutations (only
 * one of which may run per document) a client has no need for more; aliasing is how one request
 * asks the same thing many times.
 */
export const MAX_ALIASES = 10;

/** Directives per operation (`@include`, `@skip`): a few are normal, dozens are an attack on validation. */
export const MAX_DIRECTIVES = 10;

/**
 * Fields per operation as it would run: every field at every spread of every fragment,
 * introspection included (the compiler walks it all the same). graphql-jit compiles an operation
 * in time proportional to this count, about a microsecond a field here, and a document of a few
 * hundred bytes whose fragments each spread the one before twice reaches millions (issue 13).
 * The largest operation in test/operations expands to 32 fields and the Sandbox's full
 * introspection query to 229; a document without fragments holds at most one field per token,
 * so at MAX_TOKENS every document a client writes out by hand stays admitted, and what is
 * refused is fan-out through fragments. Compiling this many fields takes tens of milliseconds.
 * @alias MAX_TOKENS's value on purpose: a limit of its own that happens to equal it, for the reason above.
 */
export const MAX_FIELDS = MAX_TOKENS;

/**
 * The mutations that sign in, change role or sign out. Each costs a backend call and each sign-in
 * attempt must count once against the brute-force limits, so one document may hold one of them,
 * once: no aliases, no repeats, no second operation, not through fragments.
 */
export const SENSITIVE_MUTATIONS: ReadonlySet<string> = new Set(["createSession", "selectRole", "signin", "signout"]);

/** What a client sending more than one sensitive mutation is told. */
export const ONE_SENSITIVE_MUTATION = "A request may run only one of createSession, selectRole, signin and signout, and only once.";

/** The counts of a selection set with its fragments expanded; depth relative to the set. */
interface Shape {
  depth: number;
  /** Fields with every fragment spread expanded; the compiler's work. */
  fields: number;
  aliases: number;
  directives: number;
  /** Occurrences of a sensitive mutation. */
  sensitive: number;
}

const NOTHING: Shape = { depth: 0, fields: 0, aliases: 0, directives: 0, sensitive: 0 };

/**
 * Measures operations with their fragments expanded, as they would run. A fragment is measured
 * once and its shape reused at every spread, so a document that spreads fragments into each
 * other exponentially costs no more to measure than to read.
 */
class ShapeMeter {
  readonly #fragments = new Map<string, Shape | "measuring">();

  constructor(private readonly context: ValidationContext) {}

  operation(operation: OperationDefinitionNode): Shape {
    const shape = this.#selectionSet(operation.selectionSet, this.context.getSchema().getRootType(operation.operation) ?? undefined);
    return { ...shape, directives: shape.directives + (operation.directives?.length ?? 0) };
  }

  #fragment(name: string): Shape {
    const known = this.#fragments.get(name);
    // A cycle: NoFragmentCyclesRule refuses the document; counting it once is enough here.
    if (known === "measuring") return NOTHING;
    if (known !== undefined) return known;
    const fragment = this.context.getFragment(name);
    if (fragment == null) return NOTHING;
    this.#fragments.set(name, "measuring");
    const inner = this.#selectionSet(fragment.selectionSet, this.context.getSchema().getType(fragment.typeCondition.name.value) ?? undefined);
    const shape = { ...inner, directives: inner.directives + (fragment.directives?.length ?? 0) };
    this.#fragments.set(name, shape);
    return shape;
  }

  #selectionSet(set: SelectionSetNode, parent: GraphQLNamedType | undefined): Shape {
    const schema = this.context.getSchema();
    const total = { ...NOTHING };
    for (const selection of set.selections) {
      total.directives += selection.directives?.length ?? 0;
      let inner: Shape;
      let level = 0;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        total.fields += 1;
        if (selection.alias !== undefined) total.aliases += 1;
        if (parent !== undefined && parent === schema.getMutationType() && SENSITIVE_MUTATIONS.has(name)) total.sensitive += 1;
        const introspection = name.startsWith("__") || (parent !== undefined && isIntrospectionType(parent));
        level = introspection ? 0 : 1;
        inner = selection.selectionSet === undefined ? NOTHING : this.#selectionSet(selection.selectionSet, fieldType(parent, name));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition === undefined ? parent : schema.getType(selection.typeCondition.name.value);
        inner = this.#selectionSet(selection.selectionSet, condition ?? undefined);
      } else {
        inner = this.#fragment(selection.name.value);
      }
      total.depth = Math.max(total.depth, level + inner.depth);
      total.fields += inner.fields;
      total.aliases += inner.aliases;
      total.directives += inner.directives;
      total.sensitive += inner.sensitive;
    }
    return total;
  }
}

/** The named type of a field, the introspection entry points included (they are not among the root's fields). */
function fieldType(parent: GraphQLNamedType | undefined, name: string): GraphQLNamedType | undefined {
  if (name === SchemaMetaFieldDef.name) return getNamedType(SchemaMetaFieldDef.type);
  if (name === TypeMetaFieldDef.name) return getNamedType(TypeMetaFieldDef.type);
  const type = parent !== undefined && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name]?.type : undefined;
  return type === undefined ? undefined : getNamedType(type);
}

/**
 * Refuses an operation deeper, larger once expanded, or with more aliases or directives than
 * the limits above. Apollo runs it with graphql-js's own rules on every document it has not
 * validated before, ahead of execution, so nothing over a limit reaches the compiler
 * (src/graphql/compiled-executor.ts) nor the fast path, which serves only queries that passed.
 */
export const complexityLimitRule: ValidationRule = (context): ASTVisitor => {
  const meter = new ShapeMeter(context);
  return {
    OperationDefinition(operation) {
      const shape = meter.operation(operation);
      if (shape.depth > MAX_DEPTH || shape.fields > MAX_FIELDS || shape.aliases > MAX_ALIASES || shape.directives > MAX_DIRECTIVES) {
        context.reportError(new GraphQLError(TOO_COMPLEX, { nodes: operation }));
      }
      // The meter has read what this rule needs; the rest of the tree is the other rules' work.
      return false;
    },
  };
};

/**
 * Refuses a document that holds more than one sensitive mutation, counted as they would run: per
 * field, across every operation of the document and through fragments. HTTP batching is off
 * (src/graphql/apollo.ts), so a request is one document and each sign-in attempt one resolver call.
 */
export const oneSensitiveMutationRule: ValidationRule = (context): ASTVisitor => {
  const meter = new ShapeMeter(context);
  let seen = 0;
  return {
    OperationDefinition(operation) {
      const before = seen;
      seen += meter.operation(operation).sensitive;
      if (seen > 1 && before <= 1) context.reportError(new GraphQLError(ONE_SENSITIVE_MUTATION, { nodes: operation }));
      return false;
    },
  };
};

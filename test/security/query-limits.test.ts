/**
 * The document-shape rules of src/graphql/limits.ts against the gateway's own schema, without
 * HTTP: what they count (through fragments, across operations), where each line is drawn, and
 * that the documents real clients send stay well inside them. graphql-attacks.test.ts sends
 * the attacks themselves over HTTP.
 */
import { beforeAll, describe, expect, it } from "@jest/globals";
import {
  getIntrospectionQuery,
  getNamedType,
  isObjectType,
  Kind,
  parse,
  specifiedRules,
  validate,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gatewaySchema } from "../../src/graph/schema.js";
import {
  MAX_ALIASES,
  MAX_DEPTH,
  MAX_DIRECTIVES,
  MAX_FIELDS,
  MAX_TOKENS,
  ONE_SENSITIVE_MUTATION,
  SENSITIVE_MUTATIONS,
  complexityLimitRule,
  oneSensitiveMutationRule,
} from "../../src/graphql/limits.js";
import { TOO_COMPLEX } from "../../src/errors/mask.js";

const SIGNIN = 'signin(input: { email: "a@example.org", password: "p" }) { token }';

/** `n` copies of `make(i)`, separated by spaces. */
function times(n: number, make: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => make(i)).join(" ");
}

/**
 * `{ me { … } }` expanding to exactly `fields` fields (`me` included, at least 101) through
 * spreads of two small fragments: H is ten spreads of T, T ten fields.
 */
function expandingTo(fields: number): string {
  const inner = fields - 1;
  const spreads = `${"...H ".repeat(Math.floor(inner / 100))}${"...T ".repeat(Math.floor((inner % 100) / 10))}${"id ".repeat(inner % 10)}`;
  return `{ me { ${spreads}} } fragment H on User { ${"...T ".repeat(10)}} fragment T on User { ${"id ".repeat(10)}}`;
}

/** Fields nested `depth` deep: `f1 { f2 { … } }`; the limit rules measure names the schema lacks too. */
function nested(depth: number): string {
  return depth === 1 ? "f1" : `f${depth} { ${nested(depth - 1)} }`;
}

describe("document-shape limits (src/graphql/limits.ts)", () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await gatewaySchema();
  });

  /** The messages of the two limit rules alone, as the server would parse the document. */
  function limitMessages(document: string): string[] {
    return validate(schema, parse(document, { maxTokens: MAX_TOKENS }), [complexityLimitRule, oneSensitiveMutationRule]).map((e) => e.message);
  }

  /** Every message the server's validation would give: graphql-js's rules and the limits. */
  function allMessages(document: string): string[] {
    return validate(schema, parse(document, { maxTokens: MAX_TOKENS }), [...specifiedRules, complexityLimitRule, oneSensitiveMutationRule]).map(
      (e) => e.message,
    );
  }

  describe("what real clients send", () => {
    it("admits every operation in test/operations, fragments included", async () => {
      const operations = await readFile(fileURLToPath(new URL("../operations/session.graphql", import.meta.url)), "utf8");

      // Each operation alone, with the fragments it needs: one document each, as a client sends them.
      const document = parse(operations);
      const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
      const operationsOnly = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      expect(operationsOnly.length).toBeGreaterThanOrEqual(6);
      for (const operation of operationsOnly) {
        const errors = validate(schema, { kind: document.kind, definitions: [operation, ...fragments] }, [
          complexityLimitRule,
          oneSensitiveMutationRule,
        ]);
        expect({ operation: operation.name?.value, errors }).toEqual({ operation: operation.name?.value, errors: [] });
      }
    });

    it("admits the full introspection query the Sandbox needs outside production", () => {
      const query = getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
      });

      expect(allMessages(query)).toEqual([]);
    });

    it("keeps the deepest path the schema allows within MAX_DEPTH", () => {
      /** Fields on the longest path below a type; a cycle in the schema would make it unbounded. */
      const deepest = (type: GraphQLNamedType, path: readonly string[]): number => {
        if (!isObjectType(type)) return 0;
        if (path.includes(type.name)) return Number.POSITIVE_INFINITY;
        return Math.max(0, ...Object.values(type.getFields()).map((field) => 1 + deepest(getNamedType(field.type), [...path, type.name])));
      };

      const depth = Math.max(deepest(schema.getQueryType()!, []), deepest(schema.getMutationType()!, []));

      expect(depth).toBe(5);
      expect(depth).toBeLessThanOrEqual(MAX_DEPTH);
    });

    it("treats every mutation of the schema as sensitive, so a new one is classified on purpose", () => {
      expect(Object.keys(schema.getMutationType()!.getFields()).sort()).toEqual([...SENSITIVE_MUTATIONS].sort());
    });
  });

  describe("complexity: depth, expanded fields, aliases, directives", () => {
    it.each([
      [
        "the deepest path of the schema",
        "admitted",
        `mutation { ${SIGNIN.replace("{ token }", "{ session { user { permissions { businessFunction } } } }")} }`,
      ],
      ["fields nested to the limit", "admitted", `{ ${nested(MAX_DEPTH)} }`],
      ["fields nested one deeper than the limit", "refused", `{ ${nested(MAX_DEPTH + 1)} }`],
      [`${MAX_FIELDS} fields once fragments are expanded`, "admitted", expandingTo(MAX_FIELDS)],
      [`${MAX_FIELDS + 1} fields once fragments are expanded`, "refused", expandingTo(MAX_FIELDS + 1)],
      [`${MAX_TOKENS - 2} fields written out, as many as the token limit allows`, "admitted", `{ ${"__typename ".repeat(MAX_TOKENS - 2)}}`],
      [`${MAX_ALIASES} aliases`, "admitted", `{ ${times(MAX_ALIASES, (i) => `a${i}: me { id }`)} }`],
      [`${MAX_ALIASES + 1} aliases`, "refused", `{ ${times(MAX_ALIASES + 1, (i) => `a${i}: me { id }`)} }`],
      [
        "aliases counted at every spread of a fragment",
        "refused",
        `{ me { ...F } session { user { ...F } } } fragment F on User { ${times(Math.ceil((MAX_ALIASES + 1) / 2), (i) => `a${i}: id`)} }`,
      ],
      ["aliases inside an inline fragment", "refused", `{ ... on Query { ${times(MAX_ALIASES + 1, (i) => `a${i}: __typename`)} } }`],
      [`${MAX_DIRECTIVES} directives`, "admitted", `{ me ${times(MAX_DIRECTIVES, () => "@include(if: true)")} { id } }`],
      [`${MAX_DIRECTIVES + 1} directives`, "refused", `{ me ${times(MAX_DIRECTIVES + 1, () => "@include(if: true)")} { id } }`],
      [
        "directives on the operation, on spreads and in fragments",
        "refused",
        `query Q @a @b { ...F @c @d } fragment F on Query @e @f { me @g @h { id @i @j @k } }`,
      ],
      ["unknown directives, counted like known ones", "refused", `{ me { id ${times(MAX_DIRECTIVES + 1, (i) => `@x${i}`)} } }`],
      [
        "introspection deeper than the limit (not counted)",
        "admitted",
        `{ __type(name: "User") { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } }`,
      ],
      [
        "inline fragments nested deeper than the limit (not fields)",
        "admitted",
        `{ ${"... on Query { ".repeat(MAX_DEPTH + 5)} me { id } ${"} ".repeat(MAX_DEPTH + 5)}}`,
      ],
    ])("%s: %s", (_name, verdict, document) => {
      expect(limitMessages(document)).toEqual(verdict === "admitted" ? [] : [TOO_COMPLEX]);
    });

    it("measures a fragment once however often it is spread, so an exponential fan-out is refused at once", () => {
      // F30 expands to 2^30 aliases; measuring it spread by spread would never finish.
      const fragments = [
        "fragment F0 on User { a: id }",
        ...Array.from({ length: 30 }, (_, i) => `fragment F${i + 1} on User { ...F${i} ...F${i} }`),
      ];
      const started = performance.now();

      const messages = allMessages(`{ me { ...F30 } } ${fragments.join(" ")}`);

      expect(messages).toEqual([TOO_COMPLEX]);
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it.each([
      [
        "two fragments spreading each other",
        "{ me { ...A } } fragment A on User { id ...B } fragment B on User { id ...A }",
        ['Cannot spread fragment "A" within itself via "B".'],
      ],
      ["a fragment spreading itself", "{ me { ...A } } fragment A on User { id ...A }", ['Cannot spread fragment "A" within itself.']],
    ])("ends on %s and leaves the refusal to graphql-js's cycle rule", (_name, document, expected) => {
      expect(limitMessages(document)).toEqual([]);
      expect(allMessages(document)).toEqual(expected);
    });

    it("does not name any limit in its message", () => {
      expect(TOO_COMPLEX).not.toMatch(/\d/);
      expect(TOO_COMPLEX).not.toMatch(/depth|alias|directive|token/i);
    });
  });

  describe("one sensitive mutation per document", () => {
    it.each([
      ["one signin", `mutation { ${SIGNIN} }`],
      ["one aliased signin", `mutation { login: ${SIGNIN} }`],
      ["one signout", "mutation { signout }"],
      ["one signin through a fragment", `mutation { ...S } fragment S on Mutation { ${SIGNIN} }`],
      ["two operations, one sensitive", `mutation A { ${SIGNIN} } query B { me { id } }`],
    ])("admits %s", (_name, document) => {
      expect(limitMessages(document)).toEqual([]);
    });

    it.each([
      ["the same signin twice", `mutation { ${SIGNIN} ${SIGNIN} }`],
      ["two aliased signins", `mutation { a: ${SIGNIN} b: ${SIGNIN} }`],
      ["50 aliased signins", `mutation ($i: SigninInput!) { ${times(50, (i) => `a${i}: signin(input: $i) { token }`)} }`],
      ["signin in two operations of one document", `mutation A { ${SIGNIN} } mutation B { ${SIGNIN} }`],
      ["signin and signout", `mutation { signout ${SIGNIN} }`],
      [
        "createSession and selectRole",
        'mutation { createSession(input: { token: "t" }) { token } selectRole(input: { businessFunction: "B", orgIdentifier: "O" }) { token } }',
      ],
      ["a second signin smuggled through a fragment", `mutation { ${SIGNIN} ...S } fragment S on Mutation { again: ${SIGNIN} }`],
      ["one fragment spread twice", `mutation { ...S ... on Mutation { ...S } } fragment S on Mutation { ${SIGNIN} }`],
      ["signin in an inline fragment beside another", `mutation { ${SIGNIN} ... on Mutation { signout } }`],
    ])("refuses %s, once", (_name, document) => {
      expect(limitMessages(document).filter((m) => m === ONE_SENSITIVE_MUTATION)).toEqual([ONE_SENSITIVE_MUTATION]);
    });
  });
});

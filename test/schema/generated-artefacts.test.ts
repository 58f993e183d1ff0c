/**
 * Generated files are generated (STYLE.md 9): schema/schema.graphql is what the resolvers
 * build and what the server runs, it keeps every name of the contract, and the typed
 * operations the tests send are what codegen makes of it today.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isRequiredArgument,
  isRequiredInputField,
  isScalarType,
  lexicographicSortSchema,
  printSchema,
  type GraphQLNamedType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from "graphql";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { schemaSDL } from "../../src/graph/schema.js";
import { Stack } from "../support/harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMA_FILE = `${ROOT}schema/schema.graphql`;

/**
 * The schema of shared/contracts/graphql-api.md, copied here so the test needs nothing
 * outside the repository. Names and shapes are the contract: more may be added, none of
 * these may be renamed, removed or retyped.
 */
const CONTRACT_SDL = /* GraphQL */ `
  scalar DateTime

  enum AuthProvider { SPINE IDP }

  type Query {
    me: User
    session: Session
  }

  type Mutation {
    createSession(input: CreateSessionInput!): SessionPayload!
    selectRole(input: SelectRoleInput!): SessionPayload!
    signin(input: SigninInput!): SessionPayload!
    signout: Boolean!
  }

  input CreateSessionInput { token: String! }
  input SelectRoleInput { businessFunction: String!, orgIdentifier: String! }
  input SigninInput { email: String!, password: String! }

  type SessionPayload {
    token: String
    session: Session!
  }

  type Session {
    id: ID!
    provider: AuthProvider!
    user: User!
    permission: Permission
    roleSelected: Boolean!
    createdAt: DateTime!
    expiresAt: DateTime!
  }

  type User {
    id: ID!
    provider: AuthProvider!
    identifier: String!
    displayName: String!
    firstName: String
    middleName: String
    lastName: String
    email: String
    active: Boolean
    groups: [String!]!
    permissions: [Permission!]!
    profiles: [Profile!]!
    lastLoginAt: DateTime
  }

  type Permission {
    businessFunction: String!
    orgIdentifier: String!
    orgName: String
  }

  type Profile {
    type: String!
    id: ID!
    catchment: [String!]!
  }
`;

/** SDL printed one canonical way: sorted, so that only real differences differ. */
function canonical(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema));
}

/** How a contract type falls short in `ours`: one line per missing or changed name. */
function departures(contractType: GraphQLNamedType, ours: GraphQLSchema): string[] {
  const name = contractType.name;
  const actual = ours.getType(name);
  if (actual === undefined || actual === null) return [`${name}: missing`];
  const problems: string[] = [];
  const kind = (type: GraphQLNamedType): string =>
    isObjectType(type) ? "object" : isInputObjectType(type) ? "input" : isEnumType(type) ? "enum" : isScalarType(type) ? "scalar" : isInterfaceType(type) ? "interface" : "union";
  if (kind(actual) !== kind(contractType)) return [`${name}: is ${kind(actual)}, contract says ${kind(contractType)}`];

  if (isEnumType(contractType) && isEnumType(actual)) {
    const values = new Set(actual.getValues().map((value) => value.name));
    for (const value of contractType.getValues()) if (!values.has(value.name)) problems.push(`${name}.${value.name}: missing`);
  }
  if (isInputObjectType(contractType) && isInputObjectType(actual)) {
    const fields = actual.getFields();
    for (const field of Object.values(contractType.getFields())) {
      const mine = fields[field.name];
      if (mine === undefined) problems.push(`${name}.${field.name}: missing`);
      else if (String(mine.type) !== String(field.type)) problems.push(`${name}.${field.name}: ${String(mine.type)}, contract says ${String(field.type)}`);
    }
    // A new required input field would break every client that sends the contract's shape.
    for (const field of Object.values(fields)) {
      if (contractType.getFields()[field.name] === undefined && isRequiredInputField(field)) problems.push(`${name}.${field.name}: required, not in the contract`);
    }
  }
  if (isObjectType(contractType) && isObjectType(actual)) {
    const fields = actual.getFields();
    for (const field of Object.values(contractType.getFields())) {
      const mine = fields[field.name];
      if (mine === undefined) {
        problems.push(`${name}.${field.name}: missing`);
        continue;
      }
      if (String(mine.type) !== String(field.type)) problems.push(`${name}.${field.name}: ${String(mine.type)}, contract says ${String(field.type)}`);
      for (const arg of field.args) {
        const myArg = mine.args.find((candidate) => candidate.name === arg.name);
        if (myArg === undefined) problems.push(`${name}.${field.name}(${arg.name}): missing`);
        else if (String(myArg.type) !== String(arg.type)) problems.push(`${name}.${field.name}(${arg.name}): ${String(myArg.type)}, contract says ${String(arg.type)}`);
      }
      for (const arg of mine.args) {
        if (!field.args.some((candidate) => candidate.name === arg.name) && isRequiredArgument(arg)) {
          problems.push(`${name}.${field.name}(${arg.name}): required, not in the contract`);
        }
      }
    }
  }
  return problems;
}

describe("schema/schema.graphql", () => {
  let file: string;
  beforeAll(async () => {
    file = await readFile(SCHEMA_FILE, "utf8");
  });

  it("is what the resolvers build (run `npm run schema` to update it)", async () => {
    const built = await schemaSDL();

    // A diff here means the file is stale or was edited by hand: run `npm run schema`.
    expect({ file: "schema/schema.graphql (run `npm run schema`)", sdl: file }).toEqual({ file: "schema/schema.graphql (run `npm run schema`)", sdl: built });
  });

  describe("against the running server", () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start();
    });
    afterAll(() => stack.close());

    it("is the schema the server answers introspection with", async () => {
      const query = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true });
      const result = await stack.post({ query });
      expect(result.errors).toBeUndefined();

      const served = buildClientSchema(result.data as IntrospectionQuery);

      expect(canonical(served)).toBe(canonical(buildSchema(file)));
    });
  });

  describe("against the contract (shared/contracts/graphql-api.md)", () => {
    const contract = buildSchema(CONTRACT_SDL);
    const contractTypes = Object.values(contract.getTypeMap()).filter((type) => !type.name.startsWith("__") && !["String", "Boolean", "ID", "Int", "Float"].includes(type.name));

    it("has every type of the contract", () => {
      expect(contractTypes.map((type) => type.name).sort()).toEqual(
        ["AuthProvider", "CreateSessionInput", "DateTime", "Mutation", "Permission", "Profile", "Query", "SelectRoleInput", "Session", "SessionPayload", "SigninInput", "User"].sort(),
      );
    });

    it.each(contractTypes.map((type) => [type.name, type] as const))("keeps %s with every field, argument and nullability of the contract", (_name, type) => {
      const ours = buildSchema(file);

      expect(departures(type, ours)).toEqual([]);
    });

    it("uses Query and Mutation as the root types", () => {
      const ours = buildSchema(file);

      expect(ours.getQueryType()?.name).toBe("Query");
      expect(ours.getMutationType()?.name).toBe("Mutation");
    });

    it("notices a departure from the contract (the check itself can fail)", () => {
      const drifted = buildSchema(CONTRACT_SDL.replace("token: String\n", "token: String!\n").replace("lastLoginAt: DateTime", "lastLogin: DateTime"));

      expect(departures(contract.getType("SessionPayload")!, drifted)).toEqual(["SessionPayload.token: String!, contract says String"]);
      expect(departures(contract.getType("User")!, drifted)).toEqual(["User.lastLoginAt: missing"]);
    });
  });
});

/**
 * Runs codegen with the project's codegen.yml in a plain node child, writing nothing, and
 * answers what it would write. Not in-process: jest's ESM loader cannot load the codegen
 * plugins (they `require` ESM-only packages such as auto-bind, and importing them instead trips
 * jest's module cache). Not `graphql-codegen --check` either: that answers only by exit code,
 * while this shows the difference.
 */
async function codegenOutput(): Promise<Array<{ filename: string; content: string }>> {
  const script = `
    import { generate, loadCodegenConfig } from "@graphql-codegen/cli";
    const { config } = await loadCodegenConfig({ configFilePath: "codegen.yml" });
    const outputs = await generate({ ...config, cwd: process.cwd(), silent: true }, false);
    process.stdout.write(JSON.stringify(outputs.map(({ filename, content }) => ({ filename, content }))));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "" } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`codegen failed (exit ${code}): ${stderr}`);
  return JSON.parse(stdout) as Array<{ filename: string; content: string }>;
}

describe("codegen output", () => {
  let outputs: Array<{ filename: string; content: string }>;
  beforeAll(async () => {
    outputs = await codegenOutput();
  }, 60_000);

  it.each([
    ["test/generated/operations.ts", "the operations the tests send (test/operations)"],
    ["web/src/graphql.ts", "the example app's operations (web/operations)"],
  ])("%s is what codegen makes of schema/schema.graphql and %s today (run `npm run codegen` to update it)", async (file) => {
    const generated = outputs.find((output) => output.filename.endsWith(file));
    expect(generated).toBeDefined();
    const committed = await readFile(`${ROOT}${file}`, "utf8");

    expect({ file: `${file} (run \`npm run codegen\`)`, content: committed }).toEqual({ file: `${file} (run \`npm run codegen\`)`, content: generated!.content });
  });
});

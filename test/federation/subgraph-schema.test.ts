/**
 * Generated files are generated (STYLE.md 9): schema/subgraph.graphql is what a router composes
 * (the `_service { sdl }` answer), and building it leaves the public schema as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { subgraphSDL } from "../../src/graph/federation/subgraph.js";
import { schemaSDL } from "../../src/graph/schema.js";
import { Stack } from "../support/harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ROUTER_SECRET = "subgraph-schema-test-router-secret-0123456789";

describe("schema/subgraph.graphql", () => {
  let file: string;
  beforeAll(async () => {
    file = await readFile(`${ROOT}schema/subgraph.graphql`, "utf8");
  });

  it("is what the resolvers build (run `npm run schema` to update it)", async () => {
    const built = await subgraphSDL();

    expect({ file: "schema/subgraph.graphql (run `npm run schema`)", sdl: file }).toEqual({
      file: "schema/subgraph.graphql (run `npm run schema`)",
      sdl: built,
    });
  });

  it("makes Session and User entities keyed by id, with the credentials inaccessible", () => {
    expect(file).toMatch(/type Session\s+@key\(fields: "id"\)/);
    expect(file).toMatch(/type User\s+@key\(fields: "id"\)/);
    expect(file).toMatch(/credentials: SessionCredentials @inaccessible/);
    for (const type of ["SessionCredentials", "SpineSessionCredentials", "IdpSessionCredentials"])
      expect(file).toMatch(new RegExp(`type ${type}\\s+@inaccessible\\b`));
  });

  it("leaves the public schema as schema/schema.graphql, whichever is built first", async () => {
    await subgraphSDL();

    expect(await schemaSDL()).toBe(await readFile(`${ROOT}schema/schema.graphql`, "utf8"));
  });

  describe("against the running server", () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start({ env: { FEDERATION_ROUTER_SECRET: ROUTER_SECRET } });
    });
    afterAll(() => stack.close());

    it("is what /subgraph answers `_service { sdl }` with", async () => {
      const response = await fetch(`${stack.url}/subgraph`, {
        method: "POST",
        headers: { "content-type": "application/json", "router-secret": ROUTER_SECRET },
        body: JSON.stringify({ query: "{ _service { sdl } }" }),
      });

      const body = (await response.json()) as { data: { _service: { sdl: string } } };
      expect(`${body.data._service.sdl}\n`).toBe(file);
    });

    it("sends no inline trace, even to a router that asks for one", async () => {
      const response = await fetch(`${stack.url}/subgraph`, {
        method: "POST",
        headers: { "content-type": "application/json", "router-secret": ROUTER_SECRET, "apollo-federation-include-trace": "ftv1" },
        body: JSON.stringify({ query: "{ session { id } }" }),
      });

      expect(await response.json()).toEqual({ data: { session: null } });
    });
  });
});

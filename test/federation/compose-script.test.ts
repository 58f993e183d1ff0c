/**
 * `npm run compose` (scripts/compose-supergraph.ts), as an operator runs it: the built script, a
 * config in rover's shape as JSON, the committed subgraph SDL, no network.
 */
import { describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SUBGRAPH_SDL = resolve("schema/subgraph.graphql");

const REFERRALS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@shareable"])
  type Session @key(fields: "id") {
    id: ID!
    credentials: SessionCredentials @external
    referrals: [String!]! @requires(fields: "credentials { spine { sessionKey asid } }")
  }
  type SessionCredentials @shareable {
    spine: SpineSessionCredentials
  }
  type SpineSessionCredentials @shareable {
    sessionKey: String!
    asid: String!
  }
`;

function compose(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The built script (npm test builds first), as `npm run compose` runs it.
  const child = spawn(process.execPath, ["dist/scripts/compose-supergraph.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((done) =>
    child.on("exit", (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr });
    }),
  );
}

/** A config folder: the referrals SDL beside it (a relative path), the gateway's SDL by absolute path. */
function configWith(referralsSdl: string): string {
  const folder = mkdtempSync(join(tmpdir(), "compose-"));
  writeFileSync(join(folder, "referrals.graphql"), referralsSdl);
  const config = join(folder, "supergraph.json");
  writeFileSync(
    config,
    JSON.stringify({
      subgraphs: {
        auth: { routing_url: "http://127.0.0.1:4000/subgraph", schema: { file: SUBGRAPH_SDL } },
        referrals: { routing_url: "http://127.0.0.1:4100/graphql", schema: { file: "referrals.graphql" } },
      },
    }),
  );
  return config;
}

describe("npm run compose", () => {
  it("writes the supergraph of the gateway's subgraph and another, with the credentials kept inaccessible", async () => {
    const config = configWith(REFERRALS_SDL);
    const out = join(config, "..", "supergraph.graphql");

    const run = await compose(["--config", config, "--out", out]);

    expect(run).toMatchObject({ code: 0, stderr: "" });
    const supergraph = readFileSync(out, "utf8");
    expect(supergraph).toMatch(/AUTH @join__graph\(name: "auth", url: "http:\/\/127\.0\.0\.1:4000\/subgraph"\)/);
    expect(supergraph).toMatch(/credentials: SessionCredentials[^\n]*@inaccessible/);
    expect(supergraph).toMatch(/referrals: \[String!\]![^\n]*requires: "credentials/);
  });

  it("prints each composition error and exits with 1", async () => {
    const config = configWith(REFERRALS_SDL.replace("referrals: [String!]!", "referrals: [Nope!]!"));

    const run = await compose(["--config", config]);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^composition failed:\n.*Nope/);
  });
});

/**
 * Generated files are generated (STYLE.md 9): docs/configuration.md's settings table is what
 * the declarations in src/config/settings.ts say, so the docs cannot drift from what loadConfig reads.
 */
import { describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config/config.js";
import { SETTINGS } from "../../src/config/settings.js";
import { withSettingsTable } from "../../src/config/settings-table.js";

const DOC = fileURLToPath(new URL("../../docs/configuration.md", import.meta.url));
const SIMULATORS = { asid: "999000000001", clientId: "sim-client", apiToken: "sim-api-token" };

describe("docs/configuration.md", () => {
  it("holds the settings table generated from the declarations (run `npm run docs:settings` to update it)", async () => {
    const file = await readFile(DOC, "utf8");

    expect(file).toBe(withSettingsTable(file));
  });

  it("documents every setting loadConfig reads, and no other", async () => {
    const file = await readFile(DOC, "utf8");
    const documented = [...file.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    // Every name loadConfig looks up in the environment, seen by a recording env.
    const read = new Set<string>();
    loadConfig(new Proxy({}, { get: (_, name) => (read.add(String(name)), undefined) }), SIMULATORS);

    expect(documented.sort()).toEqual([...read].sort());
    expect(documented.sort()).toEqual(Object.keys(SETTINGS).sort());
  });
});

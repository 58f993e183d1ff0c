/**
 * The benchmark's smoke mode, end to end, so that `npm run bench` cannot rot unnoticed. It
 * asserts the table is complete and the run clean, never how fast anything was: speed is
 * measured by `npm run bench` on a quiet machine, not by a test.
 */
import { describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROWS = [
  "baseline: bare node:http, fixed JSON",
  "baseline: Apollo Server hello world",
  "baseline: bare proxy, signin's upstream calls",
  "gateway: warm me",
  "gateway /subgraph: warm me",
  "Hive Gateway → /subgraph: warm me",
  "gateway: signin",
  "gateway: Spine createSession + selectRole",
  "gateway: 100 concurrent cold me, one session",
];

function runSmoke(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // The built script (npm test builds first), as `npm run bench -- --smoke` runs it.
  const child = spawn(process.execPath, ["dist/scripts/bench/main.js", "--smoke", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

/** The cells of the table's row whose first cell is `name`. */
function cells(table: string, name: string): string[] | undefined {
  const line = table.split("\n").find((l) => l.startsWith(`| ${name} `));
  return line
    ?.split("|")
    .slice(1, -1)
    .map((cell) => cell.trim());
}

describe("npm run bench -- --smoke", () => {
  it("measures every row without an error, counts one user-info call for the cold burst, and writes the results file", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "bench-smoke-")), "results.md");
    const run = await runSmoke(out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);

    const results = readFileSync(out, "utf8");
    expect(results).toMatch(/^- Date: \d{4}-\d\d-\d\dT/m);
    expect(results).toMatch(/^- Command: `npm run bench -- --smoke/m);
    expect(results).toMatch(/^- Machine: Node v\d+/m);
    for (const name of ROWS) {
      const row = cells(results, name);
      expect(row).toBeDefined();
      const [, rps, ratio, p50, p99, errors] = row!;
      for (const figure of [rps, ratio, p50, p99]) expect(Number.isFinite(Number(figure)) && Number(figure) >= 0).toBe(true);
      expect(Number(rps)).toBeGreaterThan(0);
      expect(errors).toBe("0");
    }
    expect(cells(results, "gateway: 100 concurrent cold me, one session")![6]).toBe("1 upstream user-info call(s)");
    expect(cells(results, "100 concurrent cold me → 1 user-info call")).toEqual(["100 concurrent cold me → 1 user-info call", "1", "yes"]);
    expect(results).toMatch(
      /Memory per live session \(2000 sessions of one kind in the in-memory store, after a full GC\): IdP \d+ B heap, -?\d+ B RSS; Spine, the whole user kept, a role selected: \d+ B heap, -?\d+ B RSS/,
    );
    expect(cells(results, "≤ 1 KB resident memory per live IdP session")?.[1]).toMatch(/KB RSS, .* KB heap \(2000 sessions\)$/);
  }, 180_000);
});

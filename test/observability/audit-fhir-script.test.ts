import { spawnSync } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { AuditTrail, type AuditEvent } from "../../src/observability/audit.js";
import { toFhirAuditEvent } from "../../src/observability/fhir.js";

/** `npm run audit:fhir` as an operator runs it: the built script, the trail's lines on its standard input. */
function auditFhir(input: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ["dist/scripts/audit-fhir.js"], { input, encoding: "utf8", timeout: 10_000 });
}

describe("npm run audit:fhir", () => {
  it("renders each line the audit trail writes as a FHIR AuditEvent", () => {
    const lines: string[] = [];
    const trail = new AuditTrail({
      destination: { write: (line: string) => lines.push(line) },
      log: pino({ level: "silent" }),
      now: () => Date.parse("2026-11-21T09:00:00Z"),
      spineAsid: "200000000220",
    });
    trail.record({ requestId: "r1", clientAddress: "203.0.113.7" }, "signin", "failure", { provider: null, reason: "UNAUTHENTICATED" });
    trail.record({ requestId: "r2", clientAddress: "203.0.113.7" }, "refused.rate_limited", "failure", { provider: null, reason: "signin" });

    const { status, stdout, stderr } = auditFhir(lines.join(""));

    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    const expected = lines.map((line) => toFhirAuditEvent(JSON.parse(line) as AuditEvent));
    expect(
      stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual(expected);
    expect(expected[0]).toMatchObject({ resourceType: "AuditEvent", outcome: "4", outcomeDesc: "UNAUTHENTICATED" });
  });

  it("names a line that is not an audit event, skips it and exits 1", () => {
    const { status, stdout, stderr } = auditFhir('{"level":30,"msg":"request"}\n');

    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe("audit:fhir: line 1 is not an audit event; skipped\n");
  });
});

/**
 * `npm run audit:fhir`: the audit trail's JSON lines on standard input, as FHIR R4 AuditEvent
 * resources (one JSON line each) on standard output, for a FHIR server or a SIEM that reads
 * them (docs/operations.md). A line that is not an audit event is named on standard error and
 * skipped; the exit code is then 1.
 */
import { createInterface } from "node:readline";
import type { AuditEvent } from "../src/observability/audit.js";
import { toFhirAuditEvent } from "../src/observability/fhir.js";

let lineNumber = 0;
let refused = 0;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  lineNumber += 1;
  if (line.trim() === "") continue;
  const event = auditEvent(line);
  if (event === undefined) {
    refused += 1;
    process.stderr.write(`audit:fhir: line ${lineNumber} is not an audit event; skipped\n`);
    continue;
  }
  process.stdout.write(`${JSON.stringify(toFhirAuditEvent(event))}\n`);
}
process.exitCode = refused === 0 ? 0 : 1;

function auditEvent(line: string): AuditEvent | undefined {
  try {
    // The trail's own lines: the checks tell them from other JSON (a log line fed in by mistake).
    const value = JSON.parse(line) as Partial<AuditEvent> | null;
    const shaped = typeof value?.event === "string" && typeof value.time === "string" && (value.outcome === "success" || value.outcome === "failure");
    return shaped ? (value as AuditEvent) : undefined;
  } catch {
    return undefined;
  }
}

import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { SHUTDOWN_LIMIT_MS } from "../../src/composition/lifecycle.js";
import { OUTPUT_CLOSE_TIMEOUT_MS } from "../../src/logging/stream-output.js";
import { CreateSessionDocument } from "../generated/operations.js";
import { GatewayProcess } from "../support/gateway-process.js";
import { spineUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

describe("graceful shutdown", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("finishes a request in progress, then stops taking new connections", async () => {
    stack.spine.inject("A001", { kind: "latency", ms: 400, times: 1 });
    const before = stack.spine.calls("A001").length;
    const inProgress = stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    // In progress: its A001 is at Spine (logged there before the latency holds it).
    await waitFor(() => stack.spine.calls("A001").length > before, { what: "the A001 at Spine" });

    const closed = stack.gateway.close();
    const result = await inProgress;
    await closed;

    expect(result.status).toBe(200);
    expect(result.data?.createSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(fetch(`${stack.url}/healthz`)).rejects.toThrow();
  });
});

/**
 * Issue 14: SIGTERM ends the gateway process within a bound whatever its standard output's
 * reader does, through real pipes. The time from the signal to the process's exit is measured.
 */
describe("shutdown of the gateway process, whatever its standard output's reader does", () => {
  let gateway: GatewayProcess | undefined;
  afterEach(async () => {
    await gateway?.kill();
    gateway = undefined;
  });

  /** Log lines of 128-character request ids, until `bytes` more have been read from stdout. */
  async function logUntilRead(bytes: number): Promise<void> {
    const target = gateway!.stdoutBytes + bytes;
    while (gateway!.stdoutBytes < target) await requests(20);
  }

  async function requests(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, () => fetch(`${gateway!.url}/healthz`, { headers: { "x-request-id": `r-${randomUUID()}`.padEnd(128, "x") } })),
    );
  }

  /**
   * A reader that read 400 KB of log lines and stopped; the gateway goes on logging past what the
   * pipe and the reader's buffer hold (a few hundred KB), so its writes are waiting when the signal comes.
   */
  async function stalledReader(env: Record<string, string> = {}): Promise<void> {
    gateway = await GatewayProcess.start("stalled-reader", env);
    await logUntilRead(400 * 1024);
    gateway.child.stdout!.pause();
    // About 900 KB more of lines: well past what the pipe can hold.
    for (let i = 0; i < 120; i++) await requests(20);
  }

  async function timeToExit(signalled: Promise<void> | void): Promise<number> {
    const started = performance.now();
    await signalled;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gateway!.exited, new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_LIMIT_MS + 2_000)))]);
    clearTimeout(timer);
    expect(gateway!.running).toBe(false);
    return performance.now() - started;
  }

  /** The exit notices on stderr: how many lines each output dropped. */
  function droppedAtExit(): Record<string, number> {
    const notices = gateway!.errorOutput.split("\n").filter((line) => line.includes("lines dropped"));
    return Object.fromEntries(
      notices.map((line) => JSON.parse(line) as { output: string; dropped: number }).map(({ output, dropped }) => [output, dropped]),
    );
  }

  it("exits within the output's close bound when the reader stopped reading after 400 KB, counting the lines it could not write", async () => {
    await stalledReader();

    gateway!.child.kill("SIGTERM");
    const ms = await timeToExit();

    process.stdout.write(
      `stalled reader: SIGTERM to exit ${Math.round(ms)} ms, exit code ${gateway!.child.exitCode}, dropped ${JSON.stringify(droppedAtExit())}\n`,
    );
    expect(ms).toBeLessThan(OUTPUT_CLOSE_TIMEOUT_MS + 1_500);
    expect(gateway!.child.exitCode).toBe(0);
    expect(droppedAtExit()["log"]).toBeGreaterThan(0);
  });

  it("exits within the same bound when the audit trail shares the stalled stream (AUDIT_LOG=stdout) with events waiting", async () => {
    await stalledReader({ AUDIT_LOG: "stdout" });
    const opened = await gateway!.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    expect(opened.errors).toBeUndefined();

    gateway!.child.kill("SIGTERM");
    const ms = await timeToExit();

    process.stdout.write(
      `stalled reader with the audit trail on it: SIGTERM to exit ${Math.round(ms)} ms, dropped ${JSON.stringify(droppedAtExit())}\n`,
    );
    expect(ms).toBeLessThan(OUTPUT_CLOSE_TIMEOUT_MS + 1_500);
    expect(droppedAtExit()).toEqual({ log: expect.any(Number), audit: 1 });
  });

  it("exits at once when the reader, stalled, goes away right after the signal", async () => {
    await stalledReader();

    gateway!.child.kill("SIGTERM");
    gateway!.child.stdout!.destroy();
    const ms = await timeToExit();

    process.stdout.write(`reader gone after the signal: SIGTERM to exit ${Math.round(ms)} ms, exit code ${gateway!.child.exitCode}\n`);
    expect(ms).toBeLessThan(1_000);
    expect(gateway!.child.exitCode).toBe(0);
  });

  it("exits at once on a second signal while the first shutdown waits on the reader", async () => {
    await stalledReader();
    gateway!.child.kill("SIGTERM");
    // The first signal has been taken once the listener is closed.
    while (
      await fetch(`${gateway!.url}/healthz`).then(
        () => true,
        () => false,
      )
    );

    gateway!.child.kill("SIGTERM");
    const ms = await timeToExit();

    process.stdout.write(`second signal: to exit ${Math.round(ms)} ms, exit code ${gateway!.child.exitCode}\n`);
    expect(ms).toBeLessThan(500);
    expect(gateway!.child.exitCode).toBe(1);
  });

  it("serves with its standard output closed from the start, counting the log lines it drops, and stops at once", async () => {
    gateway = await GatewayProcess.start("stdout-closed", {}, 15_000, { stdoutClosed: true });
    await requests(5);

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const dropped = Number(/^gateway_log_lines_dropped_total (\d+)$/m.exec(metrics)?.[1]);
    const ms = await timeToExit(void gateway.child.kill("SIGTERM"));

    process.stdout.write(`stdout closed at start-up: ${dropped} lines dropped, SIGTERM to exit ${Math.round(ms)} ms\n`);
    expect(dropped).toBeGreaterThanOrEqual(5);
    expect(ms).toBeLessThan(1_000);
    expect(gateway.child.exitCode).toBe(0);
  });
});

/**
 * The log on standard output, as a deployment reads it: lines are buffered (a write per line was
 * a sixth of a warm request's time), so these pin that buffering loses nothing and holds nothing
 * back for long.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "@jest/globals";
import { GatewayProcess } from "../support/gateway-process.js";
import { waitFor } from "../support/wait.js";

describe("the gateway's log on standard output", () => {
  let gateway: GatewayProcess | undefined;
  afterEach(async () => {
    await gateway?.kill();
    gateway = undefined;
  });

  it("shows a request's line within moments of the answer, however quiet the gateway is", async () => {
    const quiet = (gateway = await GatewayProcess.start("quiet", {}));
    const requestId = `quiet-${randomUUID()}`;
    await fetch(`${quiet.url}/healthz`, { headers: { "x-request-id": requestId } });

    // "Within moments": 2 s, however long the log's buffer would otherwise hold the line.
    const line = await waitFor(() => quiet.output.split("\n").find((candidate) => candidate.includes(requestId)), {
      timeoutMs: 2_000,
      what: "the request's line",
    });

    expect(JSON.parse(line)).toMatchObject({ msg: "request", requestId, path: "/healthz", status: 200 });
  });

  it("writes every line still pending before it exits on SIGTERM", async () => {
    gateway = await GatewayProcess.start("stopping", {});
    const requestIds = Array.from({ length: 5 }, () => `stopping-${randomUUID()}`);
    for (const requestId of requestIds) await fetch(`${gateway.url}/healthz`, { headers: { "x-request-id": requestId } });

    // At once: the last lines, and the shutdown's own, are still in the buffer when it starts.
    await gateway.stop();

    const lines = gateway.output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line["msg"] === "request").map((line) => line["requestId"])).toEqual(expect.arrayContaining(requestIds));
    expect(lines.at(-1)).toMatchObject({ msg: "shutting down", signal: "SIGTERM" });
  });
});

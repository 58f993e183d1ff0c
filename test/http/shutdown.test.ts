import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateSessionDocument } from "../generated/operations.js";
import { spineUser, Stack } from "../support/harness.js";

describe("graceful shutdown", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("finishes a request in progress, then stops taking new connections", async () => {
    stack.spine.inject("A001", { kind: "latency", ms: 400, times: 1 });
    const inProgress = stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const closed = stack.gateway.close();
    const result = await inProgress;
    await closed;

    expect(result.status).toBe(200);
    expect(result.data?.createSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(fetch(`${stack.url}/healthz`)).rejects.toThrow();
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type Fault, type SimulatorHandle } from "../../src/simulators/index.js";
import { PROFESSIONAL_SESSION, send } from "./http.js";
import { waitFor } from "../support/wait.js";

/** One backend as this suite drives it: a route that succeeds and another route, both as raw fetches. */
interface Backend {
  name: string;
  start(): Promise<SimulatorHandle>;
  route: string;
  successStatus: number;
  succeed(sim: SimulatorHandle): Promise<Response>;
  otherRoute: string;
  otherStatus: number;
  other(sim: SimulatorHandle): Promise<Response>;
}

const idpHeaders = { client_id: IDP_DEMO.clientId, "X-Auth-Token": IDP_DEMO.apiToken };

// The same suite runs against both simulators: the machinery is shared, so must be its behaviour.
const backends: Backend[] = [
  {
    name: "Spine",
    start: () => startSpineSimulator(),
    route: "A001",
    successStatus: 201,
    succeed: (sim) =>
      fetch(`${sim.url}/v1/ProfessionalSession`, {
        method: "POST",
        headers: { XAPI_ASID: SPINE_DEMO.asid, "Content-Type": "application/json" },
        body: JSON.stringify({ typeInfo: PROFESSIONAL_SESSION, token: SPINE_DEMO.users[0]!.smartcardToken }),
      }),
    otherRoute: "A003",
    otherStatus: 403,
    other: (sim) => fetch(`${sim.url}/v1/ProfessionalSession/unknown`, { method: "DELETE", headers: { XAPI_ASID: SPINE_DEMO.asid } }),
  },
  {
    name: "IdP",
    start: () => startIdpSimulator(),
    route: "signin",
    successStatus: 200,
    succeed: (sim) =>
      fetch(`${sim.url}/api/1.0/sso/signin`, {
        method: "POST",
        headers: idpHeaders,
        body: new URLSearchParams({ email: IDP_DEMO.users[0]!.email, password: IDP_DEMO.users[0]!.password }),
      }),
    otherRoute: "userinfo",
    otherStatus: 401,
    other: (sim) => fetch(`${sim.url}/api/1.0/sso/token/unknown`, { headers: idpHeaders }),
  },
];

/** How fetch fails when the server closes the connection instead of answering. */
const SOCKET_CLOSED = { message: "fetch failed", cause: { code: "UND_ERR_SOCKET" } };

async function statusOf(response: Promise<Response>): Promise<number> {
  const res = await response;
  await res.arrayBuffer();
  return res.status;
}

describe.each(backends)("$name simulator machinery", (backend) => {
  let sim: SimulatorHandle;
  beforeAll(async () => {
    sim = await backend.start();
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.clearFaults();
    sim.resetCalls();
  });

  describe("faults", () => {
    it("answers normally when no fault is armed", async () => {
      expect(await statusOf(backend.succeed(sim))).toBe(backend.successStatus);
    });

    it("delays the answer by a latency fault, then answers normally", async () => {
      sim.inject(backend.route, { kind: "latency", ms: 300 });
      const started = performance.now();
      const status = await statusOf(backend.succeed(sim));
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(status).toBe(backend.successStatus);
    });

    it("answers a status fault with a small HTML error page by default", async () => {
      sim.inject(backend.route, { kind: "status", status: 502 });
      const res = await backend.succeed(sim);
      expect(res.status).toBe(502);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await res.text()).toMatch(/<html>.*502.*<\/html>/);
    });

    it("answers a status fault with the given body and content type", async () => {
      sim.inject(backend.route, { kind: "status", status: 429, body: "slow down", contentType: "text/plain" });
      const res = await backend.succeed(sim);
      expect(res.status).toBe(429);
      expect(res.headers.get("content-type")).toBe("text/plain");
      expect(await res.text()).toBe("slow down");
    });

    it("answers a garbage fault with 200 JSON that does not parse", async () => {
      sim.inject(backend.route, { kind: "garbage" });
      const res = await backend.succeed(sim);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      // Matched by message: errors from fetch come from another realm than jest's, so instanceof fails.
      await expect(res.json()).rejects.toThrow(/not valid JSON/);
    });

    it("answers a wrong-shape fault with 200 JSON outside the contract", async () => {
      sim.inject(backend.route, { kind: "wrong-shape" });
      const res = await backend.succeed(sim);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ unexpected: true });
    });

    it("drops the connection without an answer on a drop fault, after receiving the request", async () => {
      sim.inject(backend.route, { kind: "drop" });
      await expect(backend.succeed(sim)).rejects.toMatchObject(SOCKET_CLOSED);
      expect(sim.calls(backend.route)).toHaveLength(1);
    });

    it("cuts the body short on a reset-mid-response fault", async () => {
      sim.inject(backend.route, { kind: "reset-mid-response" });
      const res = await backend.succeed(sim);
      expect(res.status).toBe(200);
      await expect(res.text()).rejects.toMatchObject({ message: "terminated", cause: SOCKET_CLOSED.cause });
    });

    it("clears a fault by itself after `times` requests", async () => {
      sim.inject(backend.route, { kind: "status", status: 503, times: 2 });
      expect(await statusOf(backend.succeed(sim))).toBe(503);
      expect(await statusOf(backend.succeed(sim))).toBe(503);
      expect(await statusOf(backend.succeed(sim))).toBe(backend.successStatus);
    });

    it("applies a fault only to its own route", async () => {
      sim.inject(backend.otherRoute, { kind: "status", status: 500 });
      expect(await statusOf(backend.succeed(sim))).toBe(backend.successStatus);
      expect(await statusOf(backend.other(sim))).toBe(500);
    });

    it('applies a "*" fault to every route, and a route\'s own fault ahead of it', async () => {
      sim.inject("*", { kind: "status", status: 500 });
      sim.inject(backend.route, { kind: "status", status: 504 });
      expect(await statusOf(backend.succeed(sim))).toBe(504);
      expect(await statusOf(backend.other(sim))).toBe(500);
    });

    it("answers normally again after clearFaults", async () => {
      sim.inject("*", { kind: "status", status: 500 });
      sim.clearFaults();
      expect(await statusOf(backend.succeed(sim))).toBe(backend.successStatus);
    });

    it("refuses an unknown route name and a malformed fault", () => {
      expect(() => sim.inject("nope", { kind: "drop" })).toThrow(/unknown route "nope"/);
      expect(() => sim.inject(backend.route, { kind: "explode" } as unknown as Fault)).toThrow(/fault.kind/);
      expect(() => sim.inject(backend.route, { kind: "drop", times: 0 })).toThrow(/times/);
      expect(() => sim.inject(backend.route, { kind: "latency", ms: -1 })).toThrow(/ms/);
      expect(() => sim.inject(backend.route, { kind: "status", status: 99 })).toThrow(/status/);
    });
  });

  describe("call log", () => {
    it("records each call's route, method, path, headers and body, in order", async () => {
      await statusOf(backend.succeed(sim));
      await statusOf(backend.other(sim));

      const calls = sim.calls();
      expect(calls.map((c) => c.route)).toEqual([backend.route, backend.otherRoute]);
      expect(calls[0]!.method).toBe("POST");
      expect(calls[0]!.body).toBeDefined();
      expect(calls[0]!.at).toBeGreaterThan(0);
      expect(calls[1]!.path).toMatch(/\/unknown$/);
      expect(calls[1]!.headers["host"]).toBe(`127.0.0.1:${sim.port}`);
      expect(sim.calls(backend.otherRoute)).toEqual([calls[1]]);
    });

    it("empties on resetCalls", async () => {
      await statusOf(backend.succeed(sim));
      sim.resetCalls();
      expect(sim.calls()).toEqual([]);
    });

    it("records calls to paths no route serves as unmatched", async () => {
      await statusOf(fetch(`${sim.url}/nowhere`));
      expect(sim.calls("unmatched")).toMatchObject([{ route: "unmatched", method: "GET", path: "/nowhere" }]);
    });

    it("refuses a route name it does not know, rather than answering an empty log", () => {
      expect(() => sim.calls("nope")).toThrow(/unknown route/);
    });
  });

  describe("HTTP control API", () => {
    it("arms a fault with POST /__sim/faults and clears faults with DELETE /__sim/faults", async () => {
      const armed = await send(`${sim.url}/__sim/faults`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ route: backend.route, fault: { kind: "status", status: 503 } }),
      });
      expect(armed.status).toBe(204);
      expect(await statusOf(backend.succeed(sim))).toBe(503);

      expect((await send(`${sim.url}/__sim/faults`, { method: "DELETE" })).status).toBe(204);
      expect(await statusOf(backend.succeed(sim))).toBe(backend.successStatus);
    });

    it.each([
      ["an unknown route", JSON.stringify({ route: "nope", fault: { kind: "drop" } }), /unknown route/],
      ["a malformed fault", JSON.stringify({ route: "*", fault: { kind: "latency" } }), /fault.ms/],
      ["no route", JSON.stringify({ fault: { kind: "drop" } }), /route/],
      ["a body that is not JSON", "route=*", /not JSON/],
    ])("answers 400 with the reason to %s", async (_, body, reason) => {
      const reply = await send(`${sim.url}/__sim/faults`, { method: "POST", body });
      expect(reply.status).toBe(400);
      expect((reply.json as { error: string }).error).toMatch(reason);
    });

    it("lists calls with GET /__sim/calls, by route with ?route=, and empties them with DELETE /__sim/calls", async () => {
      await statusOf(backend.succeed(sim));
      await statusOf(backend.other(sim));

      const all = await send(`${sim.url}/__sim/calls`);
      expect(all.status).toBe(200);
      expect((all.json as Array<{ route: string }>).map((c) => c.route)).toEqual([backend.route, backend.otherRoute]);

      const one = await send(`${sim.url}/__sim/calls?route=${backend.otherRoute}`);
      expect(one.json).toEqual(JSON.parse(JSON.stringify(sim.calls(backend.otherRoute))));

      expect((await send(`${sim.url}/__sim/calls`, { method: "DELETE" })).status).toBe(204);
      expect(sim.calls()).toEqual([]);
    });

    it("answers 404 for a control endpoint it does not have", async () => {
      expect((await send(`${sim.url}/__sim/nothing`)).status).toBe(404);
    });
  });
});

describe.each(backends)("$name simulator close()", (backend) => {
  it("ends promptly while a keep-alive connection is open", async () => {
    const sim = await backend.start();
    const agent = new Agent({ keepAlive: true });
    try {
      const socketClosed = new Promise<void>((resolve) => {
        const req = request(`${sim.url}/nowhere`, { agent }, (res) => res.resume());
        req.once("socket", (socket) => socket.once("close", () => resolve()));
        req.end();
      });
      // Answered, and the connection parked in the agent's pool, open.
      await waitFor(() => sim.calls().length === 1 && Object.keys(agent.freeSockets).length === 1);

      const started = performance.now();
      await sim.close();
      await socketClosed;
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      agent.destroy();
    }
  });

  it("ends promptly while a request waits on a latency fault, failing that request", async () => {
    const sim = await backend.start();
    sim.inject(backend.route, { kind: "latency", ms: 30_000 });
    const pending = backend.succeed(sim);
    await waitFor(() => sim.calls().length === 1);

    const started = performance.now();
    await sim.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(pending).rejects.toMatchObject(SOCKET_CLOSED);
  });

  it("ends promptly while a client is half way through sending a request", async () => {
    const sim = await backend.start();
    const socket = connect(sim.port, "127.0.0.1");
    const socketClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    // Half a request written out (headers and the start of a 100-byte body) before the simulator is closed.
    await new Promise<void>((resolve) =>
      socket.write(`POST /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"partial":`, () => resolve()),
    );

    const started = performance.now();
    await sim.close();
    await socketClosed;
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("can be called twice", async () => {
    const sim = await backend.start();
    await sim.close();
    await expect(sim.close()).resolves.toBeUndefined();
  });
});

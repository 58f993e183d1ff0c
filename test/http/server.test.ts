import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { createServer, Socket, type Server } from "node:net";
import { once } from "node:events";
import { CreateSessionDocument, MeDocument, SigninDocument } from "../generated/operations.js";
import { LOG_FIELD_MAX_CHARS } from "../../src/logging/logger.js";
import { startIdpSimulator, startSpineSimulator, type SimulatorHandle } from "../../src/simulators/index.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";
import { HostileBackend } from "../support/hostile-backend.js";
import { freePort } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

const CREATE_SESSION = "mutation ($token: String!) { createSession(input: { token: $token }) { token } }";

/** The one `"msg":"request"` line of a request, waited for: it is written when the response finishes. */
async function requestLines(stack: Stack, requestId: string, waitMs = 1_000): Promise<Array<Record<string, unknown>>> {
  const lines = (): Array<Record<string, unknown>> => stack.logs.filter((line) => line["msg"] === "request" && line["requestId"] === requestId);
  await waitFor(() => lines().length > 0, { timeoutMs: waitMs, what: `the request line of ${requestId}` });
  // A fixed wait on purpose: what is checked is that no second line comes, and an absence has no
  // event to wait for. A second line would be written in the same tick as the first; 20 ms is ample.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return lines();
}

/** A raw HTTP request, for bodies fetch cannot send (chunked, no content-length). */
function sendChunked(url: string, chunks: string[], headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/graphql`, { method: "POST", headers: { ...headers, "transfer-encoding": "chunked" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      // The server may answer 413 and close before the whole body is written.
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe("HTTP server: /graphql, /healthz, /readyz", () => {
  let stack: Stack;
  beforeAll(async () => {
    // No user-info cache: every IdP `me` asks the IdP, so a refused request shows as a missing call.
    stack = await Stack.start({ env: { USER_INFO_CACHE_TTL_SECONDS: "0" } });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.resetCalls();
    stack.idp.resetCalls();
  });

  async function idpSession(): Promise<string> {
    const result = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    expect(result.errors).toBeUndefined();
    stack.idp.resetCalls();
    return result.data!.signin.token!;
  }

  it("answers GET /healthz with 200", async () => {
    const response = await fetch(`${stack.url}/healthz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("answers GET /readyz with 200 and every check up when the store and both backends are reachable", async () => {
    const response = await fetch(`${stack.url}/readyz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ checks: { store: "up", spine: "up", idp: "up" } });
  });

  it("answers an unknown path with 404", async () => {
    const response = await fetch(`${stack.url}/graphiql`);

    expect(response.status).toBe(404);
    expect((await fetch(`${stack.url}/`)).status).toBe(404);
  });

  it("runs an operation sent with POST /graphql as JSON", async () => {
    const result = await stack.post({ query: CREATE_SESSION, variables: { token: spineUser.smartcardToken } });

    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data.createSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stack.spine.calls("A001")).toHaveLength(1);
  });

  it("runs a query sent with GET /graphql and a preflight header", async () => {
    const token = await idpSession();

    const result = await stack.get({ query: "{ me { id } }" }, { "apollo-require-preflight": "1", authorization: `Bearer ${token}` });

    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: { id: expect.stringMatching(/^idp:/) } });
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
  });

  it("refuses a mutation sent with GET and calls no backend", async () => {
    const result = await stack.get(
      { query: CREATE_SESSION, variables: JSON.stringify({ token: spineUser.smartcardToken }) },
      { "apollo-require-preflight": "1" },
    );

    expect(result.status).toBe(405);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(["BAD_REQUEST"]);
    expect(stack.spine.calls("A001")).toHaveLength(0);
  });

  it("refuses a GET query without a non-simple header (CSRF) and calls no backend", async () => {
    const token = await idpSession();

    const result = await stack.get({ query: "{ me { id } }" }, { authorization: `Bearer ${token}` });

    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors![0]!.message).toMatch(/Cross-Site Request Forgery/);
    expect(stack.idp.calls("userinfo")).toHaveLength(0);
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])(
    "refuses a POST with the simple content-type %s (CSRF) and calls no backend",
    async (contentType) => {
      const result = await stack.post(JSON.stringify({ query: CREATE_SESSION, variables: { token: spineUser.smartcardToken } }), {
        headers: { "content-type": contentType },
      });

      expect(result.status).toBe(400);
      expect(result.data).toBeUndefined();
      expect(result.errors![0]!.message).toMatch(/Cross-Site Request Forgery/);
      expect(stack.spine.calls("A001")).toHaveLength(0);
    },
  );

  it("refuses a body over 64 KiB with 413 and calls no backend", async () => {
    const result = await stack.post({ query: CREATE_SESSION, variables: { token: "x".repeat(64 * 1024) } });

    expect(result.status).toBe(413);
    expect(result.data).toBeUndefined();
    expect(stack.spine.calls("A001")).toHaveLength(0);
  });

  it("refuses a chunked body that grows over 64 KiB (no content-length) with 413 and calls no backend", async () => {
    const body = JSON.stringify({ query: CREATE_SESSION, variables: { token: "x".repeat(80 * 1024) } });
    const chunks = body.match(/[\s\S]{1,8192}/g)!;

    const response = await sendChunked(stack.url, chunks, { "content-type": "application/json" });

    expect(response.status).toBe(413);
    expect(stack.spine.calls("A001")).toHaveLength(0);
  });

  it.each([
    [64 * 1024, 200],
    [64 * 1024 + 1, 413],
  ])("draws the line at 64 KiB: a body of %i bytes gets %i", async (size, status) => {
    const head = '{"query": "{ me { id } }"';
    const body = `${head}${" ".repeat(size - head.length - 1)}}`;
    expect(Buffer.byteLength(body)).toBe(size);

    const result = await stack.post(body);

    expect(result.status).toBe(status);
  });

  it("answers a small body that reads too-large as any body that is not JSON: 400, not 413", async () => {
    const result = await stack.post("too-large");

    expect(result.status).toBe(400);
  });

  it("answers a body that is not JSON with 400", async () => {
    const result = await stack.post('{"query": "{ me { id } }"');

    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(["BAD_REQUEST"]);
  });

  it("serves the Apollo Sandbox landing page to a browser's GET /graphql outside production", async () => {
    const response = await fetch(`${stack.url}/graphql`, { headers: { accept: "text/html" } });

    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/<!DOCTYPE html>[\s\S]*sandbox/i);
  });

  it("refuses an operationName the document does not hold, or none for several operations, with 400 OPERATION_RESOLUTION_FAILURE", async () => {
    const unknown = await stack.post({ query: "{ me { id } }", operationName: "Nope" });
    const ambiguous = await stack.post({ query: "query A { me { id } } query B { session { id } }" });

    for (const result of [unknown, ambiguous]) {
      expect(result.status).toBe(400);
      expect(result.data).toBeUndefined();
      expect(codes(result)).toEqual(["OPERATION_RESOLUTION_FAILURE"]);
    }
    expect(unknown.errors![0]!.message).not.toContain("Nope");
    expect(ambiguous.errors![0]!.message).toBe("Must provide operation name if query contains multiple operations.");
  });

  it("serves a favicon, and the demo users' quick-fill data only when the gateway runs on its simulators", async () => {
    const favicon = await fetch(`${stack.url}/favicon.ico`);

    expect(favicon.status).toBe(200);
    expect(favicon.headers.get("content-type")).toBe("image/svg+xml");
    // This stack's backends are given by URL, as real ones would be.
    expect((await fetch(`${stack.url}/app/demo-users.json`)).status).toBe(404);
  });

  it("answers introspection and suggests field names outside production", async () => {
    const introspection = await stack.post({ query: "{ __schema { types { name } } }" });
    const misspelt = await stack.post({ query: "{ mee { id } }" });

    expect(introspection.status).toBe(200);
    expect(introspection.data.__schema.types.map((type: { name: string }) => type.name)).toContain("Session");
    expect(misspelt.errors![0]!.message).toMatch(/Did you mean "me"\?/);
  });

  describe("x-request-id", () => {
    it("echoes a request id the client sends and logs the request under it", async () => {
      const requestId = `req-${randomUUID()}`;

      const result = await stack.post({ query: "{ me { id } }" }, { headers: { "x-request-id": requestId } });

      expect(result.headers.get("x-request-id")).toBe(requestId);
      const lines = await requestLines(stack, requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ method: "POST", path: "/graphql", status: 200 });
    });

    it("generates a request id when none is sent, and logs the request under it", async () => {
      const result = await stack.post({ query: "{ me { id } }" });

      const requestId = result.headers.get("x-request-id");
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await requestLines(stack, requestId!)).toHaveLength(1);
    });

    it("replaces a sent request id that could forge log lines with a generated one", async () => {
      const forged = 'x"\n{"msg":"forged"}';
      const response = await fetch(`${stack.url}/healthz`, { headers: { "x-request-id": encodeURIComponent(forged).repeat(10) } });

      const requestId = response.headers.get("x-request-id");
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await requestLines(stack, requestId!)).toHaveLength(1);
    });

    it("generates a different request id for each request", async () => {
      const first = await fetch(`${stack.url}/healthz`);
      const second = await fetch(`${stack.url}/healthz`);

      expect(first.headers.get("x-request-id")).not.toBe(second.headers.get("x-request-id"));
    });
  });

  describe("request log line", () => {
    const requests: Array<[string, (requestId: string) => Promise<Response>, { method: string; path: string; status: number }]> = [
      ["GET /healthz", (id) => fetch(`${stack.url}/healthz`, { headers: { "x-request-id": id } }), { method: "GET", path: "/healthz", status: 200 }],
      ["GET /readyz", (id) => fetch(`${stack.url}/readyz`, { headers: { "x-request-id": id } }), { method: "GET", path: "/readyz", status: 200 }],
      [
        "an unknown path",
        (id) => fetch(`${stack.url}/nowhere?x=1`, { headers: { "x-request-id": id } }),
        { method: "GET", path: "/nowhere", status: 404 },
      ],
      [
        "POST /graphql",
        (id) =>
          fetch(`${stack.url}/graphql`, {
            method: "POST",
            headers: { "x-request-id": id, "content-type": "application/json" },
            body: JSON.stringify({ query: "{ me { id } }" }),
          }),
        { method: "POST", path: "/graphql", status: 200 },
      ],
      [
        "a refused POST /graphql (bad JSON)",
        (id) => fetch(`${stack.url}/graphql`, { method: "POST", headers: { "x-request-id": id, "content-type": "application/json" }, body: "{" }),
        { method: "POST", path: "/graphql", status: 400 },
      ],
      [
        "a CSRF-refused GET /graphql",
        (id) => fetch(`${stack.url}/graphql?query=${encodeURIComponent("{ me { id } }")}`, { headers: { "x-request-id": id } }),
        { method: "GET", path: "/graphql", status: 400 },
      ],
    ];

    it.each(requests)("is written exactly once for %s, with method, path, status and duration", async (_name, send, expected) => {
      const requestId = `log-${randomUUID()}`;

      const response = await send(requestId);
      await response.text();

      const lines = await requestLines(stack, requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject(expected);
      expect(typeof lines[0]!["durationMs"]).toBe("number");
      expect(lines[0]!["durationMs"]).toBeGreaterThanOrEqual(0);
    });

    it("never contains the query string of a GET request", async () => {
      const requestId = `log-${randomUUID()}`;
      const secret = `marker_${randomUUID().replaceAll("-", "")}`;

      const result = await stack.get(
        { query: `{ ${secret}: __typename me { id } } # ${secret}` },
        { "apollo-require-preflight": "1", "x-request-id": requestId },
      );

      expect(result.status).toBe(200);
      const lines = await requestLines(stack, requestId);
      expect(lines).toHaveLength(1);
      expect(lines[0]!["path"]).toBe("/graphql");
      const everything = JSON.stringify(stack.logs);
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain("query=");
    });
  });

  describe("Authorization header", () => {
    let token: string;
    beforeAll(async () => {
      const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
      token = result.data!.createSession.token!;
    });

    it.each(["Bearer", "bearer", "BEARER", "bEaReR"])("accepts the scheme written %s", async (scheme) => {
      const result = await stack.execute(MeDocument, {}, { headers: { authorization: `${scheme} ${token}` } });

      expect(result.errors).toBeUndefined();
      expect(result.data!.me?.id).toBe("spine:555020964101");
    });

    it.each([
      ["another scheme", () => `Basic ${token}`],
      ["the token without a scheme", () => token],
      ["the scheme without a token", () => "Bearer"],
      ["the scheme and blanks", () => "Bearer    "],
      ["two tokens", () => `Bearer ${token} ${token}`],
      ["no space after the scheme", () => `Bearer${token}`],
      ["a token with a character too many", () => `Bearer ${token}x`],
      ["a token of the wrong alphabet", () => `Bearer ${"+".repeat(43)}`],
    ])("treats a malformed header (%s) as no session: me is null, without error", async (_name, header) => {
      const result = await stack.execute(MeDocument, {}, { headers: { authorization: header() } });

      expect(result.status).toBe(200);
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ me: null });
    });
  });
});

describe("HTTP server in production (NODE_ENV=production)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { NODE_ENV: "production" } });
  });
  afterAll(() => stack.close());

  it("does not serve the Sandbox landing page to a browser", async () => {
    const plain = await fetch(`${stack.url}/graphql`, { headers: { accept: "text/html" } });
    const preflighted = await fetch(`${stack.url}/graphql`, { headers: { accept: "text/html", "apollo-require-preflight": "1" } });

    for (const response of [plain, preflighted]) {
      expect(response.headers.get("content-type")).not.toMatch(/text\/html/);
      expect(await response.text()).not.toMatch(/<html/i);
    }
  });

  it("refuses introspection", async () => {
    const result = await stack.post({ query: "{ __schema { types { name } } }" });

    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(codes(result)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(JSON.stringify(result.errors)).not.toContain("Session");
    // In the gateway's words, not Apollo's advice to its developer ("pass introspection: true to ApolloServer").
    expect(result.errors!.map((error) => error.message)).toEqual([
      "Introspection is turned off in production. The schema is published with the gateway (schema/schema.graphql).",
    ]);
  });

  it("serves neither the explorer, the example app, the favicon nor demo data", async () => {
    for (const path of ["/explorer/", "/explorer/explorer.js", "/app/", "/favicon.ico", "/app/demo-users.json"]) {
      expect((await fetch(`${stack.url}${path}`)).status).toBe(404);
    }
  });

  it("gives no field suggestion for a misspelt field", async () => {
    const result = await stack.post({ query: "{ mee { id } }" });

    expect(codes(result)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(result.errors![0]!.message).toMatch(/Cannot query field "mee"/);
    expect(result.errors![0]!.message).not.toMatch(/Did you mean/);
  });

  it("still runs ordinary operations", async () => {
    const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });

    expect(result.errors).toBeUndefined();
    expect(result.data!.createSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("HTTP server: /readyz with a backend down", () => {
  let stack: Stack | undefined;
  let silent: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (silent !== undefined) await new Promise<void>((resolve) => silent!.close(() => resolve()));
    silent = undefined;
  });

  async function readiness(): Promise<{ status: number; body: { down?: string[]; checks?: Record<string, string> }; ms: number }> {
    const started = performance.now();
    const response = await fetch(`${stack!.url}/readyz`);
    const body = (await response.json()) as { down?: string[]; checks?: Record<string, string> };
    return { status: response.status, body, ms: performance.now() - started };
  }

  it("answers 503 naming idp when the IdP refuses connections", async () => {
    stack = await Stack.start({ withoutIdp: true, env: { IDP_URL: `http://127.0.0.1:${await freePort()}` } });

    const { status, body, ms } = await readiness();

    expect(status).toBe(503);
    expect(body.down).toEqual(["idp"]);
    expect(body.checks).toEqual({ store: "up", spine: "up", idp: "down", audit: "up" });
    expect(ms).toBeLessThan(2_500);
  });

  it("answers 503 naming spine when Spine refuses connections", async () => {
    stack = await Stack.start({ withoutSpine: true, env: { SPINE_URL: `http://127.0.0.1:${await freePort()}` } });

    const { status, body, ms } = await readiness();

    expect(status).toBe(503);
    expect(body.down).toEqual(["spine"]);
    expect(body.checks).toEqual({ store: "up", spine: "down", idp: "up", audit: "up" });
    expect(ms).toBeLessThan(2_500);
  });

  /** A Stack whose Spine accepts connections and never answers. */
  async function silentSpine(): Promise<Stack> {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    });
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as { port: number };
    return Stack.start({ withoutSpine: true, env: { SPINE_URL: `http://127.0.0.1:${port}` } });
  }

  it("answers 503 within 2.5 s when a backend accepts connections and never answers", async () => {
    stack = await silentSpine();

    const { status, body, ms } = await readiness();

    expect(status).toBe(503);
    expect(body.down).toEqual(["spine"]);
    expect(ms).toBeLessThan(2_500);
  });

  it("writes the request log line once even when the client hangs up before the answer", async () => {
    stack = await silentSpine();
    const requestId = `abandoned-${randomUUID()}`;
    const controller = new AbortController();
    const before = sockets.size;
    const abandoned = fetch(`${stack.url}/readyz`, { headers: { "x-request-id": requestId }, signal: controller.signal });
    // Hung up while the answer waits on the silent backend: once readiness has reached it.
    await waitFor(() => sockets.size > before, { what: "readiness at the silent backend" });
    controller.abort();
    await expect(abandoned).rejects.toThrow();

    // Readiness gives up on the silent backend after 2 s: the line is due by then at the latest.
    const lines = await requestLines(stack, requestId, 3_000);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: "GET", path: "/readyz" });
    expect(typeof lines[0]!["status"]).toBe("number");
    expect(typeof lines[0]!["durationMs"]).toBe("number");
  });
});

/**
 * Issue 14: what one client may hold. Short limits here so the test runs in moments; the
 * defaults (README settings table) are longer, for a gateway behind a load balancer.
 */
describe("HTTP server: limits on what one client may hold", () => {
  const REQUEST_TIMEOUT_MS = 1_000;
  /** node:http checks its timeouts every 250 ms (server.ts), and the socket's close needs a moment. */
  const CHECK_MARGIN_MS = 400;
  let stack: Stack;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    stack = await Stack.start({
      env: {
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        HTTP_HEADERS_TIMEOUT_MS: "500",
        HTTP_KEEP_ALIVE_TIMEOUT_MS: "1000",
        HTTP_MAX_CONNECTIONS: "8",
      },
    });
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });
  afterAll(() => stack.close());

  /** A raw connection to the gateway: what it was sent back, and when the gateway closed it. */
  async function connect(): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
    const { port } = new URL(stack.url);
    const socket = new Socket();
    sockets.push(socket);
    let received = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
    socket.on("error", () => undefined);
    const opened = performance.now();
    const closed = once(socket, "close").then(() => performance.now() - opened);
    socket.connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    return { socket, received: () => received, closed };
  }

  it("cuts off a client that sends its body a byte at a time within the request timeout, while others are served normally", async () => {
    const slow = await connect();
    slow.socket.write(`POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    const drip = setInterval(() => slow.socket.write("{"), 100);
    try {
      const others: number[] = [];
      const served = (async () => {
        while (others.length < 10) {
          const started = performance.now();
          const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
          expect(result.errors).toBeUndefined();
          others.push(performance.now() - started);
        }
      })();

      const cutOffAfterMs = await slow.closed;
      await served;

      process.stdout.write(
        `slow body: cut off after ${Math.round(cutOffAfterMs)} ms; others served in at most ${Math.round(Math.max(...others))} ms\n`,
      );
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(cutOffAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(cutOffAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + CHECK_MARGIN_MS);
      expect(Math.max(...others)).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    } finally {
      clearInterval(drip);
    }
  });

  it("cuts off a client that sends its headers a line at a time within the headers timeout", async () => {
    const slow = await connect();
    slow.socket.write("GET /healthz HTTP/1.1\r\n");
    const drip = setInterval(() => slow.socket.write(`X-Slow-${randomUUID()}: 1\r\n`), 100);
    try {
      const cutOffAfterMs = await slow.closed;

      expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(cutOffAfterMs).toBeLessThan(500 + CHECK_MARGIN_MS);
    } finally {
      clearInterval(drip);
    }
  });

  it("closes an idle keep-alive connection after the keep-alive timeout", async () => {
    const idle = await connect();
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n");

    const closedAfterMs = await idle.closed;

    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(1_000 - 50);
    // Node 20 keeps the socket's idle timer 1 s past keepAliveTimeout.
    expect(closedAfterMs).toBeLessThan(1_000 + 1_000 + CHECK_MARGIN_MS);
  });

  it("closes connections past the maximum at once, and serves again when there is room", async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => connect()));
    // The server has counted all eight once each has been answered.
    for (const connection of held) connection.socket.write("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n");
    await waitFor(() => held.every((connection) => connection.received().startsWith("HTTP/1.1 200")));

    const refused = await connect();
    refused.socket.write("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n");
    const refusedAfterMs = await refused.closed;

    expect(refused.received()).toBe("");
    expect(refusedAfterMs).toBeLessThan(500);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await waitFor(
      async () =>
        (await fetch(`${stack.url}/healthz`).then(
          (response) => response.status,
          () => 0,
        )) === 200,
    );
  });
});

/** Issue 14: readiness probes of the backends are shared and reused, so /readyz cannot multiply calls to them. */
describe("HTTP server: /readyz with its backend probes shared", () => {
  /** READINESS_PROBE_REUSE_MS in gateway.ts. */
  const REUSE_MS = 1_000;
  let stack: Stack;
  let spine: SimulatorHandle;
  let idp: SimulatorHandle;
  let hostileSpine: HostileBackend;
  let hostileIdp: HostileBackend;
  beforeAll(async () => {
    [spine, idp] = await Promise.all([startSpineSimulator(), startIdpSimulator()]);
    [hostileSpine, hostileIdp] = await Promise.all([HostileBackend.start(spine.url), HostileBackend.start(idp.url)]);
    stack = await Stack.start({ withoutSpine: true, withoutIdp: true, env: { SPINE_URL: hostileSpine.url, IDP_URL: hostileIdp.url } });
  });
  afterEach(() => hostileSpine.disarm());
  afterAll(async () => {
    await stack.close();
    await Promise.all([hostileSpine.close(), hostileIdp.close(), spine.close(), idp.close()]);
  });

  it("makes at most one call per backend for 200 concurrent /readyz calls", async () => {
    hostileSpine.resetCalls();
    hostileIdp.resetCalls();

    const statuses = await Promise.all(Array.from({ length: 200 }, () => fetch(`${stack.url}/readyz`).then((response) => response.status)));

    process.stdout.write(`200 concurrent /readyz: ${hostileSpine.calls("base")} Spine call(s), ${hostileIdp.calls("base")} IdP call(s)\n`);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(hostileSpine.calls("base")).toBe(1);
    expect(hostileIdp.calls("base")).toBe(1);
  });

  it("makes about one call per backend per second however often it is asked", async () => {
    hostileSpine.resetCalls();
    const started = performance.now();
    while (performance.now() - started < 3 * REUSE_MS) await Promise.all(Array.from({ length: 10 }, () => fetch(`${stack.url}/readyz`)));

    expect(hostileSpine.calls("base")).toBeGreaterThanOrEqual(2);
    expect(hostileSpine.calls("base")).toBeLessThanOrEqual(4);
  });

  it("turns within the reuse interval when a backend goes down, and again when it comes back", async () => {
    const turned = async (expected: number): Promise<number> => {
      const started = performance.now();
      await waitFor(async () => (await fetch(`${stack.url}/readyz`)).status === expected, {
        timeoutMs: 10_000,
        what: `/readyz answering ${expected}`,
      });
      return performance.now() - started;
    };
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);

    hostileSpine.arm("base", "down");
    const downAfterMs = await turned(503);
    hostileSpine.disarm();
    const upAfterMs = await turned(200);

    process.stdout.write(`/readyz turned: down after ${Math.round(downAfterMs)} ms, up again after ${Math.round(upAfterMs)} ms\n`);
    expect(downAfterMs).toBeLessThan(REUSE_MS + 300);
    expect(upAfterMs).toBeLessThan(REUSE_MS + 300);
  });
});

/** Issue 14: a client-supplied string reaches a log or audit line cut to LOG_FIELD_MAX_CHARS. */
describe("HTTP server: client-supplied strings in log and audit lines", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { TRUSTED_PROXY_HOPS: "1" } });
  });
  afterAll(() => stack.close());

  const cut = (value: string): string => `${value.slice(0, LOG_FIELD_MAX_CHARS)}…`;

  it("cuts a 50 KB operation name in the request line", async () => {
    const name = `Op${"a".repeat(50_000)}`;
    const requestId = `long-operation-${randomUUID()}`;

    // The name once, in the document: twice would pass the 64 KB body limit.
    const result = await stack.post({ query: `query ${name} { __typename }` }, { headers: { "x-request-id": requestId } });
    const [line] = await requestLines(stack, requestId);

    expect(result.status).toBe(200);
    expect(line!["operation"]).toBe(cut(name));
    expect(JSON.stringify(line).length).toBeLessThan(1_000);
  });

  it("cuts a long path in the request line", async () => {
    const path = `/${"p".repeat(8_000)}`;
    const requestId = `long-path-${randomUUID()}`;

    const response = await fetch(`${stack.url}${path}`, { headers: { "x-request-id": requestId } });
    const [line] = await requestLines(stack, requestId);

    expect(response.status).toBe(404);
    expect(line!["path"]).toBe(cut(path));
  });

  it("replaces a request id longer than 128 characters rather than writing it", async () => {
    const sent = `r${"i".repeat(5_000)}`;

    const response = await fetch(`${stack.url}/healthz`, { headers: { "x-request-id": sent } });

    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(stack.logs.some((line) => line["requestId"] === sent)).toBe(false);
  });

  it("cuts a client address taken from X-Forwarded-For in the audit line", async () => {
    const forged = `x${"f".repeat(5_000)}`;

    await stack.execute(SigninDocument, { email: idpUser.email, password: "wrong-password" }, { headers: { "x-forwarded-for": forged } });

    const event = stack.audit.filter((line) => line["event"] === "signin").at(-1);
    expect(event).toMatchObject({ outcome: "failure", clientAddress: cut(forged) });
  });
});

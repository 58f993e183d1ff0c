import { isObject } from "../backends/wire.js";
import { listen } from "../http/listen.js";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A misbehaviour a simulator can be told to show on a route, to test the gateway's handling of it. */
export type FaultKind =
  /** Wait `ms` milliseconds, then answer normally. */
  | { kind: "latency"; ms: number }
  /** Answer `status` with `body` (default: a small HTML error page) as `contentType` (default `text/html`). */
  | { kind: "status"; status: number; body?: string; contentType?: string }
  /** Answer 200 as `application/json` with a body that is not JSON. */
  | { kind: "garbage" }
  /** Answer 200 with valid JSON that is not the contract's shape. */
  | { kind: "wrong-shape" }
  /** Accept the request, then destroy the socket without any answer. */
  | { kind: "drop" }
  /** Send status, headers and part of a body, then destroy the socket. */
  | { kind: "reset-mid-response" };

/** A fault; `times` is how many requests it applies to before it clears itself (default: until cleared). */
export type Fault = FaultKind & { times?: number };

/** One request a simulator received. */
export interface RecordedCall {
  /** The route's name (e.g. `"A001"`, `"signin"`), or `"unmatched"` for a path or method no route serves. */
  route: string;
  method: string;
  /** Path and query string as received. */
  path: string;
  /** As Node parsed them: names lowercased. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed body (JSON or form fields, per backend), the raw text if it did not parse, or undefined if empty. */
  body: unknown;
  /** When it arrived, by the simulator's clock. */
  at: number;
}

/** What every simulator offers besides its backend's API. */
export interface SimulatorHandle {
  /** Base URL to give the gateway, e.g. `http://127.0.0.1:53211` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Arms `fault` on one route, or on every route with `"*"`; a route's own fault wins over `"*"`. Replaces the fault armed under the same name. */
  inject(route: string, fault: Fault): void;
  clearFaults(): void;
  /** The requests received (all, or one route's), oldest first. */
  calls(route?: string): RecordedCall[];
  resetCalls(): void;
  /** Stops listening and destroys every open connection, so nothing is left to keep a process alive. */
  close(): Promise<void>;
}

/** A request as a route handler sees it. */
export interface SimRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** The parsed body (see {@link RecordedCall.body}). */
  readonly body: unknown;
  /** True when a body was sent that does not parse in the simulator's body format. */
  readonly malformedBody: boolean;
}

/** A handler's answer: `body`, if any, is sent as JSON. */
export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One endpoint of a simulated backend. */
interface RouteSpec {
  /** The name faults and the call log use, e.g. `"A001"`. */
  readonly name: string;
  readonly method: string;
  /** Path with `:name` segments for parameters, e.g. `/v1/ProfessionalSession/:sessionKey`. */
  readonly path: string;
  handle(req: SimRequest): SimResponse;
}

/** How a simulated backend is put together from the shared machinery. */
interface SimServerSpec {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 0 (an ephemeral port). */
  port?: number;
  /** The clock stamped on recorded calls. */
  now: () => number;
  routes: readonly RouteSpec[];
  /** How request bodies of this backend are encoded. */
  bodyFormat: "json" | "form";
  /** The backend's own answer for a path no route serves (404) or a method a path does not allow (405). */
  fallback(status: 404 | 405): SimResponse;
}

const UNMATCHED = "unmatched";
const ANY_ROUTE = "*";
const CONTROL_PREFIX = "/__sim/";

/** The single string value of a header, or undefined when absent (Node lowercases header names). */
export function headerOf(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return typeof value === "string" ? value : undefined;
}

/** Starts a simulated backend: its routes plus faults, the call log and the `/__sim/` control API. */
export async function startSimServer(spec: SimServerSpec): Promise<SimulatorHandle> {
  const routes = spec.routes.map(compileRoute);
  const routeNames = new Set(routes.map((r) => r.spec.name));
  const faults = new Map<string, { fault: Fault; remaining: number | undefined }>();
  let log: RecordedCall[] = [];
  // Pending latency faults, so close() can cut them short instead of waiting them out.
  const sleepers = new Map<NodeJS.Timeout, () => void>();
  let closing: Promise<void> | undefined;

  function checkRoute(route: string, allowed: readonly string[]): void {
    if (!routeNames.has(route) && !allowed.includes(route)) {
      // A typo in a test would otherwise arm nothing, or read an always-empty log, and pass.
      throw new Error(`unknown route "${route}"; expected one of ${[...routeNames, ...allowed].join(", ")}`);
    }
  }

  function inject(route: string, fault: Fault): void {
    checkRoute(route, [ANY_ROUTE]);
    const checked = parseFault(fault);
    faults.set(route, { fault: checked, remaining: checked.times });
  }

  function takeFault(route: string): Fault | undefined {
    const key = faults.has(route) ? route : faults.has(ANY_ROUTE) ? ANY_ROUTE : undefined;
    if (key === undefined) return undefined;
    const armed = faults.get(key)!;
    if (armed.remaining !== undefined && --armed.remaining <= 0) faults.delete(key);
    return armed.fault;
  }

  function calls(route?: string): RecordedCall[] {
    if (route === undefined) return [...log];
    checkRoute(route, [UNMATCHED]);
    return log.filter((c) => c.route === route);
  }

  /** Resolves true after `ms`, or false at once if the server closes first. */
  function sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sleepers.delete(timer);
        resolve(true);
      }, ms);
      sleepers.set(timer, () => resolve(false));
    });
  }

  const controlRoutes: RouteSpec[] = [
    {
      name: "inject",
      method: "POST",
      path: "/__sim/faults",
      handle: (req) => {
        if (!isObject(req.body) || typeof req.body["route"] !== "string") {
          throw new Error('body must be JSON {"route": "<name>", "fault": {...}}');
        }
        inject(req.body["route"], req.body["fault"] as Fault);
        return { status: 204 };
      },
    },
    { name: "clearFaults", method: "DELETE", path: "/__sim/faults", handle: () => (faults.clear(), { status: 204 }) },
    {
      name: "calls",
      method: "GET",
      path: "/__sim/calls",
      handle: (req) => ({ status: 200, body: calls(req.params["route"]) }),
    },
    { name: "resetCalls", method: "DELETE", path: "/__sim/calls", handle: () => ((log = []), { status: 204 }) },
  ];
  const compiledControl = controlRoutes.map(compileRoute);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator.invalid");
    const method = req.method ?? "GET";
    const raw = await readBody(req);

    if (url.pathname.startsWith(CONTROL_PREFIX)) {
      const { body, malformedBody } = parseBody("json", raw);
      const match = matchRoute(compiledControl, method, url.pathname);
      if (match.kind !== "route") return send(res, { status: 404, body: { error: "unknown control endpoint" } });
      if (malformedBody) return send(res, { status: 400, body: { error: "body is not JSON" } });
      const params = { ...match.params, ...Object.fromEntries(url.searchParams) };
      try {
        return send(res, match.route.spec.handle({ params, headers: req.headers, body, malformedBody }));
      } catch (error) {
        // Control handlers throw only for requests they refuse (unknown route, bad fault).
        return send(res, { status: 400, body: { error: (error as Error).message } });
      }
    }

    const { body, malformedBody } = parseBody(spec.bodyFormat, raw);
    const match = matchRoute(routes, method, url.pathname);
    log.push({
      route: match.kind === "route" ? match.route.spec.name : UNMATCHED,
      method,
      path: url.pathname + url.search,
      headers: { ...req.headers },
      body,
      at: spec.now(),
    });
    if (match.kind === "none") return send(res, spec.fallback(404));
    if (match.kind === "method") {
      const answer = spec.fallback(405);
      return send(res, { ...answer, headers: { ...answer.headers, allow: match.allow.join(", ") } });
    }

    const fault = takeFault(match.route.spec.name);
    if (fault?.kind === "latency") {
      if (!(await sleep(fault.ms))) return;
    } else if (fault !== undefined) {
      return writeFault(fault, res);
    }
    send(res, match.route.spec.handle({ params: match.params, headers: req.headers, body, malformedBody }));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return void res.destroy();
      // A bug in a simulator must show, not pass for a backend answer.
      console.error("simulator failure:", error);
      send(res, { status: 500, body: { error: "simulator failure", message: String(error) } });
    });
  });

  await listen(server, spec.port ?? 0, spec.host ?? "127.0.0.1");
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    inject,
    clearFaults: () => faults.clear(),
    calls,
    resetCalls: () => {
      log = [];
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const [timer, wake] of sleepers) {
          clearTimeout(timer);
          wake();
        }
        sleepers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        // server.close() alone waits for keep-alive and in-flight connections to end by themselves.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface CompiledRoute {
  spec: RouteSpec;
  segments: string[];
}

type RouteMatch = { kind: "route"; route: CompiledRoute; params: Record<string, string> } | { kind: "method"; allow: string[] } | { kind: "none" };

function compileRoute(spec: RouteSpec): CompiledRoute {
  return { spec, segments: spec.path.split("/") };
}

function matchRoute(routes: readonly CompiledRoute[], method: string, pathname: string): RouteMatch {
  const parts = pathname.split("/");
  const allow: string[] = [];
  for (const route of routes) {
    const params = matchPath(route.segments, parts);
    if (params === undefined) continue;
    if (route.spec.method === method) return { kind: "route", route, params };
    allow.push(route.spec.method);
  }
  return allow.length > 0 ? { kind: "method", allow } : { kind: "none" };
}

function matchPath(segments: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (segment.startsWith(":")) {
      if (part === "") return undefined;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (segment !== part) {
      return undefined;
    }
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody(format: "json" | "form", raw: string): { body: unknown; malformedBody: boolean } {
  if (raw.trim() === "") return { body: undefined, malformedBody: false };
  if (format === "form") return { body: Object.fromEntries(new URLSearchParams(raw)), malformedBody: false };
  try {
    return { body: JSON.parse(raw) as unknown, malformedBody: false };
  } catch {
    return { body: raw, malformedBody: true };
  }
}

function send(res: ServerResponse, answer: SimResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.body === undefined) {
    res.writeHead(answer.status, headers).end();
    return;
  }
  const payload = JSON.stringify(answer.body);
  headers["content-type"] = "application/json";
  headers["content-length"] = String(Buffer.byteLength(payload));
  res.writeHead(answer.status, headers).end(payload);
}

const FAULT_KINDS = ["latency", "status", "garbage", "wrong-shape", "drop", "reset-mid-response"] as const;

/** Checks a fault from a test or the control API, so a mistyped one fails loudly instead of arming nothing. */
function parseFault(value: unknown): Fault {
  if (!isObject(value)) throw new TypeError("fault must be an object");
  const { kind, times } = value;
  if (times !== undefined && !(Number.isInteger(times) && (times as number) > 0)) {
    throw new TypeError("fault.times must be a positive integer");
  }
  const count = times === undefined ? {} : { times: times as number };
  switch (kind) {
    case "latency": {
      const { ms } = value;
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) throw new TypeError("fault.ms must be a number >= 0");
      return { kind, ms, ...count };
    }
    case "status": {
      const { status, body, contentType } = value;
      if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599) {
        throw new TypeError("fault.status must be an HTTP status from 200 to 599");
      }
      if (body !== undefined && typeof body !== "string") throw new TypeError("fault.body must be a string");
      if (contentType !== undefined && typeof contentType !== "string") throw new TypeError("fault.contentType must be a string");
      return {
        kind,
        status: status as number,
        ...(body === undefined ? {} : { body }),
        ...(contentType === undefined ? {} : { contentType }),
        ...count,
      };
    }
    case "garbage":
    case "wrong-shape":
    case "drop":
    case "reset-mid-response":
      return { kind, ...count };
    default:
      throw new TypeError(`fault.kind must be one of ${FAULT_KINDS.join(", ")}`);
  }
}

function writeFault(fault: Exclude<Fault, { kind: "latency" }>, res: ServerResponse): void {
  switch (fault.kind) {
    case "status": {
      // What a proxy or load balancer in front of a backend typically sends when the backend is down.
      const body = fault.body ?? `<html><head><title>${fault.status} Error</title></head><body><h1>${fault.status} Error</h1></body></html>`;
      const headers = { "content-type": fault.contentType ?? "text/html; charset=utf-8" };
      if (fault.status === 204 || fault.status === 304) return void res.writeHead(fault.status, headers).end();
      res.writeHead(fault.status, { ...headers, "content-length": String(Buffer.byteLength(body)) }).end(body);
      return;
    }
    case "garbage": {
      const body = '{"this is": not JSON';
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }).end(body);
      return;
    }
    case "wrong-shape": {
      const body = '{"unexpected":true}';
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }).end(body);
      return;
    }
    case "drop":
      res.socket?.destroy();
      return;
    case "reset-mid-response": {
      const part = '{"partial":"the rest of this body never arr';
      // The promised length is longer than what is sent, so the client cannot mistake the cut for the end.
      res.writeHead(200, { "content-type": "application/json", "content-length": String(part.length * 4) });
      res.write(part, () => res.socket?.destroy());
      return;
    }
  }
}

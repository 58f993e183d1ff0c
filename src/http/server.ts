import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { Logger } from "pino";
import type { HttpLimitOptions } from "../config/config.js";
import { TIMEOUT_CHECK_INTERVAL_MS } from "../config/tunables.js";
import type { GatewayContext } from "../graph/context.js";
import { logField } from "../logging/logger.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { FastPath } from "../graphql/fast-path.js";
import type { IncomingGraphqlRequest } from "./request-context.js";
import { sendGraphqlError, sendJson } from "./json-response.js";
import type { WebSites } from "./static.js";
import { sha256 } from "../crypto/sha256.js";

/** Bodies larger than this are refused before parsing: no operation of this graph needs more. */
export const MAX_BODY_BYTES = 64 * 1024;

interface HttpServerOptions {
  apollo: ApolloServer<GatewayContext>;
  /** Builds the context of one GraphQL request (src/http/request-context.ts). */
  context: (request: IncomingGraphqlRequest) => GatewayContext;
  /** The readiness of the store and the backends: names of what is down, empty when ready. */
  readiness: () => Promise<Record<string, "up" | "down">>;
  log: Logger;
  /** Counts every GraphQL request and serves `/metrics`; without it `/metrics` is not found. */
  metrics?: GatewayMetrics;
  /** Serves the Federation 2 subgraph at `/subgraph` to callers with the router's secret; without it `/subgraph` is not found. */
  subgraph?: { apollo: ApolloServer<GatewayContext>; routerSecret: string };
  /** Cross-origin rules (src/http/cors.ts); true when it answered the request itself. */
  cors?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
  /** Serves the browser pages: example app, explorer, favicon (src/http/static.ts); without it they are not found. */
  sites?: WebSites;
  /** Answers known queries without Apollo's pipeline (see FastPath); every request goes to Apollo when unset. */
  fastPath?: FastPath;
  /** Timeouts and the connection cap (the HTTP_* settings); Node's defaults when unset. */
  limits?: HttpLimitOptions;
}

/** The header in which the router presents the shared secret on every request to `/subgraph`. */
export const ROUTER_SECRET_HEADER = "router-secret";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The gateway's HTTP front: `/graphql` (Apollo), `/subgraph`, `/healthz`, `/readyz`, `/metrics`. Plain node:http: the
 * measured cost of Apollo's own request pipeline dwarfs this layer, and it keeps full
 * control of body limits and of what is logged.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const { log, metrics, subgraph } = options;
  // The request line, one per request, skips the redaction net (a tenth of a warm request's
  // cost, measured by `npm run bench`): its fields are fixed below and all scalars, none a secret.
  const accessLog = log.child({}, { redact: [] });
  const server = createServer((req, res) => {
    const started = performance.now();
    const sent = req.headers["x-request-id"];
    const requestId = typeof sent === "string" && REQUEST_ID.test(sent) ? sent : randomUUID();
    res.setHeader("x-request-id", requestId);
    const path = (req.url ?? "/").split("?")[0]!;
    // Made when first needed: a child logger costs a warm request about 3 µs (its bindings pass
    // the redaction net), and most requests never log anything but their request line.
    let requestLogger: Logger | undefined;
    const requestLog = (): Logger => (requestLogger ??= log.child({ requestId }));
    let context: GatewayContext | undefined;

    // "close", not "finish": a client that hangs up before the answer still gets its line.
    res.on("close", () => {
      const seconds = (performance.now() - started) / 1000;
      const outcome = context === undefined ? undefined : outcomeOf(context, res.statusCode);
      if (context !== undefined && outcome !== undefined) metrics?.request(context.outcome.rootFields ?? "unknown", outcome, seconds);
      // The query string is left out: a GET query's variables would be printed with it.
      accessLog.info(
        {
          requestId,
          method: req.method,
          // Both as the client sent them, so cut (logField); the request id is bounded by REQUEST_ID.
          path: logField(path),
          status: res.statusCode,
          aborted: res.writableFinished ? undefined : true,
          operation: logField(context?.outcome.operation ?? undefined),
          outcome,
          durationMs: Math.round(seconds * 10_000) / 10,
        },
        "request",
      );
    });

    const graphqlContext = (viaRouter: boolean): GatewayContext =>
      options.context({
        requestId,
        authorization: header(req, "authorization"),
        peer: req.socket.remoteAddress,
        forwardedFor: header(req, "x-forwarded-for"),
        viaRouter,
        cookie: header(req, "cookie"),
        setCookie: (cookie) => res.appendHeader("set-cookie", cookie),
        log: requestLog,
      });
    const route = async (): Promise<void> => {
      if (options.cors?.(req, res, path)) return;
      if (path === "/graphql") {
        context = graphqlContext(false);
        await graphql(options.apollo, options.fastPath, req, res, context);
      } else if (path === "/subgraph" && subgraph !== undefined) {
        // Anyone who reaches this port could ask `_entities` for a session's credentials: only
        // the router, proving itself with the secret, is answered. Refused before a context
        // exists, so no store or backend is touched.
        if (!sameSecret(header(req, ROUTER_SECRET_HEADER), subgraph.routerSecret)) {
          req.resume();
          sendGraphqlError(res, 401, "UNAUTHENTICATED", "This endpoint answers the router only.");
          return;
        }
        context = graphqlContext(true);
        // The fast path knows the public schema's queries only.
        await graphql(subgraph.apollo, undefined, req, res, context, { refusalsAsOk: true });
      } else if (path === "/healthz") {
        sendJson(res, 200, { status: "ok" });
      } else if (path === "/metrics" && metrics !== undefined) {
        const { contentType, body } = await metrics.exposition();
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        res.end(body);
      } else if (path === "/readyz") {
        const checks = await options.readiness();
        const down = Object.keys(checks).filter((name) => checks[name] === "down");
        sendJson(res, down.length === 0 ? 200 : 503, down.length === 0 ? { status: "ready", checks } : { status: "unavailable", down, checks });
      } else if (!(await options.sites?.(res, path))) {
        sendJson(res, 404, { error: "not found" });
      }
    };
    route().catch((error: unknown) => {
      requestLog().error({ err: error }, "request failed outside GraphQL");
      if (!res.headersSent) sendGraphqlError(res, 500, "INTERNAL_SERVER_ERROR", "Internal server error.");
      else res.destroy();
    });
  });
  if (options.limits !== undefined) applyLimits(server, options.limits);
  return server;
}

/** Set before `listen`, which starts node:http's timeout checks with them. */
function applyLimits(server: Server, limits: HttpLimitOptions): void {
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Typed only as an option of createServer; the property is read when listening starts.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = TIMEOUT_CHECK_INTERVAL_MS;
}

/** Compares digests, so the time taken tells nothing of the secret, not even its length. */
function sameSecret(presented: string | undefined, secret: string): boolean {
  return presented !== undefined && timingSafeEqual(sha256(presented), sha256(secret));
}

/** OK, or the request's error codes sorted and joined (`FORBIDDEN`, `UNAUTHENTICATED,UPSTREAM_UNAVAILABLE`). */
function outcomeOf(context: GatewayContext, status: number): string {
  if (context.outcome.codes.size === 0) return status < 400 ? "OK" : "BAD_REQUEST";
  return [...context.outcome.codes].sort().join(",") || (status < 400 ? "OK" : "BAD_REQUEST");
}

/**
 * `refusalsAsOk`: answer a document Apollo refused (parse, validation, the limits, bad
 * variables) with 200 when the answer is `application/json`, as the GraphQL-over-HTTP spec
 * allows. For a router: Apollo Gateway turns a subgraph's 400 into its own `400: Bad Request`
 * with INTERNAL_SERVER_ERROR, dropping the code; with 200 both routers pass `extensions.code` on.
 * Under `application/graphql-response+json` the spec's 400 stays, and routers read it as such;
 * so does a request that is not GraphQL at all (no query, a batch), which never reaches the
 * pipeline that records codes.
 */
async function graphql(
  apollo: ApolloServer<GatewayContext>,
  fastPath: FastPath | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  context: GatewayContext,
  { refusalsAsOk = false }: { refusalsAsOk?: boolean } = {},
): Promise<void> {
  const body = await readBody(req);
  if (body === TOO_LARGE) {
    return sendGraphqlError(res, 413, "BAD_REQUEST", "The request body is too large.");
  }
  let parsed: unknown;
  if (body.length > 0 && /^application\/(graphql-response\+)?json\b/i.test(header(req, "content-type") ?? "")) {
    try {
      // The reviver makes JSON.parse several times slower; it is needed only for a body that
      // could escape a surrogate, and only an escape can (see refuseLoneSurrogates).
      parsed = SURROGATE_ESCAPE.test(body) ? JSON.parse(body, refuseLoneSurrogates) : JSON.parse(body);
    } catch (error) {
      return sendGraphqlError(
        res,
        400,
        "BAD_REQUEST",
        error instanceof NotUnicode ? "The request body holds text that is not valid Unicode." : "The request body is not valid JSON.",
      );
    }
  }
  // The fast path checks the method and content type itself: what it may answer is what Apollo's CSRF prevention accepts (see there).
  const fast = await fastPath?.answer(
    { method: req.method, contentType: header(req, "content-type"), accept: header(req, "accept"), body: parsed },
    context,
  );
  if (fast !== undefined) {
    // With its length known the answer goes out whole, not in chunked framing (as Apollo's does).
    res.writeHead(fast.status, { "content-type": fast.contentType, "content-length": Buffer.byteLength(fast.body) });
    res.end(fast.body);
    return;
  }
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const url = req.url ?? "/";
  const search = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? "GET", headers, search, body: parsed },
    context: async () => context,
  });
  for (const [name, value] of response.headers) res.setHeader(name, value);
  const refused =
    refusalsAsOk &&
    response.status === 400 &&
    context.outcome.codes.size > 0 &&
    /^application\/json\b/i.test(response.headers.get("content-type") ?? "");
  res.statusCode = refused ? 200 : (response.status ?? 200);
  if (response.body.kind === "complete") {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/** A surrogate code point on its own: no UTF-8 body can carry one, only a JSON escape (`"\\ud800"`). */
const LONE_SURROGATE = /\p{Cs}/u;

/** A JSON escape of a surrogate (`\uD800` to `\uDFFF`): a body without one cannot hold a lone surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

class NotUnicode extends Error {}

/**
 * JSON lets a string escape half of a surrogate pair; nothing downstream can use one (it has
 * no UTF-8 form, and validators that encode their input throw on it), so such a body is
 * refused before it reaches a resolver.
 */
function refuseLoneSurrogates(key: string, value: unknown): unknown {
  if (LONE_SURROGATE.test(key) || (typeof value === "string" && LONE_SURROGATE.test(value))) throw new NotUnicode();
  return value;
}

/** What readBody answers for a body past MAX_BODY_BYTES: no string, so no body can be mistaken for it. */
const TOO_LARGE = Symbol("too large");

/** Reads the body up to MAX_BODY_BYTES; beyond that it stops reading and says so. */
function readBody(req: IncomingMessage): Promise<string | typeof TOO_LARGE> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.resolve(TOO_LARGE);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data");
        req.resume();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    // A GraphQL body mostly arrives in one chunk: decoded as it is, not copied into a new buffer first.
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

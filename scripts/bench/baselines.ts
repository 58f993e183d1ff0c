/**
 * The benchmark's baseline servers, each run as a process of its own (`node baselines.js <kind>`)
 * so that it competes for the CPU as the gateway does. It listens on 127.0.0.1, port 0, and
 * tells the parent its URL over IPC.
 *
 * - `bare`: node:http answering every request with one fixed JSON body: the ceiling.
 * - `apollo`: Apollo Server's hello world with its default settings, on node:http as the gateway
 *   serves it (body read, parsed, handed to `executeHTTPGraphQLRequest`).
 * - `proxy`: the upstream calls of `signin` (IdP sign-in, then user info) with got, as the
 *   gateway's clients make them, and no GraphQL: what `signin` would cost with nothing but the calls.
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, HeaderMap } from "@apollo/server";
import got from "got";

const FIXED = JSON.stringify({ data: { hello: "world" } });

/** Node 20 answers with a keep-alive connection only once the body was read, as every server here does. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** With its length, as the gateway's fast path answers: no chunked framing on either side of the comparison. */
function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function bare(): RequestListener {
  return (req, res) => {
    void readBody(req).then(() => send(res, 200, FIXED));
  };
}

async function apollo(): Promise<RequestListener> {
  const server = new ApolloServer({ typeDefs: "type Query { hello: String }", resolvers: { Query: { hello: () => "world" } } });
  await server.start();
  return (req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? "GET", headers, search: "", body: body.length > 0 ? JSON.parse(body) : undefined },
        context: async () => ({}),
      });
      for (const [name, value] of response.headers) res.setHeader(name, value);
      res.statusCode = response.status ?? 200;
      res.end(response.body.kind === "complete" ? response.body.string : "");
    })().catch(() => send(res, 500, "{}"));
  };
}

function proxy(): RequestListener {
  const idpUrl = required("BENCH_IDP_URL");
  const idp = got.extend({
    prefixUrl: idpUrl,
    headers: { client_id: required("BENCH_IDP_CLIENT_ID"), "X-Auth-Token": required("BENCH_IDP_API_TOKEN"), Accept: "application/json" },
    retry: { limit: 0 },
    timeout: { request: 5_000 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: "text",
  });
  return (req, res) => {
    void (async () => {
      const { email, password } = JSON.parse(await readBody(req)) as { email: string; password: string };
      const signin = await idp.post("api/1.0/sso/signin", { form: { email, password } });
      const { access_token: accessToken } = JSON.parse(signin.body) as { access_token: string };
      const userInfo = await idp.get(`api/1.0/sso/token/${encodeURIComponent(accessToken)}`);
      const user = JSON.parse(userInfo.body) as { id: unknown; email: unknown };
      send(res, userInfo.statusCode, JSON.stringify({ data: { id: user.id, email: user.email } }));
    })().catch(() => send(res, 502, "{}"));
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

const kind = process.argv[2];
const listener = kind === "bare" ? bare() : kind === "apollo" ? await apollo() : kind === "proxy" ? proxy() : undefined;
if (listener === undefined) throw new Error(`unknown baseline "${kind}"; expected bare, apollo or proxy`);
const server = createServer(listener);
server.listen(0, "127.0.0.1", () => {
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));

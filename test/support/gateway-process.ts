/**
 * The gateway as a deployment runs it: the built entry point (`node dist/src/main.js`) in a
 * child process of its own, configured by nothing but its environment. `npm test` builds
 * `dist/` before jest runs.
 */
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import type { GraphQLResult } from "./harness.js";
import { freePort } from "./redis.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = `${ROOT}dist/src/main.js`;

/**
 * What a gateway process needs to run on the given simulators and a shared Redis, as every
 * multi-instance test starts it: the demo ASID and organisation credentials, the store and its
 * key, warnings only. Tests add what they test.
 */
export function sharedRedisEnv(options: {
  spine: { url: string };
  idp: { url: string };
  redisUrl: string;
  encryptionKey: string;
}): Record<string, string> {
  return {
    SPINE_URL: options.spine.url,
    SPINE_ASID: SPINE_DEMO.asid,
    IDP_URL: options.idp.url,
    IDP_CLIENT_ID: IDP_DEMO.clientId,
    IDP_API_TOKEN: IDP_DEMO.apiToken,
    REDIS_URL: options.redisUrl,
    SESSION_ENCRYPTION_KEY: options.encryptionKey,
    LOG_LEVEL: "warn",
  };
}

export class GatewayProcess {
  /** Everything the process wrote to stdout and stderr, in the order it arrived. */
  output = "";
  /** What the process wrote to stderr alone. */
  errorOutput = "";
  /** Bytes read from its stdout so far. */
  stdoutBytes = 0;
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly url: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      this.output += chunk;
      this.stdoutBytes += Buffer.byteLength(chunk);
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.output += chunk;
      this.errorOutput += chunk;
    });
    // A test that closes the read end of stdout has said what it wants: no error of ours.
    child.stdout!.on("error", () => undefined);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /**
   * Starts the gateway on a free loopback port with only `env` (and PATH: no NODE_OPTIONS from
   * jest, nothing from the developer's shell), and resolves once /readyz answers 200.
   * `stdoutClosed`: the read end of its stdout is closed at once.
   */
  static async start(
    name: string,
    env: Record<string, string>,
    readyWithinMs = 15_000,
    options: { stdoutClosed?: boolean } = {},
  ): Promise<GatewayProcess> {
    if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`npm run build\` first (npm test does)`);
    const port = await freePort();
    const child = spawn(process.execPath, [ENTRY], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env, PORT: String(port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const gateway = new GatewayProcess(name, `http://127.0.0.1:${port}`, child);
    // Its reader gone before the gateway writes a byte, as under a supervisor that has died.
    if (options.stdoutClosed) child.stdout.destroy();
    const deadline = Date.now() + readyWithinMs;
    for (;;) {
      if (!gateway.running) throw new Error(`gateway ${name} exited during start-up: ${gateway.output}`);
      const status = await fetch(`${gateway.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return gateway;
      if (Date.now() > deadline) {
        await gateway.kill();
        throw new Error(`gateway ${name} was not ready within ${readyWithinMs} ms (last /readyz status ${status}): ${gateway.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The process's resident memory now, in KiB (`VmRSS` of /proc/<pid>/status). */
  residentKib(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
  }

  /** SIGTERM, as an orchestrator stops it: the gateway shuts down in order. Waits until it is gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    await this.exited;
  }

  /** SIGKILL, as a crash or an OOM kill would end it: no shutdown hook runs. Waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Sends a typed operation as a frontend behind a load balancer would: POST /graphql, bearer token and X-Forwarded-For if given. */
  async execute<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    options: { token?: string; forwardedFor?: string; headers?: Record<string, string> } = {},
  ): Promise<GraphQLResult<TResult>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...(options.forwardedFor === undefined ? {} : { "x-forwarded-for": options.forwardedFor }),
        ...options.headers,
      },
      body: JSON.stringify({ query: print(document), variables }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { data?: TResult | null; errors?: GraphQLResult<TResult>["errors"] };
    return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
  }
}

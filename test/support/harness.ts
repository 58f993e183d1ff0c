/**
 * A whole stack on loopback for one test file: both simulators and a gateway, talking real
 * HTTP. Every response body and log line is kept, so tests can assert on them (and on what
 * they must never contain).
 */
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../src/config/config.js";
import { startGateway, type RunningGateway } from "../../src/gateway.js";
import {
  demoUsers,
  IDP_DEMO,
  SPINE_DEMO,
  startIdpSimulator,
  startSpineSimulator,
  type IdpSimulator,
  type SpineDemoUser,
  type SpineSimulator,
} from "../../src/simulators/index.js";

/** The store encryption key of every test gateway (a test value, never a deployment's). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 42).toString("base64");

/** A clock the stack shares; tests move it instead of sleeping. */
class TestClock {
  #offsetMs = 0;
  readonly now = (): number => Date.now() + this.#offsetMs;
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}

export interface GraphQLResult<T> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> | undefined;
}

interface StackOptions {
  /** Settings as the environment would give them; backend URLs are filled in. */
  env?: Record<string, string>;
  /** Start no simulator for this backend; the env must then say where it is. */
  withoutSpine?: boolean;
  withoutIdp?: boolean;
  /** Smartcard holders the Spine simulator knows besides the demo users. */
  spineUsers?: readonly SpineDemoUser[];
  /**
   * How often the gateway sweeps expired sessions; off unless a test asks, because a stack's
   * clock runs ahead of other tests' on the shared Redis and its sweep would end their sessions.
   */
  expirySweepIntervalMs?: number;
  /** Serve the demo users' quick-fill data, as `npm start` does on its simulators. */
  demoUsers?: boolean;
}

export class Stack {
  readonly clock = new TestClock();
  /** Every log line the gateway wrote, parsed. */
  readonly logs: Array<Record<string, unknown>> = [];
  /** Every audit event the gateway wrote, parsed (unless the env names an AUDIT_LOG of its own). */
  readonly audit: Array<Record<string, unknown>> = [];
  /** Every raw response body the gateway sent. */
  readonly responses: string[] = [];
  spine!: SpineSimulator;
  idp!: IdpSimulator;
  gateway!: RunningGateway;

  static async start(options: StackOptions = {}): Promise<Stack> {
    const stack = new Stack();
    if (!options.withoutSpine) stack.spine = await startSpineSimulator({ now: stack.clock.now, extraUsers: options.spineUsers });
    if (!options.withoutIdp) stack.idp = await startIdpSimulator({ now: stack.clock.now });
    const env: Record<string, string> = {
      PORT: "0",
      SPINE_URL: stack.spine?.url ?? "",
      SPINE_ASID: SPINE_DEMO.asid,
      IDP_URL: stack.idp?.url ?? "",
      IDP_CLIENT_ID: IDP_DEMO.clientId,
      IDP_API_TOKEN: IDP_DEMO.apiToken,
      LOG_LEVEL: "debug",
      // A fixed key for tests: Redis-backed stacks need one, and gateways sharing a store must share it.
      SESSION_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      ...options.env,
    };
    const config = loadConfig(env, { asid: SPINE_DEMO.asid, clientId: IDP_DEMO.clientId, apiToken: IDP_DEMO.apiToken });
    stack.gateway = await startGateway(
      { ...config, spine: { ...config.spine, url: config.spine.url! }, idp: { ...config.idp, url: config.idp.url! } },
      {
        now: stack.clock.now,
        expirySweepIntervalMs: options.expirySweepIntervalMs ?? 0,
        demoUsers: options.demoUsers ? demoUsers({ spine: !options.withoutSpine, idp: !options.withoutIdp }) : undefined,
        logDestination: { write: (line: string) => void stack.logs.push(JSON.parse(line) as Record<string, unknown>) },
        auditDestination:
          options.env?.["AUDIT_LOG"] === undefined
            ? { write: (line: string) => void stack.audit.push(JSON.parse(line) as Record<string, unknown>) }
            : undefined,
      },
    );
    return stack;
  }

  get url(): string {
    return this.gateway.url;
  }

  /** Sends a typed operation as a frontend would: POST /graphql, JSON, bearer token if given. */
  async execute<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    options: { token?: string; headers?: Record<string, string> } = {},
  ): Promise<GraphQLResult<TResult>> {
    return this.post({ query: print(document), variables }, options);
  }

  /** Sends any body (for malformed requests and raw documents). */
  async post(body: unknown, options: { token?: string; headers?: Record<string, string> } = {}): Promise<GraphQLResult<any>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...options.headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return this.#read(response);
  }

  /** GET /graphql with the given query string parameters. */
  async get(params: Record<string, string>, headers: Record<string, string> = {}): Promise<GraphQLResult<any>> {
    const response = await fetch(`${this.url}/graphql?${new URLSearchParams(params)}`, { headers });
    return this.#read(response);
  }

  async close(): Promise<void> {
    await this.gateway?.close();
    await Promise.all([this.spine?.close(), this.idp?.close()]);
  }

  async #read(response: Response): Promise<GraphQLResult<any>> {
    const text = await response.text();
    this.responses.push(text);
    let body: { data?: unknown; errors?: GraphQLResult<unknown>["errors"] } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: data and errors stay undefined, the test sees the status
    }
    return { status: response.status, headers: response.headers, data: body.data as never, errors: body.errors };
  }
}

/** The demo users the tests sign in with. */
export const spineUser = SPINE_DEMO.users[0]!;
export const idpUser = IDP_DEMO.users[0]!;

/** The `extensions.code` of each error, in order. */
export function codes(result: GraphQLResult<unknown>): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

/**
 * A client address of this run only (IPv6 documentation prefix), so that sign-in failures
 * counted against it by other test files, on a shared Redis, do not count here.
 */
export function freshAddress(): string {
  return `2001:db8::${randomBytes(8).toString("hex").match(/.{4}/g)!.join(":")}`;
}

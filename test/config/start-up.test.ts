/**
 * `npm start` as an operator meets it: the built entry point run as a child process with
 * nothing but the environment. `npm test` builds `dist/` before jest runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/redis.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = `${ROOT}dist/src/main.js`;

/** The started entry point, its output so far, and a way to wait on both. */
class Started {
  stdout = "";
  stderr = "";
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `pattern` in stdout; rejects on exit or after `ms`. */
  async stdoutMatch(pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match !== null) return match;
      if (!this.running) throw new Error(`exited before printing ${pattern}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`did not print ${pattern} within ${ms} ms; stdout: ${this.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The exit, or a failure naming the wait if it takes longer than `ms`. */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stdout: ${this.stdout}; stderr: ${this.stderr}`)), ms);
    });
    return Promise.race([this.exit, late]).finally(() => clearTimeout(timer));
  }

  /** Makes sure nothing outlives the test: SIGKILL if still running. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.exit;
  }
}

const children: Started[] = [];

/**
 * Runs `node dist/src/main.js` with only `env` (and PATH): no NODE_OPTIONS from jest, no
 * REDIS_URL or backend settings from the developer's shell.
 */
function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [ENTRY], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const started = new Started(child);
  children.push(started);
  return started;
}

/** The lines of a stream's output, without the empty last one. */
function lines(text: string): string[] {
  return text.split("\n").filter((line, index, all) => !(index === all.length - 1 && line === ""));
}

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`npm run build\` first (npm test does)`);
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.kill()));
});

describe("npm start with nothing set (node dist/src/main.js)", () => {
  let app: Started;
  let url: string;
  beforeAll(async () => {
    // PORT=0 only so that parallel runs do not collide; the banner shows the real port.
    app = start({ PORT: "0" });
    url = (await app.stdoutMatch(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await app.stdoutMatch(/Ctrl\+C stops everything/);
  });
  afterAll(() => app.kill());

  it("prints where to open Apollo Sandbox, and the page is there", async () => {
    const sandbox = (await app.stdoutMatch(/Apollo Sandbox:\s+(\S+)/))[1]!;

    expect(sandbox).toBe(`${url}/graphql`);
    const page = await fetch(sandbox, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  });

  it("prints the demo credentials: smartcard tokens and an IdP email and password", () => {
    expect(app.stdout).toMatch(/^\s+token: \S+$/m);
    expect(app.stdout).toMatch(/^\s+email: \S+@\S+\s+password: \S+$/m);
  });

  it("writes nothing to stderr", () => {
    expect(app.stderr).toBe("");
  });

  it("serves /healthz", async () => {
    const response = await fetch(`${url}/healthz`);

    expect(response.status).toBe(200);
  });

  it("is ready: the built-in simulators are reachable", async () => {
    const response = await fetch(`${url}/readyz`);

    expect(response.status).toBe(200);
  });

  it("opens a session with the first printed demo smartcard token", async () => {
    const token = /^\s+token: (\S+)$/m.exec(app.stdout)![1]!;

    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: "mutation ($token: String!) { createSession(input: { token: $token }) { token session { provider user { id } } } }",
        variables: { token },
      }),
    });

    const body = (await response.json()) as { data?: { createSession: { token: string | null; session: { provider: string } } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    // The demo runs in cookie mode: the token travels in the HttpOnly cookie, not the payload.
    expect(body.data!.createSession.token).toBeNull();
    expect(response.headers.getSetCookie()).toEqual([expect.stringMatching(/^__Host-session=[A-Za-z0-9_-]{43}; .*HttpOnly/)]);
    expect(body.data!.createSession.session.provider).toBe("SPINE");
  });

  it("prints where to open the example app, and the app is there", async () => {
    const appUrl = (await app.stdoutMatch(/Example app:\s+(\S+)/))[1]!;

    expect(appUrl).toBe(`${url}/app/`);
    const page = await fetch(appUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Health auth gateway: example app</title>");
    expect((await fetch(`${url}/app/app.js`)).status).toBe(200);
  });

  it("prints the explorer's address, says Sandbox needs internet, and the explorer is there", async () => {
    const explorerUrl = (await app.stdoutMatch(/Explorer \(offline\):\s+(\S+)/))[1]!;

    expect(explorerUrl).toBe(`${url}/explorer/`);
    expect(app.stdout).toMatch(/Apollo Sandbox:.*needs internet access/);
    const page = await fetch(explorerUrl);
    expect(page.status).toBe(200);
    expect((await fetch(`${url}/explorer/explorer.js`)).status).toBe(200);
  });

  it("prints the simulators' addresses, and they answer there", async () => {
    const spine = (await app.stdoutMatch(/Spine:\s+(http:\/\/127\.0\.0\.1:\d+\/)\s+\(built-in simulator/))[1]!;
    const idp = (await app.stdoutMatch(/IdP:\s+(http:\/\/127\.0\.0\.1:\d+\/)\s+\(built-in simulator/))[1]!;

    expect(spine).not.toBe(idp);
    for (const backend of [spine, idp]) expect((await fetch(backend)).status).toBeLessThan(500);
  });

  it("serves the printed demo credentials to the example app's quick-fill buttons", async () => {
    const response = await fetch(`${url}/app/demo-users.json`);
    const demo = (await response.json()) as { spine: Array<{ smartcardToken: string }>; idp: Array<{ email: string; password: string }> };

    expect(response.status).toBe(200);
    expect(demo.spine.map((user) => user.smartcardToken)).toEqual([...app.stdout.matchAll(/^\s+token: (\S+)$/gm)].map((match) => match[1]));
    expect(demo.idp.map((user) => `${user.email} ${user.password}`)).toEqual(
      [...app.stdout.matchAll(/^\s+email: (\S+)\s+password: (\S+)$/gm)].map((match) => `${match[1]} ${match[2]}`),
    );
  });

  it("says that it runs in cookie mode", () => {
    expect(app.stdout).toContain("Cookie mode (SESSION_COOKIE=on)");
  });

  it("signs in with the first printed demo email and password", async () => {
    const [, email, password] = /^\s+email: (\S+)\s+password: (\S+)$/m.exec(app.stdout)!;

    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query:
          "mutation ($email: String!, $password: String!) { signin(input: { email: $email, password: $password }) { token session { provider } } }",
        variables: { email, password },
      }),
    });

    const body = (await response.json()) as { data?: { signin: { token: string; session: { provider: string } } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.signin.session.provider).toBe("IDP");
  });

  it("exits 0 within 5 s of SIGTERM and stops listening", async () => {
    app.child.kill("SIGTERM");

    const { code } = await app.exited(5_000);

    expect(code).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe("npm start with SESSION_COOKIE=off", () => {
  it("keeps bearer tokens in the demo too: the payload carries the token and no cookie is set", async () => {
    const app = start({ PORT: "0", SESSION_COOKIE: "off" });
    const url = (await app.stdoutMatch(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await app.stdoutMatch(/Ctrl\+C stops everything/);
    const token = /^\s+token: (\S+)$/m.exec(app.stdout)![1]!;

    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "mutation ($token: String!) { createSession(input: { token: $token }) { token } }", variables: { token } }),
    });

    const body = (await response.json()) as { data?: { createSession: { token: string | null } } };
    expect(body.data!.createSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(app.stdout).toContain("Authorization: Bearer <token>");
    await app.kill();
  });
});

describe("npm start in front of a real backend", () => {
  it("prints the backend's address without the user and password written into its URL", async () => {
    const port = await freePort();
    const app = start({
      PORT: "0",
      SPINE_URL: `http://gateway:s3cret-in-url@127.0.0.1:${port}/ers/?key=s3cret-in-query`,
      SPINE_ASID: "200000000220",
    });
    await app.stdoutMatch(/Ctrl\+C stops everything/);

    expect(app.stdout).toMatch(new RegExp(`^  Spine: +http://127\\.0\\.0\\.1:${port}/ers/$`, "m"));
    expect(app.stdout).toMatch(/^ {2}IdP: +http:\/\/127\.0\.0\.1:\d+\/ {2}\(built-in simulator, demo data\)$/m);
    expect(app.stdout).not.toContain("s3cret");
    await app.kill();
  });
});

describe("npm start stopped with Ctrl+C", () => {
  it("exits 0 within 5 s of SIGINT", async () => {
    const app = start({ PORT: "0" });
    const url = (await app.stdoutMatch(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await app.stdoutMatch(/Ctrl\+C stops everything/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    app.child.kill("SIGINT");
    const { code } = await app.exited(5_000);

    expect(code).toBe(0);
  });
});

describe("npm start with a bad setting", () => {
  let occupied: Server | undefined;
  afterEach(async () => {
    if (occupied !== undefined) await new Promise<void>((resolve) => occupied!.close(() => resolve()));
    occupied = undefined;
  });

  it.each<[string, string, Record<string, string>]>([
    ["PORT=abc", "PORT", { PORT: "abc" }],
    ["PORT=70000", "PORT", { PORT: "70000" }],
    ["IDP_URL without the IdP secrets", "IDP_CLIENT_ID", { PORT: "0", IDP_URL: "http://x" }],
    ["IDP_URL without IDP_API_TOKEN", "IDP_API_TOKEN", { PORT: "0", IDP_URL: "http://x", IDP_CLIENT_ID: "100042" }],
    ["SPINE_URL not http(s)", "SPINE_URL", { PORT: "0", SPINE_URL: "ftp://spine.internal", SPINE_ASID: "200000000220" }],
    ["REDIS_URL=http://x", "REDIS_URL", { PORT: "0", REDIS_URL: "http://x" }],
    ["LOG_LEVEL=loud", "LOG_LEVEL", { PORT: "0", LOG_LEVEL: "loud" }],
    ["HOST not an address of this machine", "HOST", { PORT: "0", HOST: "192.0.2.1" }],
  ])("stops on %s with exit code 1 and one line on stderr naming %s", async (_name, setting, env) => {
    const app = start(env);

    const { code } = await app.exited(10_000);

    expect(code).toBe(1);
    expect(lines(app.stderr)).toHaveLength(1);
    expect(app.stderr).toContain(setting);
    expect(app.stdout).not.toMatch(/listening on/);
  });

  it("stops with exit code 1 and one line on stderr naming PORT when the port is in use", async () => {
    const server = createServer();
    occupied = server;
    const port = await freePort();
    server.listen(port, "127.0.0.1");
    await once(server, "listening");

    const app = start({ PORT: String(port) });
    const { code } = await app.exited(10_000);

    expect(code).toBe(1);
    expect(lines(app.stderr)).toHaveLength(1);
    expect(app.stderr).toMatch(/\bPORT\b/);
    expect(app.stderr).toContain(String(port));
    expect(app.stdout).not.toMatch(/listening on/);
  });
});

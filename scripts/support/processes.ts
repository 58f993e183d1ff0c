/** The child processes the benchmark and the soak run start, wait for and stop. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

/** A port free on 127.0.0.1 now (for a child that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once `url` answers (with 200 when `ready200` is set, for `/readyz`); rejects as soon
 * as `child` exits, or after `withinMs`.
 */
export async function answering(
  url: string,
  child: ChildProcess,
  { withinMs, ready200 = false }: { withinMs: number; ready200?: boolean },
): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`a child process exited with code ${child.exitCode} before ${url} answered`);
    try {
      const response = await fetch(url);
      if (!ready200 || response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer within ${withinMs / 1000} s`);
}

/**
 * Stops a child with SIGTERM, and SIGKILL if it is still there after 15 s: longer than the
 * gateway's own shutdown limit (SHUTDOWN_LIMIT_MS), so a gateway is never cut short.
 */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(killer);
}

/**
 * Both simulators in a process of their own (`npm run simulators` on ports the system picks,
 * read back from what it prints), so neither the load driver nor the gateway share an event
 * loop with them.
 */
export async function startSimulators(): Promise<{ process: ChildProcess; spine: string; idp: string }> {
  const main = fileURLToPath(new URL("../../src/simulators/main.js", import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env["PATH"], SPINE_SIM_PORT: "0", IDP_SIM_PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let printed = "";
  const urls = await new Promise<{ spine: string; idp: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the simulators did not start within 10 s")), 10_000);
    child.stdout.on("data", (chunk: Buffer) => {
      printed += chunk.toString("utf8");
      const spine = /^Spine e-RS simulator\s+(http:\S+)/m.exec(printed)?.[1];
      const idp = /^IdP SSO simulator\s+(http:\S+)/m.exec(printed)?.[1];
      if (spine !== undefined && idp !== undefined) {
        clearTimeout(timer);
        resolve({ spine, idp });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the simulators exited with code ${code}`));
    });
  });
  child.stdout.resume();
  return { process: child, ...urls };
}

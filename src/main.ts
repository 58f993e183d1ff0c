/**
 * `npm start`: the gateway, and the built-in simulators for any backend whose URL is unset.
 * A bad setting stops start-up with one line naming it, and exit code 1.
 */
import { ConfigError, loadConfig, type GatewayConfig } from "./config/config.js";
import { SHUTDOWN_LIMIT_MS } from "./composition/lifecycle.js";
import { startGateway, type RunningGateway } from "./gateway.js";
import { APP_PATH, EXPLORER_PATH } from "./http/static.js";
import { demoUsers, IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type SimulatorHandle } from "./simulators/index.js";

async function main(): Promise<void> {
  const config = loadConfig(demoDefaults(process.env), { asid: SPINE_DEMO.asid, clientId: IDP_DEMO.clientId, apiToken: IDP_DEMO.apiToken });
  const simulators: SimulatorHandle[] = [];
  const spineUrl = config.spine.url ?? (await started(simulators, startSpineSimulator({ asid: config.spine.asid }))).url;
  const idpUrl =
    config.idp.url ?? (await started(simulators, startIdpSimulator({ clientId: config.idp.clientId, apiToken: config.idp.apiToken }))).url;

  let gateway: RunningGateway;
  try {
    gateway = await startGateway(
      { ...config, spine: { ...config.spine, url: spineUrl }, idp: { ...config.idp, url: idpUrl } },
      { demoUsers: demoUsers({ spine: config.spine.url === undefined, idp: config.idp.url === undefined }) },
    );
  } catch (error) {
    await Promise.all(simulators.map((simulator) => simulator.close()));
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ConfigError("PORT", `${config.port} is already in use on ${config.host}; choose another port`);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EACCES") {
      throw new ConfigError(code === "EACCES" ? "PORT" : "HOST", `cannot listen on ${config.host}:${config.port} (${code})`);
    }
    throw error;
  }

  // A reader of standard output already gone is survived (issue 14): the banner is lost, every
  // log line is dropped and counted (gateway_log_lines_dropped_total), and the gateway serves.
  process.stdout.write(banner(gateway.url, config, { spine: spineUrl, idp: idpUrl }));

  let stopping = false;
  const stop = (signal: string): void => {
    // A second signal is an operator who will not wait: nothing flushes synchronously at exit, so it ends at once.
    if (stopping) process.exit(1);
    stopping = true;
    gateway.log.info({ signal }, "shutting down");
    // The bound holds whatever the store, the simulators or the streams' readers do (issue 14).
    setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS);
    void gateway
      .close()
      .then(() => Promise.all(simulators.map((simulator) => simulator.close())))
      .then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

/**
 * With both simulators (nothing pointing at a real backend) and SESSION_COOKIE unset, the demo
 * runs in cookie mode, the way the example app is meant to be used. Anything set explicitly
 * wins, and a gateway in front of real backends keeps the documented default (off).
 */
function demoDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const unset = (name: string): boolean => (env[name]?.trim() ?? "") === "";
  return unset("SPINE_URL") && unset("IDP_URL") && unset("SESSION_COOKIE") ? { ...env, SESSION_COOKIE: "on" } : env;
}

async function started<T extends SimulatorHandle>(simulators: SimulatorHandle[], simulator: Promise<T>): Promise<T> {
  const handle = await simulator;
  simulators.push(handle);
  return handle;
}

/** What a newcomer needs on screen: where to click, where the backends are, and what to sign in with. */
function banner(url: string, config: GatewayConfig, backends: { spine: string; idp: string }): string {
  const { production, sessionCookie: cookieMode } = config;
  const [spineSimulated, idpSimulated] = [config.spine.url === undefined, config.idp.url === undefined];
  const lines = [
    "",
    `Health auth gateway listening on ${url}`,
    production ? `  GraphQL endpoint:   ${url}/graphql` : `  Apollo Sandbox:     ${url}/graphql  (open it in a browser; it needs internet access)`,
    // Health networks are often offline: the explorer is served from this process, nothing fetched from elsewhere.
    ...(production ? [] : [`  Explorer (offline): ${url}${EXPLORER_PATH}  (GraphiQL served by the gateway)`]),
    ...(production ? [] : [`  Example app:        ${url}${APP_PATH}  (open it in a browser)`]),
    ...(config.federationRouterSecret === undefined ? [] : [`  Federation subgraph: ${url}/subgraph  (for the router: Router-Secret header)`]),
    `  Health, readiness:  ${url}/healthz, ${url}/readyz, metrics ${url}/metrics`,
    `  Spine:              ${address(backends.spine)}${spineSimulated ? "  (built-in simulator, demo data)" : ""}`,
    `  IdP:                ${address(backends.idp)}${idpSimulated ? "  (built-in simulator, demo data)" : ""}`,
  ];
  if (spineSimulated) {
    lines.push("", "Demo smartcard tokens (mutation createSession):");
    for (const user of SPINE_DEMO.users) lines.push(`  ${user.label}`, `    token: ${user.smartcardToken}`);
  }
  if (idpSimulated) {
    lines.push("", "Demo IdP users (mutation signin):");
    for (const user of IDP_DEMO.users) lines.push(`  ${user.label}`, `    email: ${user.email}   password: ${user.password}`);
  }
  lines.push(
    "",
    cookieMode
      ? "Cookie mode (SESSION_COOKIE=on): sign-ins set an HttpOnly session cookie and return token null. Ctrl+C stops everything."
      : "Send the returned token as `Authorization: Bearer <token>`. Ctrl+C stops everything.",
    "",
  );
  return lines.join("\n");
}

/** A backend's address without any user or password written into the URL, nor a query: the banner is often pasted. */
function address(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Invalid setting ${error.message}\n`);
  } else {
    process.stderr.write(`Start-up failed: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exit(1);
});

/**
 * Runs both simulators for the demo: `SPINE_SIM_PORT` (default 4010) and `IDP_SIM_PORT`
 * (default 4020), on 127.0.0.1. Prints their URLs and the demo credentials; stops on SIGINT/SIGTERM.
 */
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type SimulatorHandle } from "./index.js";

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

const started: SimulatorHandle[] = [];
try {
  const spinePort = portFromEnv("SPINE_SIM_PORT", 4010);
  const idpPort = portFromEnv("IDP_SIM_PORT", 4020);
  const spine = await startSpineSimulator({ port: spinePort });
  started.push(spine);
  const idp = await startIdpSimulator({ port: idpPort });
  started.push(idp);

  // The demo credentials are printed on purpose: they exist only in these simulators.
  console.log(
    [
      `Spine e-RS simulator  ${spine.url}   XAPI_ASID ${spine.asid}`,
      ...SPINE_DEMO.users.map((u) => `  ${u.label}\n    smartcard token ${u.smartcardToken}`),
      "",
      `IdP SSO simulator     ${idp.url}   client_id ${idp.clientId}   X-Auth-Token ${idp.apiToken}`,
      ...IDP_DEMO.users.map((u) => `  ${u.label}\n    ${u.email} / ${u.password}`),
      "",
      "Faults and call logs: POST/DELETE /__sim/faults, GET/DELETE /__sim/calls on either URL. Ctrl-C stops.",
    ].join("\n"),
  );
} catch (error) {
  console.error(`simulators: ${(error as Error).message}`);
  await Promise.all(started.map((s) => s.close()));
  process.exit(1);
}

const stop = (): void => {
  void Promise.all(started.map((s) => s.close())).then(() => process.exit(0));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

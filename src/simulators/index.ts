/**
 * Simulators of the two auth backends (shared/contracts/spine.md and idp.md), for the demo and
 * every test: real HTTP servers with switchable faults, a call log and a `/__sim/` control API.
 */
import { IDP_DEMO } from "./idp/idp.seed.js";
import { SPINE_DEMO } from "./spine/spine.seed.js";

export { startSpineSimulator } from "./spine/spine.simulator.js";
export { startIdpSimulator } from "./idp/idp.simulator.js";
export { SPINE_DEMO } from "./spine/spine.seed.js";
export { IDP_DEMO } from "./idp/idp.seed.js";

export type { Fault, RecordedCall, SimulatorHandle } from "./sim-server.js";
export type { SpineSimulator } from "./spine/spine.simulator.js";
export type { SpineDemoUser } from "./spine/spine.seed.js";
export type { IdpSimulator } from "./idp/idp.simulator.js";

/** The demo users' sign-in data, for the example app's quick-fill buttons (served only in simulator mode). */
export interface DemoUsers {
  spine: Array<{ label: string; smartcardToken: string }>;
  idp: Array<{ label: string; email: string; password: string }>;
}

/** The credentials the banner prints, of the simulators that run; undefined when none does (real backends). */
export function demoUsers(simulated: { spine: boolean; idp: boolean }): DemoUsers | undefined {
  if (!simulated.spine && !simulated.idp) return undefined;
  return {
    spine: simulated.spine ? SPINE_DEMO.users.map(({ label, smartcardToken }) => ({ label, smartcardToken })) : [],
    idp: simulated.idp ? IDP_DEMO.users.map(({ label, email, password }) => ({ label, email, password })) : [],
  };
}

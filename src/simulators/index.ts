/**
 * Simulators of the two auth backends (shared/contracts/spine.md and idp.md), for the demo and
 * every test: real HTTP servers with switchable faults, a call log and a `/__sim/` control API.
 */
export { startSpineSimulator } from "./spine/spine.simulator.js";
export { startIdpSimulator } from "./idp/idp.simulator.js";
export { SPINE_DEMO } from "./spine/spine.seed.js";
export { IDP_DEMO } from "./idp/idp.seed.js";

export type { Fault, FaultKind, RecordedCall, SimulatorHandle } from "./sim-server.js";
export type { SpineSimulator, SpineSimulatorOptions } from "./spine/spine.simulator.js";
export type { SpineDemoUser } from "./spine/spine.seed.js";
export type { IdpSimulator, IdpSimulatorOptions } from "./idp/idp.simulator.js";

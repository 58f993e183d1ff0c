import type { GatewayConfig } from "../config/config.js";

/** Settings with both backends' URLs known (the simulators, if any, already started). */
export type ResolvedConfig = GatewayConfig & { spine: { url: string }; idp: { url: string } };

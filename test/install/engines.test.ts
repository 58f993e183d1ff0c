/**
 * The Node versions package.json states against every installed package's own `engines`
 * (package-lock.json): the gateway's dependencies run on the `engines` floor, and everything
 * `npm ci` installs for development on the `devEngines` floor, so that a supported Node
 * installs without an engine warning (docs/install.md).
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import semver from "semver";

const read = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"));
const manifest = read("package.json") as { engines: { node: string }; devEngines: { runtime: { name: string; version: string } } };
const lock = read("package-lock.json") as { packages: Record<string, { dev?: boolean; optional?: boolean; engines?: unknown }> };

/** Every locked package whose `engines.node` does not admit `node`, optional platform bindings included. */
function refusing(node: string, which: (entry: { dev?: boolean }) => boolean): string[] {
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path !== "" && which(entry))
    .filter(([, entry]) => {
      const range = (entry.engines as { node?: unknown } | undefined)?.node;
      return typeof range === "string" && !semver.satisfies(node, range);
    })
    .map(([path, entry]) => `${path} wants node ${(entry.engines as { node: string }).node}`);
}

describe("the Node versions package.json states", () => {
  const runtimeFloor = semver.minVersion(manifest.engines.node)!.version;
  const developmentFloor = semver.minVersion(manifest.devEngines.runtime.version)!.version;

  it("run every dependency of the gateway from the engines floor up", () => {
    expect(refusing(runtimeFloor, (entry) => !entry.dev)).toEqual([]);
  });

  it("install every development package without an engine warning from the devEngines floor up", () => {
    expect(manifest.devEngines.runtime.name).toBe("node");
    expect(refusing(developmentFloor, () => true)).toEqual([]);
  });

  it("include the Node this runs on", () => {
    expect(semver.satisfies(process.version, manifest.devEngines.runtime.version)).toBe(true);
  });
});

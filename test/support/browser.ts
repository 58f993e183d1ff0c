/**
 * Whether the browser tests run: they drive Debian's `chromium` through playwright-core. Where
 * it is missing they fail under CI (CI is set; `.ci/run` installs chromium first) and are
 * skipped elsewhere with a warning, as the Redis tests are.
 */
import { describe, it } from "@jest/globals";
import { existsSync } from "node:fs";

/** Debian's package puts it here; CHROMIUM_PATH points elsewhere. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH?.trim() || "/usr/bin/chromium";

export function describeWithChromium(name: string, body: (executablePath: string) => void): void {
  if (existsSync(CHROMIUM_PATH)) {
    describe(name, () => body(CHROMIUM_PATH));
    return;
  }
  const advice = `install it (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (process.env.CI) {
    describe(name, () => {
      it("needs Chromium", () => {
        throw new Error(`Chromium is not at ${CHROMIUM_PATH}: ${advice}`);
      });
    });
    return;
  }
  console.warn(`SKIPPED: browser tests "${name}" — Chromium is not at ${CHROMIUM_PATH}; ${advice}`);
  describe.skip(name, () => body(CHROMIUM_PATH));
}

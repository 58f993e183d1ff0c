/**
 * Waiting in tests: for a condition, never for a fixed time. Polls `condition` until it holds
 * (a truthy value, which is returned) and fails after `timeoutMs`, naming what it waited for,
 * so every wait is bounded and a slow machine only makes a test slower, not wrong.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 2_000, what = "the condition" }: { timeoutMs?: number; what?: string | (() => string) } = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== null && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${typeof what === "string" ? what : what()}`);
    // The polling interval: short against every wait here, long enough not to spin.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

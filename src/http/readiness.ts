/**
 * One probe shared by every caller while it runs, and its answer reused until `reuseMs` after
 * it started (issue 14: 200 unauthenticated `/readyz` calls made 400 backend calls). Whatever
 * the rate of callers, the probed party sees at most one call per `reuseMs`; a change on its
 * side shows within `reuseMs` plus one probe's time.
 */
export function sharedProbe(probe: () => Promise<boolean>, reuseMs: number): () => Promise<boolean> {
  let last: { startedAt: number; answer: Promise<boolean> } | undefined;
  let running = false;
  return () => {
    if (last === undefined || (!running && performance.now() - last.startedAt >= reuseMs)) {
      running = true;
      last = {
        startedAt: performance.now(),
        answer: probe()
          .catch(() => false)
          .finally(() => {
            running = false;
          }),
      };
    }
    return last.answer;
  };
}

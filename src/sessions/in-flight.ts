/**
 * Backend calls still running for each session, so that ending a session can wait for them.
 * e-RS: "a connected system must not close a session until every earlier call authorised by
 * that session has returned" (spine.md). This sees the calls of this process; with several
 * instances a call still running on another instance cannot be seen from here.
 */
export class InFlightCalls {
  readonly #calls = new Map<string, Set<Promise<unknown>>>();

  /** Runs `work` as a call of session `id`. */
  track<T>(id: string, work: () => Promise<T>): Promise<T> {
    const call = work();
    let calls = this.#calls.get(id);
    if (calls === undefined) {
      calls = new Set();
      this.#calls.set(id, calls);
    }
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    calls.add(settled);
    void settled.then(() => {
      calls.delete(settled);
      if (calls.size === 0 && this.#calls.get(id) === calls) this.#calls.delete(id);
    });
    return call;
  }

  /** Resolves once every call of session `id` that had started has returned. */
  async drained(id: string): Promise<void> {
    const calls = this.#calls.get(id);
    if (calls !== undefined) await Promise.all([...calls]);
  }
}

/** The session store could not be read or written. The gateway fails closed on it. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(operation: string, cause: unknown) {
    super(`session store ${operation} failed`, { cause });
  }
}

/** Small readers for untrusted JSON: each returns undefined instead of guessing. */

type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-empty string. */
export function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** A string or a number, as text (ids arrive as either). */
export function idText(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return text(value);
}

/** An array, or an empty one when the field is missing or null. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Parses a JSON text; undefined when it is not JSON (a 200 with an HTML page is a lie, not a success). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * The IdP's wire shapes (shared/contracts/idp.md) and their translation into domain types.
 * Deployed IdPs differ from the published documentation, so reading is liberal: any
 * variant the contract lists maps cleanly, and one odd value never fails the whole answer.
 */
import { AuthProvider, type Profile, type User } from "../../domain/user.js";
import { idText, isObject, list, text } from "../wire.js";

/** `{ "access_token": "..." }` from sign-in; undefined when it is not that. */
export function parseSigninBody(body: unknown): string | undefined {
  return isObject(body) ? text(body.access_token) : undefined;
}

/** `is_active` arrives as a boolean or as 1/0 (reference implementation). */
function flag(value: unknown): boolean | null {
  if (value === true || value === 1 || value === "1" || value === "true") return true;
  if (value === false || value === 0 || value === "0" || value === "false") return false;
  return null;
}

function profileFrom(value: unknown): Profile | undefined {
  if (!isObject(value)) return undefined;
  // The reference implementation names the type `name`.
  const type = text(value.type) ?? text(value.name);
  const id = idText(value.id);
  if (type === undefined || id === undefined) return undefined;
  const catchment = list(value.catchment)
    .map(idText)
    .filter((code): code is string => code !== undefined);
  return { type: type.toLowerCase(), id, catchment };
}

/**
 * Reads the user info answer. Undefined only when it does not identify a user (no id);
 * everything else degrades field by field.
 */
export function parseUserInfo(body: unknown, timeZone: string): User | undefined {
  if (!isObject(body)) return undefined;
  const identifier = idText(body.id);
  if (identifier === undefined) return undefined;
  const email = text(body.email) ?? null;
  return {
    provider: AuthProvider.IDP,
    identifier,
    displayName: text(body.name) ?? email ?? identifier,
    firstName: null,
    middleName: null,
    lastName: null,
    email,
    active: flag(body.is_active),
    groups: list(body.groups).filter((group): group is string => typeof group === "string" && group.length > 0),
    permissions: [],
    profiles: list(body.profiles)
      .map(profileFrom)
      .filter((profile): profile is Profile => profile !== undefined),
    lastLoginAt: timestamp(body.last_login, timeZone),
  };
}

const LOCAL_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;

/**
 * IdP timestamps are `yyyy-MM-dd HH:mm:ss` in the IdP's local time, with no zone; read them
 * in the configured zone. A timestamp that carries its own zone is taken as it is.
 */
export function timestamp(value: unknown, timeZone: string): string | null {
  if (typeof value !== "string") return null;
  const local = LOCAL_TIMESTAMP.exec(value);
  if (local === null) {
    // Date.parse rolls impossible fields over (2015-02-30T10:00:00Z becomes 2 March): check them first.
    const fields = ISO_DATE_TIME.exec(value);
    if (fields !== null && Number.isNaN(wallClockAsUtc(fields.slice(1).map(Number)))) return null;
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
    return Number.isNaN(zoned) ? null : new Date(zoned).toISOString();
  }
  const wallClock = wallClockAsUtc(local.slice(1).map(Number));
  if (Number.isNaN(wallClock)) return null;
  // The zone's offset at the instant itself, found in two steps so DST edges come out right.
  let instant = wallClock - offsetMs(wallClock, timeZone);
  instant = wallClock - offsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/;

/**
 * Year, month, day, hour, minute, second read as a UTC instant; NaN when they name no real
 * time (2015-02-30, month 13, minute 60), which Date.UTC would silently roll over.
 */
function wallClockAsUtc(fields: readonly number[]): number {
  const [year, month, day, hour, minute, second] = fields as [number, number, number, number, number, number];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  date.setUTCHours(hour, minute, second, 0);
  const read = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
  return read.every((field, i) => field === fields[i]) ? date.getTime() : Number.NaN;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function offsetMs(instant: number, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, Number(part.value)]));
  const wallClock = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wallClock - (instant - (instant % 1000));
}

import { describe, expect, it } from "@jest/globals";
import { parseSigninBody, parseUserInfo, timestamp } from "../../src/backends/idp/idp.wire.js";
import { AuthProvider } from "../../src/domain/user.js";

/** The user-info example of shared/contracts/idp.md, as published. */
const DOCUMENTED = {
  id: 6,
  name: "Dr. X Y Z",
  email: "xyz@example.org",
  is_active: true,
  activated: true,
  activated_at: null,
  last_login: "2015-01-20 09:52:58",
  access_token: "xyz_token",
  created_at: "2014-09-04 13:26:14",
  updated_at: "2015-01-20 09:52:58",
  deleted_at: null,
  groups: ["MCI Admin", "API Consumer"],
  profiles: [
    { type: "provider", id: "123", catchment: ["302618", "302614"] },
    { type: "admin", id: "2", catchment: ["3026"] },
    { type: "facility", id: "10000069", catchment: ["302618"] },
    { type: "patient", id: "10091232131", catchment: [] },
  ],
};

/** The smallest answer that identifies a user: everything else is optional. */
const read = (fields: Record<string, unknown>, timeZone = "UTC") => parseUserInfo({ id: 6, ...fields }, timeZone);

describe("parseUserInfo", () => {
  it("maps the documented example to an IdP user, field by field", () => {
    expect(parseUserInfo(DOCUMENTED, "UTC")).toEqual({
      provider: AuthProvider.IDP,
      identifier: "6",
      displayName: "Dr. X Y Z",
      firstName: null,
      middleName: null,
      lastName: null,
      email: "xyz@example.org",
      active: true,
      groups: ["MCI Admin", "API Consumer"],
      permissions: [],
      profiles: [
        { type: "provider", id: "123", catchment: ["302618", "302614"] },
        { type: "admin", id: "2", catchment: ["3026"] },
        { type: "facility", id: "10000069", catchment: ["302618"] },
        { type: "patient", id: "10091232131", catchment: [] },
      ],
      lastLoginAt: "2015-01-20T09:52:58.000Z",
    });
  });

  it("keeps the access token that the body echoes out of the user", () => {
    expect(JSON.stringify(parseUserInfo(DOCUMENTED, "UTC"))).not.toContain("xyz_token");
  });

  it("maps the reference implementation's shape: string id, is_active 1, no activated, type under name, nulls left out", () => {
    const user = parseUserInfo(
      {
        id: "18",
        name: "Karim Uddin",
        email: "karim.uddin@example.org",
        is_active: 1,
        last_login: "2016-03-02 11:04:41",
        groups: ["MCI Admin"],
        profiles: [
          { name: "mci-supervisor", id: "42", catchment: ["3026"] },
          { name: "admin", id: "7", catchment: ["302618"] },
        ],
      },
      "UTC",
    );

    expect(user).toMatchObject({
      identifier: "18",
      displayName: "Karim Uddin",
      active: true,
      groups: ["MCI Admin"],
      profiles: [
        { type: "mci-supervisor", id: "42", catchment: ["3026"] },
        { type: "admin", id: "7", catchment: ["302618"] },
      ],
      lastLoginAt: "2016-03-02T11:04:41.000Z",
    });
  });

  it.each([
    [6, "6"],
    ["6", "6"],
    [0, "0"],
    ["a1b2", "a1b2"],
  ])("reads the id %p as the identifier %p", (id, identifier) => {
    expect(parseUserInfo({ id }, "UTC")?.identifier).toBe(identifier);
  });

  it.each([
    [true, true],
    [1, true],
    ["1", true],
    [false, false],
    [0, false],
    ["0", false],
  ])("reads is_active %p as active %p", (isActive, active) => {
    expect(read({ is_active: isActive })?.active).toBe(active);
  });

  it.each([[undefined], [null], ["yes"], [2], [{}]])("leaves active unknown (null) for is_active %p", (isActive) => {
    expect(read({ is_active: isActive })?.active).toBeNull();
  });

  it("does not need activated, activated_at, created_at, updated_at or deleted_at", () => {
    const user = read({ name: "N", is_active: true, groups: ["Provider"] });

    expect(user).toMatchObject({ identifier: "6", displayName: "N", active: true, groups: ["Provider"] });
  });

  it("maps an answer that carries nothing but the id, with empty lists and nulls", () => {
    expect(parseUserInfo({ id: 31 }, "UTC")).toEqual({
      provider: AuthProvider.IDP,
      identifier: "31",
      displayName: "31",
      firstName: null,
      middleName: null,
      lastName: null,
      email: null,
      active: null,
      groups: [],
      permissions: [],
      profiles: [],
      lastLoginAt: null,
    });
  });

  it("reads null groups, profiles, name, email and last_login as absent", () => {
    const user = read({ name: null, email: null, groups: null, profiles: null, last_login: null, is_active: 0 });

    expect(user).toMatchObject({ displayName: "6", email: null, groups: [], profiles: [], lastLoginAt: null, active: false });
  });

  it("falls back to the email, then to the id, for the display name", () => {
    expect(read({ email: "a@example.org" })?.displayName).toBe("a@example.org");
    expect(read({ name: "", email: "a@example.org" })?.displayName).toBe("a@example.org");
    expect(read({ name: 42 })?.displayName).toBe("6");
  });

  it("takes the profile type from type, or from name when type is missing", () => {
    const user = read({
      profiles: [
        { type: "provider", id: "1" },
        { name: "admin", id: "2" },
        { type: "facility", name: "Upazila Health Complex", id: "3" },
      ],
    });

    expect(user?.profiles.map((profile) => profile.type)).toEqual(["provider", "admin", "facility"]);
  });

  it("passes profile types beyond the documented four through, lower-cased", () => {
    const user = read({
      profiles: [
        { name: "mci-supervisor", id: "42", catchment: ["3026"] },
        { type: "PROVIDER", id: "1", catchment: [] },
        { name: "Patient", id: "2", catchment: [] },
        { type: "shr-auditor", id: "3", catchment: [] },
      ],
    });

    expect(user?.profiles).toEqual([
      { type: "mci-supervisor", id: "42", catchment: ["3026"] },
      { type: "provider", id: "1", catchment: [] },
      { type: "patient", id: "2", catchment: [] },
      { type: "shr-auditor", id: "3", catchment: [] },
    ]);
  });

  it("skips a profile without an id or a type and keeps the others", () => {
    const user = read({
      profiles: [
        { type: "provider", catchment: ["302618"] },
        { type: "admin", id: null, catchment: ["3026"] },
        { type: "admin", id: "", catchment: ["3026"] },
        { id: "9", catchment: [] },
        { type: 7, id: "8", catchment: [] },
        "provider",
        null,
        { type: "facility", id: "10000069", catchment: ["302618"] },
      ],
    });

    expect(user?.profiles).toEqual([{ type: "facility", id: "10000069", catchment: ["302618"] }]);
  });

  it("reads numeric profile ids and catchment codes as strings", () => {
    const user = read({ profiles: [{ type: "admin", id: 2, catchment: [3026, "302618"] }] });

    expect(user?.profiles).toEqual([{ type: "admin", id: "2", catchment: ["3026", "302618"] }]);
  });

  it("drops catchment entries that are not codes and reads a missing catchment as none", () => {
    const user = read({
      profiles: [
        { type: "provider", id: "1", catchment: ["302618", null, {}, "", Number.NaN, "302614"] },
        { type: "patient", id: "2" },
        { type: "admin", id: "3", catchment: "3026" },
      ],
    });

    expect(user?.profiles).toEqual([
      { type: "provider", id: "1", catchment: ["302618", "302614"] },
      { type: "patient", id: "2", catchment: [] },
      { type: "admin", id: "3", catchment: [] },
    ]);
  });

  it("drops group entries that are not strings and keeps the rest in order", () => {
    const user = read({ groups: ["MCI Admin", 3, null, { name: "x" }, "", ["Provider"], "API Consumer"] });

    expect(user?.groups).toEqual(["MCI Admin", "API Consumer"]);
  });

  it("reads groups or profiles that are not lists as none", () => {
    expect(read({ groups: "MCI Admin", profiles: { type: "provider", id: "1" } })).toMatchObject({ groups: [], profiles: [] });
  });

  it("reads last_login in the IdP's zone", () => {
    expect(read({ last_login: "2015-01-20 09:52:58" }, "Asia/Dhaka")?.lastLoginAt).toBe("2015-01-20T03:52:58.000Z");
  });

  it("leaves lastLoginAt null for a last_login it cannot read, and still maps the user", () => {
    expect(read({ name: "N", last_login: "yesterday" })).toMatchObject({ displayName: "N", lastLoginAt: null });
  });

  it.each([
    ["null", null],
    ["a string", "6"],
    ["a number", 6],
    ["an array", [{ id: 6 }]],
    ["an object without id", { name: "Dr. X Y Z", email: "xyz@example.org" }],
    ["an object with a null id", { id: null, name: "Dr. X Y Z" }],
    ["an object with an empty id", { id: "" }],
    ["an object with a boolean id", { id: true }],
    ["an object with a non-finite id", { id: Number.POSITIVE_INFINITY }],
    ["an object with an object id", { id: { value: 6 } }],
    ["the IdP's error body", { error: true, message: "Not authenticated", code: 401 }],
  ])("answers undefined for %s", (_, body) => {
    expect(parseUserInfo(body, "UTC")).toBeUndefined();
  });
});

describe("timestamp", () => {
  it("reads yyyy-MM-dd HH:mm:ss as UTC wall-clock time in UTC", () => {
    expect(timestamp("2015-01-20 09:52:58", "UTC")).toBe("2015-01-20T09:52:58.000Z");
  });

  it("reads yyyy-MM-dd HH:mm:ss in a named zone (Asia/Dhaka, +06:00)", () => {
    expect(timestamp("2015-01-20 09:52:58", "Asia/Dhaka")).toBe("2015-01-20T03:52:58.000Z");
    expect(timestamp("2015-01-01 03:00:00", "Asia/Dhaka")).toBe("2014-12-31T21:00:00.000Z");
  });

  it("applies Europe/London's offset on each side of the spring DST change", () => {
    expect(timestamp("2015-03-29 00:30:00", "Europe/London")).toBe("2015-03-29T00:30:00.000Z");
    expect(timestamp("2015-03-29 02:30:00", "Europe/London")).toBe("2015-03-29T01:30:00.000Z");
    expect(timestamp("2015-07-01 12:00:00", "Europe/London")).toBe("2015-07-01T11:00:00.000Z");
  });

  it("applies Europe/London's offset on each side of the autumn DST change", () => {
    expect(timestamp("2015-10-25 00:30:00", "Europe/London")).toBe("2015-10-24T23:30:00.000Z");
    expect(timestamp("2015-10-25 02:30:00", "Europe/London")).toBe("2015-10-25T02:30:00.000Z");
  });

  it("reads a wall-clock time that occurs twice (autumn, 01:30 London) as one of its two instants", () => {
    expect(["2015-10-25T00:30:00.000Z", "2015-10-25T01:30:00.000Z"]).toContain(timestamp("2015-10-25 01:30:00", "Europe/London"));
  });

  it("accepts a T between date and time", () => {
    expect(timestamp("2015-01-20T09:52:58", "Asia/Dhaka")).toBe("2015-01-20T03:52:58.000Z");
  });

  it("takes an ISO timestamp with its own zone as it is, whatever the configured zone", () => {
    expect(timestamp("2015-01-20T09:52:58Z", "Asia/Dhaka")).toBe("2015-01-20T09:52:58.000Z");
    expect(timestamp("2015-01-20T09:52:58.250Z", "UTC")).toBe("2015-01-20T09:52:58.250Z");
    expect(timestamp("2015-01-20T09:52:58+06:00", "Europe/London")).toBe("2015-01-20T03:52:58.000Z");
    expect(timestamp("2015-01-20T09:52:58-05:00", "UTC")).toBe("2015-01-20T14:52:58.000Z");
  });

  it("reads a leap day in a leap year", () => {
    expect(timestamp("2016-02-29 12:00:00", "UTC")).toBe("2016-02-29T12:00:00.000Z");
  });

  it.each([
    ["2015-02-30 10:00:00"],
    ["2015-02-29 12:00:00"],
    ["2015-04-31 08:00:00"],
    ["2015-13-01 00:00:00"],
    ["2015-00-10 00:00:00"],
    ["2015-01-00 00:00:00"],
    ["0000-00-00 00:00:00"],
    ["2015-01-01 24:00:00"],
    ["2015-01-01 10:60:00"],
    ["2015-01-01 10:00:60"],
    ["2015-02-30T10:00:00Z"],
    ["2015-13-01T00:00:00+06:00"],
  ])("answers null for the impossible timestamp %p", (value) => {
    expect(timestamp(value, "UTC")).toBeNull();
  });

  it.each([
    ["garbage", "garbage"],
    ["garbage ending like a zone", "not a time Z"],
    ["a date without a time", "2015-01-20"],
    ["a time without seconds", "2015-01-20 09:52"],
    ["an empty string", ""],
    ["a number", 1421747578000],
    ["null", null],
    ["undefined", undefined],
  ])("answers null for %s", (_, value) => {
    expect(timestamp(value, "UTC")).toBeNull();
  });
});

describe("parseSigninBody", () => {
  it("reads the access token of a successful sign-in", () => {
    expect(parseSigninBody({ access_token: "UXmbhELOU47hC5bA7rvvtx2lMuePIF1kOTgyVAhcAX" })).toBe("UXmbhELOU47hC5bA7rvvtx2lMuePIF1kOTgyVAhcAX");
  });

  it("ignores fields beside the access token", () => {
    expect(parseSigninBody({ access_token: "tok", expires_in: 600 })).toBe("tok");
  });

  it.each([
    ["the IdP's error body", { error: true, message: "Not authenticated", code: 401 }],
    ["an empty object", {}],
    ["an empty access token", { access_token: "" }],
    ["a numeric access token", { access_token: 12345 }],
    ["a null access token", { access_token: null }],
    ["the token as a bare string", "UXmbhELOU47hC5bA7rvvtx2lMuePIF1kOTgyVAhcAX"],
    ["an array", [{ access_token: "tok" }]],
    ["null", null],
    ["undefined (a body that was not JSON)", undefined],
  ])("answers undefined for %s", (_, body) => {
    expect(parseSigninBody(body)).toBeUndefined();
  });
});

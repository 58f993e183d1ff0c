import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { print } from "graphql";
import { CreateSessionDocument, SelectRoleDocument, SigninDocument } from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, type GraphQLResult } from "../support/harness.js";

/** A password the tests send where it must not come back: distinctive, so a leak cannot hide. */
const PASSWORD = "Sup3r-secret-pw!";
/** The value of a field the input types do not have. */
const UNKNOWN_VALUE = "Unkn0wn-field-value";
/** A number where a password belongs. */
const NUMBER = 987654321012;

const SIGNIN_WITH_INPUT = "mutation SigninInputVariable($input: SigninInput!) { signin(input: $input) { token } }";
const SIGNIN_WITH_FIELDS = "mutation SigninFieldVariables($e: String!, $p: String!) { signin(input: { email: $e, password: $p }) { token } }";
const CREATE_WITH_INPUT = "mutation CreateSessionInputVariable($input: CreateSessionInput!) { createSession(input: $input) { token } }";

/** A smartcard-token-like value of exactly `length` characters. */
function tokenOfLength(length: number): string {
  return "AQIC5wM2LY4Sf-length-check-".padEnd(length - 2, "Zq") + "=#";
}

/** A well-formed address (64-character local part, labels of at most 63) of exactly `length` characters. */
function emailOfLength(length: number): string {
  const local = "echo-check-".padEnd(64, "q");
  const last = length - local.length - 1 - 2 * 64 - ".org".length;
  const email = `${local}@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(last)}.org`;
  expect(email).toHaveLength(length);
  return email;
}

describe("input validation of the mutations' arguments", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.clearFaults();
    stack.idp.clearFaults();
    stack.spine.resetCalls();
    stack.idp.resetCalls();
  });

  /** The raw body of the last answer, where an echoed value would show wherever it hid. */
  function lastBody(): string {
    return stack.responses.at(-1)!;
  }

  /**
   * The contract's BAD_USER_INPUT: one error, nothing sent to either backend, and none of
   * the given values anywhere in the answer.
   */
  function expectRefusedWithoutEcho(result: GraphQLResult<unknown>, values: readonly string[]): void {
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(stack.spine.calls()).toEqual([]);
    expect(stack.idp.calls()).toEqual([]);
    const body = lastBody();
    for (const value of values) expect(body).not.toContain(value);
  }

  /** The fields class-validator named, in order. */
  function fieldsOf(result: GraphQLResult<unknown>): unknown {
    const fields = result.errors?.[0]?.extensions?.["fields"] as Array<{ field: string }> | undefined;
    return fields?.map((entry) => entry.field);
  }

  describe("createSession", () => {
    it("refuses an empty token with BAD_USER_INPUT naming the field", async () => {
      const result = await stack.execute(CreateSessionDocument, { token: "" });

      expectRefusedWithoutEcho(result, []);
      expect(result.errors![0]!.message).toBe("The input is not valid.");
      expect(fieldsOf(result)).toEqual(["token"]);
      expect(result.data).toBeNull();
    });

    it("refuses a token of 4097 characters with BAD_USER_INPUT and does not echo it", async () => {
      const token = tokenOfLength(4097);

      const result = await stack.execute(CreateSessionDocument, { token });

      expectRefusedWithoutEcho(result, [token.slice(0, 32), token.slice(-64, -2)]);
      expect(result.errors![0]!.message).toBe("The input is not valid.");
      expect(fieldsOf(result)).toEqual(["token"]);
    });

    it("passes a token of 4096 characters to Spine, which refuses it with UNAUTHENTICATED", async () => {
      const token = tokenOfLength(4096);

      const result = await stack.execute(CreateSessionDocument, { token });

      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      const calls = stack.spine.calls("A001");
      expect(calls).toHaveLength(1);
      expect((calls[0]!.body as { token: string }).token).toBe(token);
      expect(lastBody()).not.toContain(token.slice(0, 32));
    });
  });

  describe("signin", () => {
    it("refuses a malformed email with BAD_USER_INPUT and echoes neither the email nor the password", async () => {
      const email = "echo-check.not-an-address.example.org";

      const result = await stack.execute(SigninDocument, { email, password: PASSWORD });

      expectRefusedWithoutEcho(result, [email, PASSWORD]);
      expect(result.errors![0]!.message).toBe("The input is not valid.");
      expect(fieldsOf(result)).toEqual(["email"]);
    });

    it("refuses a well-formed email of 255 characters with BAD_USER_INPUT", async () => {
      const email = emailOfLength(255);

      const result = await stack.execute(SigninDocument, { email, password: PASSWORD });

      expectRefusedWithoutEcho(result, [email.slice(0, 64), PASSWORD]);
      expect(fieldsOf(result)).toEqual(["email"]);
    });

    it("passes a well-formed email of 254 characters to the IdP, which refuses it with UNAUTHENTICATED", async () => {
      const email = emailOfLength(254);

      const result = await stack.execute(SigninDocument, { email, password: PASSWORD });

      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(stack.idp.calls("signin").map((call) => (call.body as { email: string }).email)).toEqual([email]);
      expect(lastBody()).not.toContain(PASSWORD);
    });

    it("refuses an empty password with BAD_USER_INPUT", async () => {
      const result = await stack.execute(SigninDocument, { email: idpUser.email, password: "" });

      expectRefusedWithoutEcho(result, []);
      expect(result.errors![0]!.message).toBe("The input is not valid.");
      expect(fieldsOf(result)).toEqual(["password"]);
    });

    it("refuses a password of 1025 characters with BAD_USER_INPUT and does not echo it", async () => {
      const password = `${PASSWORD.repeat(64)}!`;
      expect(password).toHaveLength(1025);

      const result = await stack.execute(SigninDocument, { email: idpUser.email, password });

      expectRefusedWithoutEcho(result, [PASSWORD]);
      expect(fieldsOf(result)).toEqual(["password"]);
    });

    it("passes a password of 1024 characters to the IdP, which refuses it with UNAUTHENTICATED", async () => {
      const password = PASSWORD.repeat(64);

      const result = await stack.execute(SigninDocument, { email: idpUser.email, password });

      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(stack.idp.calls("signin").map((call) => (call.body as { password: string }).password)).toEqual([password]);
      expect(lastBody()).not.toContain(PASSWORD);
    });
  });

  describe("limits counted in bytes (UTF-8), not characters", () => {
    it("refuses a password of 342 three-byte characters (1026 bytes) with BAD_USER_INPUT", async () => {
      const password = "€".repeat(342);

      const result = await stack.execute(SigninDocument, { email: idpUser.email, password });

      expectRefusedWithoutEcho(result, ["€€€€"]);
      expect(fieldsOf(result)).toEqual(["password"]);
    });

    it("passes a password of 341 three-byte characters (1023 bytes) to the IdP", async () => {
      const result = await stack.execute(SigninDocument, { email: idpUser.email, password: "€".repeat(341) });

      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(stack.idp.calls("signin")).toHaveLength(1);
    });

    it("refuses a token of 1025 four-byte characters (4100 bytes) with BAD_USER_INPUT and calls no backend", async () => {
      const result = await stack.execute(CreateSessionDocument, { token: "𝄞".repeat(1025) });

      expectRefusedWithoutEcho(result, ["𝄞𝄞𝄞𝄞"]);
      expect(fieldsOf(result)).toEqual(["token"]);
    });
  });

  describe("selectRole", () => {
    /** A Spine session to select a role on, so that only validation can stop A002. */
    async function spineSession(): Promise<string> {
      const opened = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
      expect(opened.errors).toBeUndefined();
      stack.spine.resetCalls();
      return opened.data!.createSession.token!;
    }

    it.each([
      { empty: "an empty businessFunction", input: { businessFunction: "", orgIdentifier: "R01" }, fields: ["businessFunction"] },
      { empty: "an empty orgIdentifier", input: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "" }, fields: ["orgIdentifier"] },
      { empty: "both fields empty", input: { businessFunction: "", orgIdentifier: "" }, fields: ["businessFunction", "orgIdentifier"] },
    ])("refuses $empty with BAD_USER_INPUT and never calls A002", async ({ input, fields }) => {
      const token = await spineSession();

      const result = await stack.execute(SelectRoleDocument, input, { token });

      expectRefusedWithoutEcho(result, [token]);
      expect(result.errors![0]!.message).toBe("The input is not valid.");
      expect(fieldsOf(result)).toEqual(fields);
    });
  });

  describe("documents and variables of the wrong shape", () => {
    it.each([
      {
        case: "an unknown field written as a literal in the document",
        body: { query: `mutation { signin(input: { email: "${idpUser.email}", password: "${PASSWORD}", extra: "${UNKNOWN_VALUE}" }) { token } }` },
      },
      {
        case: "an unknown field in the signin input variable",
        body: { query: SIGNIN_WITH_INPUT, variables: { input: { email: idpUser.email, password: PASSWORD, extra: UNKNOWN_VALUE } } },
      },
      {
        // A pasted password can hold U+2028; graphql-js quotes it raw in the coercion message.
        case: "an unknown field in the signin input variable beside a password holding a line separator",
        body: { query: SIGNIN_WITH_INPUT, variables: { input: { email: idpUser.email, password: `${PASSWORD}\u2028tail`, extra: UNKNOWN_VALUE } } },
      },
      {
        // graphql-js prints object keys unquoted, so a line break in a key reaches the message as it is.
        case: "an unknown field with a line break in its name in the signin input variable",
        body: { query: SIGNIN_WITH_INPUT, variables: { input: { email: idpUser.email, password: PASSWORD, "ex\ntra": UNKNOWN_VALUE } } },
      },
      {
        case: "an unknown field in the createSession input variable",
        body: { query: CREATE_WITH_INPUT, variables: { input: { token: spineUser.smartcardToken, extra: UNKNOWN_VALUE } } },
      },
      {
        case: "a number written as the password literal",
        body: { query: `mutation { signin(input: { email: "${idpUser.email}", password: ${NUMBER} }) { token } }` },
      },
      {
        case: "a list written as the password literal",
        body: { query: `mutation { signin(input: { email: "${idpUser.email}", password: ["${PASSWORD}"] }) { token } }` },
      },
      {
        case: "a number as the password variable",
        body: { query: SIGNIN_WITH_FIELDS, variables: { e: idpUser.email, p: NUMBER } },
      },
      {
        case: "a list as the password variable",
        body: { query: SIGNIN_WITH_FIELDS, variables: { e: idpUser.email, p: [PASSWORD] } },
      },
      {
        case: "an object as the password variable",
        body: { query: SIGNIN_WITH_FIELDS, variables: { e: idpUser.email, p: { value: PASSWORD } } },
      },
      {
        case: "a number as the password inside the input variable",
        body: { query: SIGNIN_WITH_INPUT, variables: { input: { email: idpUser.email, password: NUMBER } } },
      },
      {
        case: "a missing required variable",
        body: { query: SIGNIN_WITH_FIELDS, variables: { e: idpUser.email } },
      },
    ])("refuses $case with BAD_USER_INPUT, calls no backend and echoes no value", async ({ body }) => {
      const result = await stack.post(body);

      expectRefusedWithoutEcho(result, [PASSWORD, UNKNOWN_VALUE, String(NUMBER), spineUser.smartcardToken]);
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0]!.extensions).toEqual({ code: "BAD_USER_INPUT" });
      expect(result.data).toBeUndefined();
    });

    it("names the unknown field, but not its value, in the message", async () => {
      const result = await stack.post({
        query: SIGNIN_WITH_INPUT,
        variables: { input: { email: idpUser.email, password: PASSWORD, extra: UNKNOWN_VALUE } },
      });

      expect(result.errors![0]!.message).toBe('Variable "$input" got an invalid value; Field "extra" is not defined by type "SigninInput".');
    });

    it("names a missing required variable in the message", async () => {
      const result = await stack.post({ query: print(CreateSessionDocument), variables: {} });

      expectRefusedWithoutEcho(result, []);
      expect(result.errors![0]!.message).toBe('Variable "$token" of required type "String!" was not provided.');
    });
  });
});

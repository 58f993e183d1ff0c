import { describe, expect, it } from "@jest/globals";
import { ArgumentValidationError } from "type-graphql";
import { AuthProvider } from "../../src/domain/user.js";
import { BackendError, type BackendFailure } from "../../src/errors/backend-error.js";
import { StoreError } from "../../src/errors/store-error.js";
import { ErrorCode } from "../../src/errors/error-codes.js";
import { GatewayError, toPublicError } from "../../src/errors/gateway-error.js";

/** The one translation from what went wrong to the contract's codes (graphql-api.md, Errors). */
describe("toPublicError", () => {
  it.each<[BackendFailure, ErrorCode]>([
    ["TIMEOUT", ErrorCode.UPSTREAM_UNAVAILABLE],
    ["UNREACHABLE", ErrorCode.UPSTREAM_UNAVAILABLE],
    ["SERVER_ERROR", ErrorCode.UPSTREAM_UNAVAILABLE],
    ["CIRCUIT_OPEN", ErrorCode.UPSTREAM_UNAVAILABLE],
    ["BAD_RESPONSE", ErrorCode.UPSTREAM_BAD_RESPONSE],
    ["NOT_AUTHENTICATED", ErrorCode.UNAUTHENTICATED],
    ["REJECTED", ErrorCode.UPSTREAM_REJECTED],
  ])("maps a backend %s to %s, naming the backend", (failure, code) => {
    for (const backend of [AuthProvider.SPINE, AuthProvider.IDP]) {
      const result = toPublicError(new BackendError(backend, failure, "endpoint", { status: 503 }));

      expect(result?.code).toBe(code);
      expect(result?.extensions["backend"]).toBe(backend);
      expect(result?.message).not.toMatch(/endpoint|503/);
    }
  });

  it("carries the e-RS code of a Spine 422, and null when Spine gave none", () => {
    expect(toPublicError(new BackendError(AuthProvider.SPINE, "REJECTED", "A002", { status: 422, ersCode: "INVALID_VALUE" }))?.extensions).toEqual({
      backend: "SPINE",
      ersCode: "INVALID_VALUE",
    });
    expect(toPublicError(new BackendError(AuthProvider.SPINE, "REJECTED", "A002", { status: 422 }))?.extensions["ersCode"]).toBeNull();
  });

  it("maps a store failure to STORE_UNAVAILABLE without its cause", () => {
    const result = toPublicError(new StoreError("read", new Error("connect ECONNREFUSED 10.1.2.3:6379")));

    expect(result?.code).toBe(ErrorCode.STORE_UNAVAILABLE);
    expect(JSON.stringify(result)).not.toContain("10.1.2.3");
  });

  it("passes a service's own refusal as it is", () => {
    expect(toPublicError(new GatewayError(ErrorCode.FORBIDDEN, "The user does not hold this permission."))).toEqual({
      code: ErrorCode.FORBIDDEN,
      message: "The user does not hold this permission.",
      extensions: {},
    });
  });

  it("keeps only field names and rules of a validation error, never the value", () => {
    const error = new ArgumentValidationError([
      {
        property: "password",
        value: "hunter2-secret",
        target: { password: "hunter2-secret" },
        constraints: { isByteLength: "password too long" },
        children: [],
      },
    ]);

    const result = toPublicError(error);

    expect(result).toEqual({
      code: ErrorCode.BAD_USER_INPUT,
      message: "The input is not valid.",
      extensions: { fields: [{ field: "password", problems: ["password too long"] }] },
    });
    expect(JSON.stringify(result)).not.toContain("hunter2-secret");
  });

  it("still answers BAD_USER_INPUT when a validator threw and left no list of fields", () => {
    const error = new ArgumentValidationError([]);
    (error.extensions as Record<string, unknown>)["validationErrors"] = new URIError("URI malformed");

    expect(toPublicError(error)).toEqual({ code: ErrorCode.BAD_USER_INPUT, message: "The input is not valid.", extensions: { fields: [] } });
  });

  it("leaves anything else to the mask (undefined: INTERNAL_SERVER_ERROR)", () => {
    expect(toPublicError(new TypeError("boom"))).toBeUndefined();
    expect(toPublicError("a string")).toBeUndefined();
  });
});

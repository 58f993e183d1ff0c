import { ArgumentValidationError } from "type-graphql";
import { BackendError } from "./backend-error.js";
import { StoreError } from "./store-error.js";
import { AuthProvider } from "../domain/user.js";
import { ErrorCode } from "./error-codes.js";

/**
 * A refusal the services decide on (wrong role, no session, ...), with its public code.
 * Messages are written for the frontend developer and never carry a secret.
 */
export class GatewayError extends Error {
  override readonly name = "GatewayError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const backendName: Record<AuthProvider, string> = { [AuthProvider.SPINE]: "Spine", [AuthProvider.IDP]: "The identity provider" };

/** The one translation from what went wrong to what a client is told. */
export function toPublicError(error: unknown): { code: ErrorCode; message: string; extensions: Record<string, unknown> } | undefined {
  if (error instanceof GatewayError) {
    return { code: error.code, message: error.message, extensions: error.extensions };
  }
  if (error instanceof BackendError) {
    const name = backendName[error.backend];
    const extensions = { backend: error.backend };
    switch (error.failure) {
      case "TIMEOUT":
      case "UNREACHABLE":
      case "SERVER_ERROR":
      case "CIRCUIT_OPEN":
        return { code: ErrorCode.UPSTREAM_UNAVAILABLE, message: `${name} is not available right now.`, extensions };
      case "BAD_RESPONSE":
        return { code: ErrorCode.UPSTREAM_BAD_RESPONSE, message: `${name} gave an answer the gateway does not understand.`, extensions };
      case "NOT_AUTHENTICATED":
        return { code: ErrorCode.UNAUTHENTICATED, message: `${name} did not accept the credentials.`, extensions };
      case "REJECTED":
        return {
          code: ErrorCode.UPSTREAM_REJECTED,
          message: `${name} rejected the request${error.ersCode ? ` (${error.ersCode})` : ""}.`,
          extensions: { ...extensions, ersCode: error.ersCode ?? null },
        };
    }
  }
  if (error instanceof StoreError) {
    return { code: ErrorCode.STORE_UNAVAILABLE, message: "The session store is unavailable; try again shortly.", extensions: {} };
  }
  if (error instanceof ArgumentValidationError) {
    // class-validator's own errors carry the input object and the offending value
    // (a password, a smartcard token): only the field and the rule leave the gateway.
    // A validator that throws leaves no list here (type-graphql passes the thrown error on):
    // still bad input, with nothing to say per field.
    const reported = error.extensions.validationErrors;
    const fields = (Array.isArray(reported) ? (reported as Array<{ property: string; constraints?: Record<string, string> }>) : []).map((e) => ({
      field: e.property,
      problems: Object.values(e.constraints ?? {}),
    }));
    return { code: ErrorCode.BAD_USER_INPUT, message: "The input is not valid.", extensions: { fields } };
  }
  return undefined;
}

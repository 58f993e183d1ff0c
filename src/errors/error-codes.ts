/**
 * The public error vocabulary of the graph (`extensions.code`), fixed by
 * shared/contracts/graphql-api.md. Clients switch on these; never rename one.
 */
export enum ErrorCode {
  BAD_USER_INPUT = "BAD_USER_INPUT",
  UNAUTHENTICATED = "UNAUTHENTICATED",
  FORBIDDEN = "FORBIDDEN",
  RATE_LIMITED = "RATE_LIMITED",
  UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE",
  UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE",
  UPSTREAM_REJECTED = "UPSTREAM_REJECTED",
  STORE_UNAVAILABLE = "STORE_UNAVAILABLE",
  INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR",
}

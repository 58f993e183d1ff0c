/**
 * Whose credentials the subgraph hands on: the session the request came with, and the one the
 * request itself opened, rotated or signed in (a mutation's payload), and no other.
 */
import { describe, expect, it } from "@jest/globals";
import type { RequestScope } from "../../src/auth/auth.service.js";
import { SessionCredentialsService } from "../../src/auth/session-credentials.js";
import { AuthProvider } from "../../src/domain/user.js";
import type { ActiveSession, IdpSessionRecord } from "../../src/sessions/session.js";

const service = new SessionCredentialsService({ spineAsid: "200000000220", idpClientId: "client-1" });

function idpSession(id: string, accessToken: string): ActiveSession<IdpSessionRecord> {
  return {
    key: `key-${id}`,
    expiresAt: Date.now() + 60_000,
    record: {
      id,
      createdAt: 0,
      lastSeenAt: 0,
      permission: null,
      credential: { provider: AuthProvider.IDP, accessToken, email: `${id}@example.nhs.uk` },
      user: { provider: AuthProvider.IDP, identifier: id },
    },
  };
}

/** Only what forSession reads of a request's scope: the session its token opens, and the one it issued. */
function scope(held: ActiveSession | null, issued?: ActiveSession): RequestScope {
  return { session: async () => held, issued } as Partial<RequestScope> as RequestScope;
}

describe("SessionCredentialsService.forSession", () => {
  const held = idpSession("held", "held-token");
  const issued = idpSession("issued", "issued-token");

  it("hands on the credentials of the session the request issued", async () => {
    await expect(service.forSession(scope(null, issued), "issued")).resolves.toEqual({
      spine: null,
      idp: { clientId: "client-1", accessToken: "issued-token", from: "issued@example.nhs.uk" },
    });
  });

  it("still hands on those of the session the request came with", async () => {
    await expect(service.forSession(scope(held, issued), "held")).resolves.toMatchObject({ idp: { accessToken: "held-token" } });
  });

  it("hands on nothing for any other session id", async () => {
    await expect(service.forSession(scope(held, issued), "someone-else")).resolves.toBeNull();
    await expect(service.forSession(scope(null, issued), "held")).resolves.toBeNull();
    await expect(service.forSession(scope(null), "issued")).resolves.toBeNull();
  });
});

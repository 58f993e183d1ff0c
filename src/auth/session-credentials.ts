import { AuthProvider } from "../domain/user.js";
import type { RequestScope } from "./auth.service.js";

/** The backend credentials of a session, as another subgraph needs them to act for its user. */
interface SessionCredentialsView {
  spine: { sessionKey: string; asid: string } | null;
  idp: { clientId: string; accessToken: string; from: string } | null;
}

interface SessionCredentialsOptions {
  /** The gateway's `XAPI_ASID`: a Spine call for the session must carry the same. */
  spineAsid: string;
  /** The organisation's IdP `client_id`; the API token is the gateway's alone and never handed on. */
  idpClientId: string;
}

/**
 * Hands a session's backend credentials to other subgraphs (through the router, which proves
 * itself with the shared secret before this is reachable). Only the request's own session is
 * answered: the id a subgraph names is public, and must never open somebody else's session.
 */
export class SessionCredentialsService {
  constructor(private readonly options: SessionCredentialsOptions) {}

  async forSession(scope: RequestScope, sessionId: string): Promise<SessionCredentialsView | null> {
    // A mutation's payload (`signin { session { … } }`) names the session the mutation just
    // issued, which the token the request came with does not open: within that request it is
    // the caller's own too, and no other session is.
    const current = scope.issued?.record.id === sessionId ? scope.issued : await scope.session();
    if (current === null || current.record.id !== sessionId) return null;
    const { credential } = current.record;
    return credential.provider === AuthProvider.SPINE
      ? { spine: { sessionKey: credential.sessionKey, asid: this.options.spineAsid }, idp: null }
      : // `from` is the email the user signed in with (idp.md, calling other exchange services).
        { spine: null, idp: { clientId: this.options.idpClientId, accessToken: credential.accessToken, from: credential.email } };
  }
}

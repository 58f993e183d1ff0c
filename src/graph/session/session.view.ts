import type { SignedIn } from "../../auth/auth.service.js";
import type { AuthProvider, Permission, User } from "../../domain/user.js";
import type { ActiveSession } from "../../sessions/session.js";
import type { GatewayContext } from "../context.js";
import { toUserView, type UserView } from "../user/user.view.js";

/** A session as the graph shows it (src/graph/session/session.type.ts): no credential, no token. */
interface SessionView {
  id: string;
  provider: AuthProvider;
  user: UserView;
  permission: Permission | null;
  roleSelected: boolean;
  createdAt: Date;
  expiresAt: Date;
}

interface SessionPayloadView {
  /** Null when the token travels in the session cookie instead. */
  token: string | null;
  session: SessionView;
}

export function toSessionView(session: ActiveSession, user: User): SessionView {
  const { record } = session;
  return {
    id: record.id,
    provider: record.credential.provider,
    user: toUserView(user),
    permission: record.permission,
    roleSelected: record.permission !== null,
    createdAt: new Date(record.createdAt),
    expiresAt: new Date(session.expiresAt),
  };
}

/** A new session's payload; its token goes where the request's transport says (the payload, or the cookie). */
export function toSessionPayload(context: GatewayContext, { token, session, user }: SignedIn): SessionPayloadView {
  return { token: context.sessionTokens.hand(token, session), session: toSessionView(session, user) };
}

/**
 * The benchmark's memory probe, run as a process of its own with `--expose-gc`:
 * `node --expose-gc session-memory.js <sessions> <idp|spine>`. It opens that many sessions of one
 * kind through the gateway's own SessionService and in-memory store, built as the gateway builds
 * them, and reports heap used and RSS after a full GC before and after, over IPC.
 */
import { randomFillSync, randomUUID } from "node:crypto";
import { parseUserInfo } from "../../src/backends/idp/idp.wire.js";
import { parseProfessionalSession, PROFESSIONAL_SESSION_TYPE } from "../../src/backends/spine/spine.wire.js";
import { parseJson } from "../../src/backends/wire.js";
import { AuthProvider } from "../../src/domain/user.js";
import { sessionCoordination, sessionStores } from "../../src/gateway.js";
import { IDP_DEMO } from "../../src/simulators/idp/idp.seed.js";
import { SPINE_DEMO } from "../../src/simulators/spine/spine.seed.js";
import { openStore } from "../../src/store/store.js";
import { newIdpSession, type NewSession } from "../../src/sessions/session.js";
import { SessionService } from "../../src/sessions/session.service.js";

const count = Number(process.argv[2]);
const kind = process.argv[3];
if (!Number.isInteger(count) || count < 1 || (kind !== "idp" && kind !== "spine")) throw new Error("usage: session-memory.js <sessions> <idp|spine>");
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

const settle = async (): Promise<NodeJS.MemoryUsage> => {
  // Two passes and a turn of the loop: weak references and finalisers freed by the first are collected by the second.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
};

// Each backend answer is made as the backend sends it, JSON text, and read as its client reads
// it (parseJson, then the wire parser): an object built in place would not be one the gateway
// ever sees (V8 gives `{ ...answer, extra }` a hidden class of its own, garbage the real path
// never makes).
const idpUser = IDP_DEMO.users[0]!;
const { id: _demoId, ...idpUserInfo } = idpUser.userInfo;
// Access tokens as the IdP issues them: 42 characters (idp.md), from 31 random bytes in base64url.
const accessTokenBytes = Buffer.alloc(31);
/** The i-th IdP session as a signin stores it, from the user info the IdP answers for its token. */
function idpSession(i: number): NewSession {
  const accessToken = randomFillSync(accessTokenBytes).toString("base64url");
  const user = parseUserInfo(parseJson(JSON.stringify({ id: 1_000_000 + i, access_token: accessToken, ...idpUserInfo })), "Europe/London")!;
  return newIdpSession({ provider: AuthProvider.IDP, accessToken, email: idpUser.email }, user);
}

const spineUser = SPINE_DEMO.users[0]!;
/** The i-th Spine session as selectRole leaves it: the demo user's whole A002 answer, a role selected. */
function spineSession(i: number): NewSession {
  const answer = {
    typeInfo: PROFESSIONAL_SESSION_TYPE,
    id: `pro-xapi-session_${randomUUID()}`,
    token: spineUser.smartcardToken,
    user: { identifier: String(555_000_000_000 + i), firstName: spineUser.firstName, lastName: spineUser.lastName, middleName: spineUser.middleName, permissions: spineUser.permissions },
    permission: spineUser.permissions[0],
  };
  const { sessionKey, user, permission } = parseProfessionalSession(parseJson(JSON.stringify(answer)))!;
  return { credential: { provider: AuthProvider.SPINE, sessionKey, smartcardToken: spineUser.smartcardToken }, user, permission };
}

const store = openStore({ redis: undefined, operationTimeoutMs: 2_000, onError: () => undefined });
const { sessions: sessionStore } = sessionStores(store, { redis: undefined, encryptionKey: undefined, previousEncryptionKeys: [] }, () => undefined);
const sessions = new SessionService(sessionStore, store.expiryIndex("session"), sessionCoordination(store), {
  idleTimeoutMs: 30 * 60_000,
  absoluteTimeoutMs: 12 * 3600_000,
  maxPerUser: 10,
  lockTtlMs: 7_000,
  now: Date.now,
});
const newSession = kind === "idp" ? idpSession : spineSession;
let first = "";
let last = "";
const before = await settle();
for (let i = 0; i < count; i += 1) {
  const { token } = await sessions.open(newSession(i));
  // The tokens are the clients' side: only two are kept, to check the sessions are readable.
  if (i === 0) first = token;
  last = token;
}
const after = await settle();
// Check that the sessions really are there (and readable) before reporting what they cost.
const found = (await Promise.all([first, last].map((token) => sessions.find(token)))).every((session) => session !== null);
process.send?.({
  sessions: count,
  found,
  heapPerSession: (after.heapUsed - before.heapUsed) / count,
  rssPerSession: (after.rss - before.rss) / count,
});
await store.close();
process.channel?.unref();

/**
 * The benchmark's memory probe, run as a process of its own with `--expose-gc`:
 * `node --expose-gc session-memory.js <sessions>`. It opens that many IdP sessions through the
 * gateway's own SessionService and in-memory store, built as the gateway builds them, and reports
 * heap used and RSS after a full GC before and after, over IPC.
 */
import { parseUserInfo } from "../../src/backends/idp/idp.wire.js";
import { AuthProvider } from "../../src/domain/user.js";
import { sessionStores } from "../../src/gateway.js";
import { IDP_DEMO } from "../../src/simulators/idp/idp.seed.js";
import { Store } from "../../src/store/store.js";
import { newIdpSession } from "../../src/sessions/session.js";
import { SessionService } from "../../src/sessions/session.service.js";

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) throw new Error("usage: session-memory.js <sessions>");
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

const settle = async (): Promise<NodeJS.MemoryUsage> => {
  // Two passes and a turn of the loop: weak references and finalisers freed by the first are collected by the second.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
};

const store = new Store({ redisUrl: undefined, operationTimeoutMs: 2_000, onError: () => undefined });
const { sessions: sessionStore } = sessionStores(store, { redisUrl: undefined, encryptionKey: undefined, previousEncryptionKeys: [] }, () => undefined);
const sessions = new SessionService(sessionStore, store.expiryIndex("session"), { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3600_000, now: Date.now });
// Each session is stored as a signin stores it, from the user as the IdP described them.
const demo = IDP_DEMO.users[0]!;
let first = "";
let last = "";
const before = await settle();
for (let i = 0; i < count; i += 1) {
  const user = parseUserInfo({ ...demo.userInfo, id: 1_000_000 + i, access_token: `token-${i}` }, "Europe/London")!;
  const { token } = await sessions.open(newIdpSession({ provider: AuthProvider.IDP, accessToken: `bench-access-token-${i}`, email: demo.email }, user));
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

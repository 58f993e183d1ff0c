/**
 * Concurrent changes of one session, over real HTTP with a slow Spine (every A002 and A003
 * takes LATENCY_MS, so the racing requests really overlap), on memory, on Redis, and across two
 * gateway processes on one Redis. Whatever the interleaving of selectRole, selectRole and
 * signout on one session: at most one of its tokens is live; once signout answered true none
 * is, and Spine hears nothing more with its session key (no A003 while an A002 is in flight);
 * the role reported is the role Spine last accepted; the audit trail records the loser as a
 * failure. And a user holds at most SESSION_MAX_PER_USER live sessions, the oldest ended.
 *
 * Each round uses a smartcard holder of its own (the Spine simulator is seeded with them), so
 * rounds never meet at the per-user cap and nothing here meets another test file on a shared
 * Redis; what the Redis runs leave there is deleted at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashSessionId } from "../../src/observability/audit.js";
import {
  IDP_DEMO,
  SPINE_DEMO,
  startIdpSimulator,
  startSpineSimulator,
  type IdpSimulator,
  type SpineDemoUser,
  type SpineSimulator,
} from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { GatewayProcess, sharedRedisEnv } from "../support/gateway-process.js";
import { codes, Stack, TEST_ENCRYPTION_KEY, type GraphQLResult } from "../support/harness.js";
import { describeWithRedis, RedisInspector } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

/** How long Spine takes over each A002 and A003: long enough for racing requests to overlap. */
const LATENCY_MS = 250;
/** Rounds of each race per deployment. */
const ROUNDS = 20;
const MAX_PER_USER = 10;
const [ROLE_A, ROLE_B] = SPINE_DEMO.users[0]!.permissions.map(({ businessFunction, orgIdentifier }) => ({ businessFunction, orgIdentifier }));

/** A smartcard holder of this run only, with the demo user's two roles. */
function freshSpineUser(): SpineDemoUser {
  const tag = randomBytes(8).toString("base64url");
  return {
    ...SPINE_DEMO.users[0]!,
    label: `race ${tag}`,
    smartcardToken: `AQIC5wM2LY4S${tag}=@AAJTSQACMDE=#`,
    identifier: String(randomInt(100_000_000_000, 999_999_999_999)),
  };
}

/** One or two gateways sharing a store, with the Spine simulator they talk to. */
interface Deployment {
  spine: SpineSimulator;
  idp: IdpSimulator;
  /** Smartcard holders the Spine simulator was seeded with, one per use. */
  users: SpineDemoUser[];
  /** Sends an operation to instance `instance` (of one or two, taken modulo their number). */
  execute: <R, V>(instance: number, document: TypedDocumentNode<R, V>, variables: V, token?: string) => Promise<GraphQLResult<R>>;
  /** Every audit event written so far. */
  audit(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** What each race left behind, over all rounds, for the report. */
interface Figures {
  maxLiveTokens: number;
  spineCallsAfterA003: number;
  a003WhileA002InFlight: number;
}

/**
 * What the Redis runs leave in the shared Redis, deleted at the end: the records of every token
 * issued, each session's current-token register, and each fresh user's index (nobody else's
 * keys: the users are this run's own).
 */
class Leftovers {
  readonly #tokens = new Set<string>();
  readonly #sessionIds = new Set<string>();
  readonly #users = new Set<string>();

  constructor(private readonly redisUrl: string) {}

  /** Notes every token and session a deployment hands out. */
  track(deployment: Deployment): Deployment {
    for (const user of deployment.users) this.#users.add(user.identifier);
    const execute = deployment.execute;
    return {
      ...deployment,
      execute: async (instance, document, variables, token) => {
        const result = await execute(instance, document, variables, token);
        for (const payload of Object.values(result.data ?? {})) {
          const { token: issued, session } = (payload ?? {}) as { token?: string; session?: { id?: string } };
          if (typeof issued === "string") this.#tokens.add(issued);
          if (typeof session?.id === "string") this.#sessionIds.add(session.id);
        }
        return result;
      },
    };
  }

  async remove(): Promise<void> {
    const redis = await RedisInspector.connect(this.redisUrl);
    try {
      await redis.forget(this.#tokens);
      const keys = [...[...this.#sessionIds].map((id) => `session-current::${id}`), ...[...this.#users].map((id) => `user-sessions::spine:${id}`)];
      if (keys.length > 0) await redis.client.del(keys);
    } finally {
      await redis.close();
    }
  }
}

describe("Sessions under concurrency, one gateway on memory", () => {
  raceSuite(async (users) => stackDeployment(await Stack.start({ spineUsers: users, env: SIGN_IN_BURSTS }), users));
  capSuite(async (users) => stackDeployment(await Stack.start({ spineUsers: users, env: SIGN_IN_BURSTS }), users));

  describe("the per-user cap and the IdP", () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await Stack.start();
    });
    afterAll(() => stack.close());

    it("ends the oldest IdP session of a user at the gateway only: the IdP token the others share stays valid", async () => {
      const user = IDP_DEMO.users[0]!;
      const opened: Array<{ token: string; id: string }> = [];
      for (let i = 0; i <= MAX_PER_USER; i += 1) {
        const result = await stack.execute(SigninDocument, { email: user.email, password: user.password });
        expect(result.errors).toBeUndefined();
        opened.push({ token: result.data!.signin.token!, id: result.data!.signin.session.id });
      }

      const me = await Promise.all(opened.map(({ token }) => stack.execute(MeDocument, {}, { token })));

      expect(me[0]!.data!.me).toBeNull();
      expect(me.slice(1).map((result) => result.data?.me?.email)).toEqual(Array.from({ length: MAX_PER_USER }, () => user.email));
      expect(stack.idp.calls("signout")).toEqual([]);
      expect(stack.audit.filter((event) => event["event"] === "session.evicted")).toEqual([
        expect.objectContaining({ outcome: "success", reason: "SESSION_LIMIT", provider: "IDP", sessionIdHash: hashSessionId(opened[0]!.id) }),
      ]);
    });
  });
});

describeWithRedis("Sessions under concurrency, one gateway on Redis", (redisUrl) => {
  const left = new Leftovers(redisUrl);
  afterAll(() => left.remove());
  raceSuite(async (users) =>
    left.track(stackDeployment(await Stack.start({ spineUsers: users, env: { ...SIGN_IN_BURSTS, REDIS_URL: redisUrl } }), users)),
  );
  capSuite(async (users) =>
    left.track(stackDeployment(await Stack.start({ spineUsers: users, env: { ...SIGN_IN_BURSTS, REDIS_URL: redisUrl } }), users)),
  );
});

describeWithRedis("Sessions under concurrency, two gateway processes on one Redis", (redisUrl) => {
  const left = new Leftovers(redisUrl);
  afterAll(() => left.remove());
  raceSuite(async (users) => left.track(await processDeployment(redisUrl, users)));
  capSuite(async (users) => left.track(await processDeployment(redisUrl, users)));
});

/** The three races, ROUNDS times each, with every invariant asserted after each round. */
function raceSuite(start: (users: SpineDemoUser[]) => Promise<Deployment>): void {
  describe("races on one session", () => {
    let d: Deployment;
    const figures: Record<string, Figures> = {};
    beforeAll(async () => {
      d = await start(Array.from({ length: 3 * ROUNDS }, freshSpineUser));
      d.spine.inject("A002", { kind: "latency", ms: LATENCY_MS });
      d.spine.inject("A003", { kind: "latency", ms: LATENCY_MS });
    }, 30_000);
    afterAll(async () => {
      // The figures of the report: what the races left behind, worst round of each.
      console.log(`session races: ${JSON.stringify(figures)}`);
      await d?.close();
    });

    /** Opens a session for the next fresh user on instance 0. */
    async function open(): Promise<{ token: string; id: string; hash: string; startedAt: number }> {
      const result = await d.execute(0, CreateSessionDocument, { token: d.users.shift()!.smartcardToken });
      expect(result.errors).toBeUndefined();
      const { token, session } = result.data!.createSession;
      d.spine.resetCalls();
      return { token: token!, id: session.id, hash: hashSessionId(session.id), startedAt: Date.now() };
    }

    /** The tokens among `tokens` that still open a session, by asking `session` with each. */
    async function liveTokens(tokens: string[]): Promise<Array<{ token: string; permission: unknown }>> {
      const answers = await Promise.all(tokens.map((token, i) => d.execute(i, CurrentSessionDocument, {}, token)));
      return answers.flatMap((answer, i) => (answer.data?.session ? [{ token: tokens[i]!, permission: answer.data.session.permission }] : []));
    }

    /**
     * Spine's side of the round: no call with the session key after its A003, and no A003 that
     * arrived while an A002 was still being answered (arrival + LATENCY_MS).
     */
    function spineOrder(name: string, live: number): { a002: number; a003: number } {
      const calls = [...d.spine.calls("A002"), ...d.spine.calls("A003")].sort((a, b) => a.at - b.at);
      const keys = new Set(calls.map((call) => call.headers["http_x_session_key"]));
      expect(keys.size).toBeLessThanOrEqual(1);
      const endAt = calls.findIndex((call) => call.route === "A003");
      const after = endAt < 0 ? 0 : calls.length - endAt - 1;
      const overlapping = calls.filter(
        (call, i) => call.route === "A002" && endAt >= 0 && calls[endAt]!.at < call.at + LATENCY_MS && i < endAt,
      ).length;
      const seen = (figures[name] ??= { maxLiveTokens: 0, spineCallsAfterA003: 0, a003WhileA002InFlight: 0 });
      seen.maxLiveTokens = Math.max(seen.maxLiveTokens, live);
      seen.spineCallsAfterA003 += after;
      seen.a003WhileA002InFlight += overlapping;
      expect({ after, overlapping }).toEqual({ after: 0, overlapping: 0 });
      return { a002: calls.filter((call) => call.route === "A002").length, a003: calls.filter((call) => call.route === "A003").length };
    }

    /**
     * The audit events of one round, once `count` are written: those of its session, and those
     * without a session (a request whose token had already been rotated or ended when it was read
     * is audited like any stale token). Rounds run one after another, so the time tells them apart.
     */
    async function auditOf(session: { hash: string; startedAt: number }, count: number): Promise<Array<Record<string, unknown>>> {
      const events = (): Array<Record<string, unknown>> =>
        d
          .audit()
          .filter(
            (event) =>
              (event["sessionIdHash"] === session.hash || event["sessionIdHash"] === null) &&
              Date.parse(event["time"] as string) >= session.startedAt,
          )
          .filter((event) => event["event"] !== "spine.session.created")
          .map(({ event, outcome, reason, sessionIdHash }) => ({ event, outcome, reason, ofSession: sessionIdHash !== null }));
      await waitFor(() => events().length >= count, {
        timeoutMs: 5_000,
        what: () => `${count} audit events of the round; written: ${JSON.stringify(events())}`,
      });
      return events();
    }

    /** How a concurrent loser of a selectRole is audited: as refused for the change, or as any stale token. */
    const LOST_ROLE = expect.objectContaining({
      event: "role.selected",
      outcome: "failure",
      reason: expect.stringMatching(/^(SESSION_CHANGED|UNAUTHENTICATED)$/),
    });

    it(`lets exactly one of two concurrent selectRoles on one token win, ${ROUNDS} times: one live token, with the role Spine accepted`, async () => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const session = await open();

        const results = await Promise.all([ROLE_A, ROLE_B].map((role, i) => d.execute(i, SelectRoleDocument, role!, session.token)));

        const winners = results.filter((result) => result.errors === undefined);
        expect(winners).toHaveLength(1);
        expect(results.filter((result) => result.errors !== undefined).map(codes)).toEqual([["UNAUTHENTICATED"]]);
        const winner = winners[0]!.data!.selectRole;
        const live = await liveTokens([session.token, winner.token!]);
        expect(live).toEqual([{ token: winner.token, permission: winner.session.permission }]);
        const { a002 } = spineOrder("selectRole x selectRole", live.length);
        // The loser is refused before Spine is asked: the role Spine last accepted is the winner's.
        expect(a002).toBe(1);
        const accepted = d.spine.calls("A002")[0]!.body as { permission: { businessFunction: string } };
        expect(accepted.permission.businessFunction).toBe(winner.session.permission!.businessFunction);
        const audit = await auditOf(session, 2);
        expect(audit).toHaveLength(2);
        expect(audit).toEqual(expect.arrayContaining([{ event: "role.selected", outcome: "success", reason: null, ofSession: true }, LOST_ROLE]));
      }
    }, 120_000);

    it(`ends the session for good when signout races selectRole, ${ROUNDS} times: no live token, nothing at Spine after A003`, async () => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const session = await open();
        // Even rounds send both at once; odd rounds send signout once the A002 is at Spine (the attack run's case).
        const selecting = d.execute(0, SelectRoleDocument, ROLE_A!, session.token);
        if (round % 2 === 1)
          await waitFor(() => d.spine.calls("A002").length === 1, {
            timeoutMs: 5_000,
            what: () =>
              `the A002 at Spine; calls: ${d.spine
                .calls()
                .map((call) => call.route)
                .join(",")}`,
          });
        const [selected, signedOut] = await Promise.all([selecting, d.execute(1, SignoutDocument, {}, session.token)]);

        expect(signedOut.errors).toBeUndefined();
        expect(signedOut.data!.signout).toBe(true);
        const won = selected.errors === undefined;
        if (!won) expect(codes(selected)).toEqual(["UNAUTHENTICATED"]);
        if (round % 2 === 1) expect(won).toBe(true);
        const live = await liveTokens(won ? [session.token, selected.data!.selectRole.token!] : [session.token]);
        expect(live).toEqual([]);
        const { a002, a003 } = spineOrder("selectRole x signout", live.length);
        expect({ a002, a003 }).toEqual({ a002: won ? 1 : 0, a003: 1 });
        const audit = await auditOf(session, 2);
        expect(audit).toHaveLength(2);
        expect(audit).toEqual(
          expect.arrayContaining([
            { event: "signout", outcome: "success", reason: null, ofSession: true },
            won ? { event: "role.selected", outcome: "success", reason: null, ofSession: true } : LOST_ROLE,
          ]),
        );
      }
    }, 120_000);

    it(`ends a session once when two signouts race, ${ROUNDS} times: one true, one A003, no live token`, async () => {
      for (let round = 0; round < ROUNDS; round += 1) {
        const session = await open();

        const results = await Promise.all([0, 1].map((i) => d.execute(i, SignoutDocument, {}, session.token)));

        expect(results.map((result) => result.errors)).toEqual([undefined, undefined]);
        expect(results.map((result) => result.data!.signout).sort()).toEqual([false, true]);
        const live = await liveTokens([session.token]);
        expect(live).toEqual([]);
        expect(spineOrder("signout x signout", live.length)).toEqual({ a002: 0, a003: 1 });
        // The loser is audited as a failure (SESSION_ENDED) if it read the session before it ended, and not at all after.
        const audit = await auditOf(session, 1);
        expect(audit.filter((event) => event["outcome"] === "success")).toEqual([
          { event: "signout", outcome: "success", reason: null, ofSession: true },
        ]);
        expect(audit.filter((event) => event["outcome"] === "failure")).toEqual(
          audit.length === 1 ? [] : [{ event: "signout", outcome: "failure", reason: "SESSION_ENDED", ofSession: true }],
        );
      }
    }, 120_000);
  });
}

/** SESSION_MAX_PER_USER (default 10) for one user, opened one after another and all at once. */
function capSuite(start: (users: SpineDemoUser[]) => Promise<Deployment>): void {
  describe("the per-user cap", () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await start([freshSpineUser(), freshSpineUser()]);
      d.spine.inject("A003", { kind: "latency", ms: LATENCY_MS });
    }, 30_000);
    afterAll(() => d?.close());

    async function openMany(user: SpineDemoUser, count: number, atOnce: boolean): Promise<Array<{ token: string; id: string }>> {
      const one = async (i: number): Promise<{ token: string; id: string }> => {
        const result = await d.execute(i, CreateSessionDocument, { token: user.smartcardToken });
        expect(result.errors).toBeUndefined();
        return { token: result.data!.createSession.token!, id: result.data!.createSession.session.id };
      };
      if (atOnce) return Promise.all(Array.from({ length: count }, (_, i) => one(i)));
      const opened = [];
      for (let i = 0; i < count; i += 1) opened.push(await one(i));
      return opened;
    }

    async function live(sessions: Array<{ token: string }>): Promise<boolean[]> {
      return Promise.all(sessions.map(async ({ token }, i) => (await d.execute(i, CurrentSessionDocument, {}, token)).data?.session != null));
    }

    function evicted(): string[] {
      return d
        .audit()
        .filter((event) => event["event"] === "session.evicted")
        .map((event) => event["sessionIdHash"] as string);
    }

    it("keeps a user's newest 10 sessions when 15 open one after another, ending and auditing the 5 oldest", async () => {
      const opened = await openMany(d.users[0]!, 15, false);

      expect(await live(opened)).toEqual([...Array.from({ length: 5 }, () => false), ...Array.from({ length: 10 }, () => true)]);
      await waitFor(() => evicted().length >= 5, { timeoutMs: 5_000, what: () => `5 evictions audited; seen ${evicted().length}` });
      expect(evicted().sort()).toEqual(
        opened
          .slice(0, 5)
          .map(({ id }) => hashSessionId(id))
          .sort(),
      );
      // Each ended at Spine too: its session key is its own.
      expect(d.spine.calls("A003")).toHaveLength(5);
    }, 60_000);

    it("keeps exactly 10 live when 30 sessions of one user open at once, every ended one audited as evicted", async () => {
      const before = new Set(evicted());
      const opened = await openMany(d.users[1]!, 30, true);

      const alive = await live(opened);
      expect(alive.filter(Boolean)).toHaveLength(MAX_PER_USER);
      const ended = opened.filter((_, i) => !alive[i]).map(({ id }) => hashSessionId(id));
      await waitFor(() => evicted().length - before.size >= 20, {
        timeoutMs: 5_000,
        what: () => `20 evictions audited; seen ${evicted().length - before.size}`,
      });
      expect(
        evicted()
          .filter((hash) => !before.has(hash))
          .sort(),
      ).toEqual(ended.sort());
    }, 60_000);
  });
}

/**
 * The cap tests open 30 sessions of one user at once, and a sign-in in flight holds a place in
 * its account's window until Spine answers (docs/security.md): the per-account limit at its
 * highest, so what they meet is the cap, not the sign-in limit.
 */
const SIGN_IN_BURSTS = { LOGIN_MAX_FAILURES_PER_ACCOUNT: "100" };

/** One in-process gateway (on memory, or on Redis if its env says so). */
function stackDeployment(stack: Stack, users: SpineDemoUser[]): Deployment {
  return {
    spine: stack.spine,
    idp: stack.idp,
    users: [...users],
    execute: (_instance, document, variables, token) => stack.execute(document, variables, { token }),
    audit: () => stack.audit,
    close: () => stack.close(),
  };
}

/** Two `node dist/src/main.js` processes on one Redis, requests alternating between them. */
async function processDeployment(redisUrl: string, users: SpineDemoUser[]): Promise<Deployment> {
  const auditDir = mkdtempSync(join(tmpdir(), "gateway-races-"));
  const [spine, idp] = await Promise.all([startSpineSimulator({ extraUsers: users }), startIdpSimulator()]);
  const env = (name: string): Record<string, string> => ({
    ...sharedRedisEnv({ spine, idp, redisUrl, encryptionKey: TEST_ENCRYPTION_KEY }),
    AUDIT_LOG: join(auditDir, `${name}.audit.jsonl`),
    ...SIGN_IN_BURSTS,
  });
  const gateways = await Promise.all([GatewayProcess.start("A", env("A")), GatewayProcess.start("B", env("B"))]);
  const readAudit = (name: string): Array<Record<string, unknown>> => {
    let text = "";
    try {
      text = readFileSync(join(auditDir, `${name}.audit.jsonl`), "utf8");
    } catch {
      // not written yet
    }
    return text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };
  return {
    spine,
    idp,
    users: [...users],
    execute: (instance, document, variables, token) => gateways[instance % 2]!.execute(document, variables, { token }),
    audit: () => [...readAudit("A"), ...readAudit("B")],
    close: async () => {
      await Promise.all(gateways.map((gateway) => gateway.kill()));
      await Promise.all([spine.close(), idp.close()]);
      rmSync(auditDir, { recursive: true, force: true });
    },
  };
}

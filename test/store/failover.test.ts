/**
 * Failover under a running gateway, on real topologies of private redis-server processes
 * (test/support/redis-topologies.ts): sessions opened before a Cluster primary is killed, or
 * before Sentinel moves the primary, are all readable after, sign-ins work again within the
 * issue's bounds, /readyz says what is happening, and no answer carries another user's data.
 * Each drill prints one line of figures (the report's numbers).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import { CreateSessionDocument, MeDocument, SigninDocument } from "../generated/operations.js";
import { Stack } from "../support/harness.js";
import { describeWithRedisServer, RedisInspector } from "../support/redis.js";
import { ask, RedisClusterTopology, RedisSentinelTopology, waitFor } from "../support/redis-topologies.js";

const SESSIONS = 50;
/**
 * The drill signs the same user in every round and keeps all its sessions: with the per-user cap
 * (SESSION_MAX_PER_USER, 10 by default) the newest would end the oldest, which the count of
 * sessions kept must not mistake for a failover's loss.
 */
const DRILL_ENV = { LOG_LEVEL: "warn", SESSION_MAX_PER_USER: "1000" };
/** How long a drill may run before it counts as never recovering. */
const DRILL_TIMEOUT_MS = 40_000;

interface Opened {
  token: string;
  userId: string;
}

/** Signs one demo user in (Spine and IdP users in turn) and says who the session is for. */
async function signIn(stack: Stack, i: number): Promise<Opened | undefined> {
  const spine = SPINE_DEMO.users[i % SPINE_DEMO.users.length]!;
  const idp = IDP_DEMO.users[i % IDP_DEMO.users.length]!;
  const token =
    i % 2 === 0
      ? (await stack.execute(CreateSessionDocument, { token: spine.smartcardToken })).data?.createSession.token
      : (await stack.execute(SigninDocument, { email: idp.email, password: idp.password })).data?.signin.token;
  if (token == null) return undefined;
  const me = await stack.execute(MeDocument, {}, { token });
  return me.data?.me == null ? undefined : { token, userId: me.data.me.id };
}

interface DrillResult {
  before: number;
  after: number;
  /** From the disruption to the last round in which a sign-in or a session read failed. */
  resumedAfterS: number;
  /** /readyz answers in order, each with when it started (seconds after the disruption). */
  readiness: string[];
  /** Answers that named a user other than the session's. */
  foreign: number;
}

/**
 * Opens SESSIONS sessions, disrupts Redis (`disrupt` returns once the kill or failover has
 * begun: the clock starts there), then every 250 ms signs one user in and reads every session,
 * until `settled` holds and a whole round succeeds; /readyz is polled alongside.
 */
async function drill(stack: Stack, disrupt: () => Promise<void>, settled: () => Promise<boolean>): Promise<DrillResult> {
  const opened: Opened[] = [];
  for (let i = 0; opened.length < SESSIONS; i++) {
    const session = await signIn(stack, i);
    if (session === undefined) throw new Error("a sign-in failed before the drill");
    opened.push(session);
  }
  let foreign = 0;
  /** How many sessions answer `me` with their own user now (a foreign user counts and fails). */
  const readable = async (): Promise<number> => {
    const answers = await Promise.all(
      opened.map(async ({ token, userId }) => ({ userId, answered: (await stack.execute(MeDocument, {}, { token })).data?.me?.id })),
    );
    foreign += answers.filter(({ userId, answered }) => answered != null && answered !== userId).length;
    return answers.filter(({ userId, answered }) => answered === userId).length;
  };
  const before = await readable();

  let started = performance.now();
  const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);
  const readiness: string[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const response = await fetch(`${stack.url}/readyz`);
      const body = (await response.json()) as { down?: string[] };
      const state = response.status === 200 ? "200" : `${response.status} ${body.down?.join("+")}`;
      if (readiness.at(-1)?.split(" @")[0] !== state) readiness.push(`${state} @${seconds()}s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  await disrupt();
  started = performance.now();
  let lastFailure = 0;
  let after = 0;
  for (;;) {
    const round = performance.now();
    const signedIn = await signIn(stack, opened.length);
    after = await readable();
    if (signedIn === undefined || after < SESSIONS) lastFailure = performance.now() - started;
    // A node changing role drops its connections: a check that fails is "not yet".
    else if (await settled().catch(() => false)) break;
    if (round - started > DRILL_TIMEOUT_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Readiness may trail the first served requests by a slot refresh or two (the client learns the
  // new map every 2 s, or when a check fails): it must turn within the 20 s the drill allows.
  await waitFor("/readyz to answer 200", async () => (await fetch(`${stack.url}/readyz`)).status === 200, 15_000).catch(() => undefined);
  polling = false;
  await poller;
  return { before, after, resumedAfterS: Number((lastFailure / 1000).toFixed(1)), readiness, foreign };
}

describeWithRedisServer("Failover under a running gateway", () => {
  describe("Redis Cluster: a primary killed (SIGKILL)", () => {
    let cluster: RedisClusterTopology;
    let stack: Stack;
    beforeAll(async () => {
      cluster = await RedisClusterTopology.start();
      stack = await Stack.start({ env: { ...DRILL_ENV, REDIS_CLUSTER_NODES: cluster.seeds } });
    }, 60_000);
    afterAll(async () => {
      await stack?.close();
      await cluster?.stop();
    });

    it("keeps every session and takes sign-ins again within 20 s, the replica serving the killed primary's slots", async () => {
      let killed = 0;
      const result = await drill(
        stack,
        async () => {
          // The primary of a session key: sessions are certain to be on it.
          const first = (await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[0]!.smartcardToken })).data!.createSession.token!;
          const victim = await cluster.primaryOf(RedisInspector.sessionKey(first));
          killed = victim.port;
          await cluster.inSync();
          await victim.kill();
        },
        // Done once a live node serves the killed primary's slots.
        async () => String(await ask(cluster.nodes.find((node) => node.alive)!.port, "CLUSTER", "INFO")).includes("cluster_state:ok"),
      );
      console.log(`Cluster drill (killed primary :${killed}): ${JSON.stringify(result)}`);

      expect(result.foreign).toBe(0);
      expect(result.before).toBe(SESSIONS);
      expect(result.after).toBe(SESSIONS);
      expect(result.resumedAfterS).toBeLessThan(20);
      // Not ready while a primary is gone (its sessions unreadable), ready again once its replica serves.
      expect(result.readiness.some((state) => state.startsWith("503 store"))).toBe(true);
      expect(result.readiness.at(-1)).toMatch(/^200/);
    }, 90_000);
  });

  describe("Redis behind Sentinel: the primary moved by a Sentinel failover (the old one demoted to a replica)", () => {
    let sentinel: RedisSentinelTopology;
    let stack: Stack;
    beforeAll(async () => {
      sentinel = await RedisSentinelTopology.start();
      stack = await Stack.start({
        env: { ...DRILL_ENV, REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_MASTER: RedisSentinelTopology.MASTER_NAME },
      });
    }, 60_000);
    afterAll(async () => {
      await stack?.close();
      await sentinel?.stop();
    });

    it("keeps every session and follows the new primary within 15 s, never stuck on READONLY", async () => {
      let from = 0;
      let to = 0;
      const result = await drill(
        stack,
        async () => {
          await sentinel.inSync();
          from = await sentinel.startFailover();
        },
        // Done once the sentinels name another primary, that one is a primary, and the old one
        // has been demoted (from then on a client still attached to it gets READONLY).
        async () =>
          (to = await sentinel.primaryPort()) !== from &&
          String(await ask(to, "INFO", "replication")).includes("role:master") &&
          String(await ask(from, "INFO", "replication")).includes("role:slave"),
      );
      console.log(`Sentinel drill (primary :${from} -> :${to}): ${JSON.stringify(result)}`);

      expect(result.foreign).toBe(0);
      expect(result.before).toBe(SESSIONS);
      expect(result.after).toBe(SESSIONS);
      expect(result.resumedAfterS).toBeLessThan(15);
      expect(result.readiness.at(-1)).toMatch(/^200/);
      expect(to).not.toBe(from);
    }, 90_000);

    it("keeps every session and follows the replica the sentinels elect within 15 s when the primary is killed", async () => {
      let from = 0;
      let to = 0;
      const result = await drill(
        stack,
        async () => {
          await sentinel.inSync();
          from = await sentinel.killPrimary();
        },
        async () => (to = await sentinel.primaryPort()) !== from && String(await ask(to, "INFO", "replication")).includes("role:master"),
      );
      console.log(`Sentinel kill drill (primary :${from} killed, -> :${to}): ${JSON.stringify(result)}`);

      expect(result.foreign).toBe(0);
      expect(result.before).toBe(SESSIONS);
      expect(result.after).toBe(SESSIONS);
      expect(result.resumedAfterS).toBeLessThan(15);
      expect(result.readiness.at(-1)).toMatch(/^200/);
    }, 90_000);
  });
});

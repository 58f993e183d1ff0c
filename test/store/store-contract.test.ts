import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { StoreError } from "../../src/errors/store-error.js";
import { ExpiringMemoryStore } from "../../src/store/memory/expiring-map.js";
import type { RedisSettings } from "../../src/store/redis/connection.js";
import { openStore, type Store } from "../../src/store/store.js";
import { describeWithRedis, describeWithRedisServer, redisSettings, RedisServer } from "../support/redis.js";
import { RedisClusterTopology, RedisSentinelTopology } from "../support/redis-topologies.js";

/**
 * Real time passing, on purpose: these tests check expiry by the store's own clock (Redis's TTLs,
 * the memory store's timestamps), so time itself is what is under test and there is no event to wait for.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const onRedis = (redis: RedisSettings): Store => openStore({ redis, operationTimeoutMs: 1_000, onError: () => {} });

describe("Store on memory", () => storeContract(() => openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} })));
// Without REDIS_URL this half is registered as skipped and says so on the console.
describeWithRedis("Store on Redis", (redisUrl) => storeContract(() => onRedis(redisSettings({ REDIS_URL: redisUrl }))));

describeWithRedisServer("Store on Redis Cluster (3 primaries, 3 replicas)", () => {
  let cluster: RedisClusterTopology;
  beforeAll(async () => {
    cluster = await RedisClusterTopology.start();
  }, 60_000);
  afterAll(() => cluster?.stop());

  describe("contract", () => storeContract(() => onRedis(redisSettings({ REDIS_CLUSTER_NODES: cluster.seeds }))));
});

/** The ACL docs/redis.md gives the gateway's user: every command the store sends, and no other. */
const GATEWAY_ACL =
  "on >acl-test-password ~* resetchannels -@all +get +set +del +evalsha +eval +incr +decr +pexpire +zadd +zrem +zrange +zrangebyscore +zremrangebyscore +zcard +scan +info +ping +quit +select +cluster|slots";

describeWithRedisServer("Store on Redis as an ACL user allowed the documented commands only", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start(undefined, { args: ["--user", "gateway", ...GATEWAY_ACL.split(" ")] });
  });
  afterAll(() => server?.kill());

  describe("contract", () =>
    storeContract(() => onRedis(redisSettings({ REDIS_URL: `redis://gateway:acl-test-password@127.0.0.1:${server.port}` }))));
});

describeWithRedisServer("Store on Redis behind Sentinel (a primary, a replica, 3 sentinels)", () => {
  let sentinel: RedisSentinelTopology;
  beforeAll(async () => {
    sentinel = await RedisSentinelTopology.start();
  }, 60_000);
  afterAll(() => sentinel?.stop());

  describe("contract", () =>
    storeContract(() => onRedis(redisSettings({ REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_MASTER: RedisSentinelTopology.MASTER_NAME }))));
});

describe("Store on memory, read again and again", () => {
  const store = openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} });
  afterAll(() => store.close());

  it("hands every read of an unchanged value the same frozen object, and a value set anew afresh", async () => {
    const sessions = store.namespace<{ user: { groups: string[] } }>("decoded");
    await sessions.set("k", { user: { groups: ["a"] } }, 10_000);

    const [first, second] = [await sessions.get("k"), await sessions.get("k")];
    expect(second).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first!.user) && Object.isFrozen(first!.user.groups)).toBe(true);

    await sessions.set("k", { user: { groups: ["b"] } }, 10_000);
    expect(await sessions.get("k")).toEqual({ user: { groups: ["b"] } });
  });
});

/** One contract, every implementation (the keyv habit): what the gateway relies on of its store. */
function storeContract(open: () => Store): void {
  let store: Store;
  // A namespace per run: tests never see (or clean up) each other's keys on a shared Redis.
  const ns = `contract-${randomUUID()}`;
  beforeAll(() => {
    store = open();
  });
  afterAll(() => store.close());

  it("returns what was set, as a copy of plain JSON", async () => {
    const sessions = store.namespace<{ id: string; nested: { list: number[] }; when: string | null }>(ns);
    const value = { id: "a", nested: { list: [1, 2, 3] }, when: null };

    await sessions.set("k1", value, 10_000);

    expect(await sessions.get("k1")).toEqual(value);
  });

  it("keeps what one reader does to a value it got from every other reader", async () => {
    const sessions = store.namespace<{ nested: { list: number[] } }>(ns);
    await sessions.set("k-shared", { nested: { list: [1, 2] } }, 10_000);

    const first = (await sessions.get("k-shared"))!;
    try {
      first.nested.list.push(3);
    } catch {
      // Refused (a frozen value) or not: either way the next reader must not see it.
    }

    expect(await sessions.get("k-shared")).toEqual({ nested: { list: [1, 2] } });
  });

  it("answers undefined for a key never set", async () => {
    expect(await store.namespace(ns).get("never-set")).toBeUndefined();
  });

  it("forgets a deleted key", async () => {
    const entries = store.namespace<string>(ns);
    await entries.set("k2", "v", 10_000);

    await entries.delete("k2");

    expect(await entries.get("k2")).toBeUndefined();
  });

  it("forgets an entry once its TTL has passed", async () => {
    const entries = store.namespace<string>(ns);
    await entries.set("short", "v", 60);
    await entries.set("long", "v", 10_000);

    await sleep(150);

    expect(await entries.get("short")).toBeUndefined();
    expect(await entries.get("long")).toBe("v");
  });

  it("lists the keys of an expiry index that are due, earliest first, and no others", async () => {
    const index = store.expiryIndex(`${ns}-due`);
    await index.schedule("late", 3_000);
    await index.schedule("early", 1_000);
    await index.schedule("future", 9_000);
    await index.schedule("moved", 500);
    await index.schedule("moved", 8_000);
    await index.schedule("cancelled", 1_500);
    await index.cancel("cancelled");

    expect(await index.due(5_000, 10)).toEqual(["early", "late"]);
    expect(await index.due(5_000, 1)).toEqual(["early"]);
    expect(await index.due(999, 10)).toEqual([]);
  });

  it("lets exactly one of many claims of a due key succeed, across stores sharing the backend", async () => {
    const other = open();
    try {
      const name = `${ns}-claim`;
      await store.expiryIndex(name).schedule("k", 1_000);

      const claims = await Promise.all([store, other, store, other].map((s) => s.expiryIndex(name).claim("k")));

      // In memory each store is its own process: the other one never held the key.
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await store.expiryIndex(name).due(2_000, 10)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it("keeps namespaces apart", async () => {
    await store.namespace<string>(`${ns}-a`).set("same", "a", 10_000);
    await store.namespace<string>(`${ns}-b`).set("same", "b", 10_000);

    expect(await store.namespace<string>(`${ns}-a`).get("same")).toBe("a");
    expect(await store.namespace<string>(`${ns}-b`).get("same")).toBe("b");
  });

  it("is ready: it accepts writes", async () => {
    await expect(store.ready()).resolves.toBeUndefined();
  });

  it("counts a namespace's live entries, wherever they are kept (every Cluster primary)", async () => {
    const counted = store.namespace<string>(`${ns}-count`);
    // Enough keys that a Cluster spreads them over all three primaries.
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => counted.set(key, "v", 10_000)));
    await counted.delete("k1");

    expect(await store.count(`${ns}-count`)).toBe(29);
  });

  describe("registers", () => {
    it("sets a register only from the value the caller expects, absent included", async () => {
      const registers = store.registers(`${ns}-registers`);

      expect(await registers.compareAndSet("k", undefined, "one", 10_000)).toBe(true);
      expect(await registers.compareAndSet("k", undefined, "two", 10_000)).toBe(false);
      expect(await registers.compareAndSet("k", "stale", "two", 10_000)).toBe(false);
      expect(await registers.compareAndSet("k", "one", "two", 10_000)).toBe(true);
      expect(await registers.get("k")).toBe("two");
    });

    it("lets exactly one of many concurrent compare-and-sets from one value win, across stores sharing the backend", async () => {
      const other = open();
      try {
        const name = `${ns}-registers-race`;
        await store.registers(name).compareAndSet("k", undefined, "start", 10_000);

        const wins = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).registers(name).compareAndSet("k", "start", `next-${i}`, 10_000)),
        );

        // In memory each store is its own process: the other one never held the value.
        expect(wins.filter(Boolean)).toHaveLength(1);
        expect(await store.registers(name).get("k")).toBe(`next-${wins.indexOf(true)}`);
      } finally {
        await other.close();
      }
    });

    it("deletes a register only while it holds the expected value", async () => {
      const registers = store.registers(`${ns}-registers`);
      await registers.compareAndSet("owned", undefined, "owner-a", 10_000);

      expect(await registers.compareAndDelete("owned", "owner-b")).toBe(false);
      expect(await registers.get("owned")).toBe("owner-a");
      expect(await registers.compareAndDelete("owned", "owner-a")).toBe(true);
      expect(await registers.get("owned")).toBeUndefined();
    });

    it("swaps a register's value and answers what it held", async () => {
      const registers = store.registers(`${ns}-registers`);

      expect(await registers.swap("swapped", "first", 10_000)).toBeUndefined();
      expect(await registers.swap("swapped", "second", 10_000)).toBe("first");
      expect(await registers.get("swapped")).toBe("second");
    });

    it("forgets a register once its TTL has passed, so a lock whose owner died frees itself", async () => {
      const registers = store.registers(`${ns}-registers`);
      await registers.compareAndSet("lock", undefined, "dead-owner", 60);

      await sleep(150);

      expect(await registers.get("lock")).toBeUndefined();
      expect(await registers.compareAndSet("lock", undefined, "new-owner", 10_000)).toBe(true);
    });
  });

  describe("capped indexes", () => {
    const cap = { max: 3, dropBelow: 0, ttlMs: 10_000 };

    it("keeps at most max members and hands back the oldest taken out", async () => {
      const index = store.cappedIndex(`${ns}-capped`);
      for (const [member, score] of [
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ] as const)
        expect(await index.add("user", member, score, cap)).toEqual([]);

      expect(await index.add("user", "d", 4, cap)).toEqual(["a"]);
      expect(await index.members("user")).toEqual(["b", "c", "d"]);
    });

    it("never evicts the member being added, even when it is the oldest", async () => {
      const index = store.cappedIndex(`${ns}-capped`);
      for (const [member, score] of [
        ["a", 10],
        ["b", 20],
        ["c", 30],
      ] as const)
        await index.add("clock-behind", member, score, cap);

      expect(await index.add("clock-behind", "late", 5, cap)).toEqual(["a"]);
      expect(await index.members("clock-behind")).toEqual(["late", "b", "c"]);
    });

    it("drops members scored below dropBelow without handing them back", async () => {
      const index = store.cappedIndex(`${ns}-capped`);
      await index.add("stale", "dead", 1, cap);
      await index.add("stale", "alive", 50, cap);

      expect(await index.add("stale", "new", 60, { ...cap, dropBelow: 10 })).toEqual([]);
      expect(await index.members("stale")).toEqual(["alive", "new"]);
    });

    it("forgets a removed member", async () => {
      const index = store.cappedIndex(`${ns}-capped`);
      await index.add("removed", "a", 1, cap);
      await index.add("removed", "b", 2, cap);

      await index.remove("removed", "a");

      expect(await index.members("removed")).toEqual(["b"]);
    });

    it("forgets the whole index once the TTL of its last add has passed", async () => {
      const index = store.cappedIndex(`${ns}-capped`);
      await index.add("short", "a", 1, { ...cap, ttlMs: 60 });

      await sleep(150);

      expect(await index.members("short")).toEqual([]);
    });

    it("keeps exactly max members when many adds land at once, each evicted member handed to one caller only", async () => {
      const other = open();
      try {
        const name = `${ns}-capped-race`;
        const added = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, "0")}`);

        const evicted = (
          await Promise.all(added.map((member, i) => (i % 2 === 0 ? store : other).cappedIndex(name).add("user", member, i, cap)))
        ).flat();

        // In memory each store is its own process with its own index: each keeps its own cap.
        const sharing = await shareData(store, other);
        const kept = [...(await store.cappedIndex(name).members("user")), ...(sharing ? [] : await other.cappedIndex(name).members("user"))];
        expect(kept).toHaveLength(sharing ? cap.max : 2 * cap.max);
        expect(new Set(evicted).size).toBe(evicted.length);
        expect([...kept, ...evicted].sort()).toEqual(added);
      } finally {
        await other.close();
      }
    });
  });

  describe("counters", () => {
    it("starts a counter at 1 and reads an absent one as 0", async () => {
      const counters = store.counters(`${ns}-counters`);

      expect(await counters.get("absent")).toBe(0);
      expect(await counters.increment("first", 10_000)).toBe(1);
      expect(await counters.get("first")).toBe(1);
    });

    it("loses no increment when many land at once (what instances sharing a limit do)", async () => {
      const counters = store.counters(`${ns}-counters`);

      const results = await Promise.all(Array.from({ length: 50 }, () => counters.increment("burst", 10_000)));

      expect(await counters.get("burst")).toBe(50);
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it("forgets a counter once the TTL of its last increment has passed, and starts again at 1", async () => {
      const counters = store.counters(`${ns}-counters`);
      await counters.increment("window", 60);
      await counters.increment("window", 60);

      await sleep(150);

      expect(await counters.get("window")).toBe(0);
      expect(await counters.increment("window", 10_000)).toBe(1);
    });

    it("resets a deleted counter to 0", async () => {
      const counters = store.counters(`${ns}-counters`);
      await counters.increment("reset", 10_000);

      await counters.delete("reset");

      expect(await counters.get("reset")).toBe(0);
    });

    it("shares counts between handles on the same name, as instances on one Redis do", async () => {
      await store.counters(`${ns}-counters-shared`).increment("same", 10_000);

      expect(await store.counters(`${ns}-counters-shared`).increment("same", 10_000)).toBe(2);
    });

    it("gives places up to the limit and refuses the rest, however many take at once", async () => {
      const counters = store.counters(`${ns}-counters`);

      const places = await Promise.all(Array.from({ length: 50 }, () => counters.take("limited", 20, 10_000)));

      expect(places.filter((place) => place !== undefined).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(places.filter((place) => place === undefined)).toHaveLength(30);
      expect(await counters.get("limited")).toBe(20);
    });

    it("lets a place given back be taken again, and never counts below zero", async () => {
      const counters = store.counters(`${ns}-counters`);
      await counters.take("returned", 2, 10_000);
      await counters.take("returned", 2, 10_000);
      expect(await counters.take("returned", 2, 10_000)).toBeUndefined();

      await counters.giveBack("returned");

      expect(await counters.take("returned", 2, 10_000)).toBe(2);
      await counters.giveBack("never-taken");
      await counters.giveBack("never-taken");
      expect(await counters.get("never-taken")).toBe(0);
      expect(await counters.take("never-taken", 2, 10_000)).toBe(1);
    });

    it("keeps a counter's expiry when a place is given back", async () => {
      const counters = store.counters(`${ns}-counters`);
      await counters.take("expiring", 5, 60);
      await counters.take("expiring", 5, 60);

      await counters.giveBack("expiring");
      await sleep(150);

      expect(await counters.get("expiring")).toBe(0);
    });

    it("keeps counters of different names apart", async () => {
      await store.counters(`${ns}-counters-a`).increment("same", 10_000);

      expect(await store.counters(`${ns}-counters-b`).get("same")).toBe(0);
    });
  });
}

describe("Store on an unreachable Redis", () => {
  let store: Store;
  beforeAll(async () => {
    const port = await closedPort();
    store = openStore({ redis: redisSettings({ REDIS_URL: `redis://127.0.0.1:${port}` }), operationTimeoutMs: 500, onError: () => {} });
  });
  afterAll(() => store.close());

  it("fails reads, writes and deletes with StoreError instead of answering 'nothing there'", async () => {
    const entries = store.namespace<string>("unreachable");

    await expect(entries.get("k")).rejects.toBeInstanceOf(StoreError);
    await expect(entries.set("k", "v", 1_000)).rejects.toBeInstanceOf(StoreError);
    await expect(entries.delete("k")).rejects.toBeInstanceOf(StoreError);
    await expect(store.ready()).rejects.toBeInstanceOf(StoreError);
  });

  it("fails within its operation deadline", async () => {
    const started = Date.now();

    await expect(store.namespace<string>("unreachable").get("k")).rejects.toBeInstanceOf(StoreError);

    expect(Date.now() - started).toBeLessThan(1_500);
  });
});

describe("ExpiringMemoryStore", () => {
  it("drops expired entries on a sweep, without anyone reading them", async () => {
    const memory = new ExpiringMemoryStore(60_000);
    memory.set("gone", "v", 20);
    memory.set("kept", "v", 60_000);
    memory.set("forever", "v");

    await sleep(60);
    memory.sweep();

    expect(memory.size).toBe(2);
    expect(memory.get("kept")).toBe("v");
    expect(memory.get("forever")).toBe("v");
    memory.close();
  });
});

/** Whether two stores see the same data (Redis), or each its own (memory, one per process). */
async function shareData(a: Store, b: Store): Promise<boolean> {
  const probe = `probe-${randomUUID()}`;
  await a.registers(probe).compareAndSet("k", undefined, "seen", 10_000);
  return (await b.registers(probe).get("k")) === "seen";
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

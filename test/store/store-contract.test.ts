import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { StoreError } from "../../src/errors/backend-error.js";
import { ExpiringMemoryStore } from "../../src/store/memory/expiring-map.js";
import type { RedisSettings } from "../../src/store/redis/connection.js";
import { openStore, type Store } from "../../src/store/store.js";
import { describeWithRedis, describeWithRedisServer, redisSettings, RedisServer } from "../support/redis.js";
import { RedisClusterTopology, RedisSentinelTopology } from "../support/redis-topologies.js";

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
const GATEWAY_ACL = "on >acl-test-password ~* resetchannels -@all +get +set +del +evalsha +eval +incr +pexpire +zadd +zrem +zrangebyscore +scan +info +ping +quit +select +cluster|slots";

describeWithRedisServer("Store on Redis as an ACL user allowed the documented commands only", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start(undefined, { args: ["--user", "gateway", ...GATEWAY_ACL.split(" ")] });
  });
  afterAll(() => server?.kill());

  describe("contract", () => storeContract(() => onRedis(redisSettings({ REDIS_URL: `redis://gateway:acl-test-password@127.0.0.1:${server.port}` }))));
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

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

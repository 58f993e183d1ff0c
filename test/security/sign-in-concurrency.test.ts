/**
 * The sign-in limits under a burst: many attempts sent at once while each backend call takes
 * a few hundred milliseconds, so that they all overlap. Whatever arrives at once, no more
 * guesses reach a backend than the limits allow, counted where they land (the simulators' call
 * logs). The same bursts run on the in-memory store, on Redis, and across two gateway
 * processes sharing Redis.
 *
 * Accounts are made up for each burst (the simulators refuse them like a wrong password) and
 * every burst comes from a client address of its own, so nothing here counts against another
 * burst, another test file, or a demo user others sign in with on the shared Redis.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createHash, randomUUID } from "node:crypto";
import { startIdpSimulator, startSpineSimulator, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import { CreateSessionDocument, SigninDocument } from "../generated/operations.js";
import { GatewayProcess, sharedRedisEnv } from "../support/gateway-process.js";
import { codes, freshAddress, Stack, TEST_ENCRYPTION_KEY, type GraphQLResult } from "../support/harness.js";
import { describeWithRedis, RedisInspector } from "../support/redis.js";

/** The limits as deployed by default, set here so the test states them. */
const PER_ACCOUNT = 10;
const PER_ADDRESS = 100;
const LIMITS = {
  TRUSTED_PROXY_HOPS: "1",
  LOGIN_MAX_FAILURES_PER_ACCOUNT: String(PER_ACCOUNT),
  LOGIN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
};
/** How long each backend call takes: long enough that every attempt of a burst is in flight at once. */
const BACKEND_MS = 300;
const BURST = 150;

/** Where a burst lands: one sign-in sent to a gateway from `address`. */
interface Gateways {
  signin(email: string, address: string, i: number): Promise<GraphQLResult<unknown>>;
  createSession(smartcardToken: string, address: string, i: number): Promise<GraphQLResult<unknown>>;
}

/** A made-up account of this run: an email no IdP user has, or a smartcard token Spine does not know. */
const stranger = {
  email: (): string => `burst-${randomUUID()}@example.org`,
  smartcardToken: (): string => `AQIC5wM2LY4Sf-burst-${randomUUID()}=@AAJTSQACMDE=#`,
};

/**
 * The bursts, against the gateways and simulators `setUp` starts. `forget` is told every
 * account and address used, to clean up what the run left in a shared store.
 */
function signInBursts(
  setUp: () => Promise<{ gateways: Gateways; spine: SpineSimulator; idp: IdpSimulator; close: () => Promise<void> }>,
  forget?: (used: Used) => Promise<void>,
): void {
  let gateways: Gateways;
  let spine: SpineSimulator;
  let idp: IdpSimulator;
  let close: () => Promise<void>;
  const used: Used = { emails: [], smartcardTokens: [], addresses: [] };
  beforeAll(async () => {
    ({ gateways, spine, idp, close } = await setUp());
    idp.inject("signin", { kind: "latency", ms: BACKEND_MS });
    spine.inject("A001", { kind: "latency", ms: BACKEND_MS });
  }, 40_000);
  afterAll(async () => {
    await close?.();
    await forget?.(used);
  }, 20_000);
  beforeEach(() => {
    idp.resetCalls();
    spine.resetCalls();
  });

  /** Sends `BURST` attempts at once; the codes each got, counted. */
  async function burst(send: (i: number) => Promise<GraphQLResult<unknown>>): Promise<Record<string, number>> {
    const results = await Promise.all(Array.from({ length: BURST }, (_, i) => send(i)));
    const counted: Record<string, number> = {};
    for (const result of results) {
      const code = (codes(result)[0] as string | undefined) ?? "OK";
      counted[code] = (counted[code] ?? 0) + 1;
    }
    return counted;
  }

  it(`lets at most ${PER_ACCOUNT} of ${BURST} wrong passwords sent at once for one account reach the IdP`, async () => {
    const email = stranger.email();
    const address = freshAddress();
    used.emails.push(email);
    used.addresses.push(address);

    const outcome = await burst((i) => gateways.signin(email, address, i));

    expect(idp.calls("signin").length).toBe(PER_ACCOUNT);
    expect(outcome).toEqual({ UNAUTHENTICATED: PER_ACCOUNT, RATE_LIMITED: BURST - PER_ACCOUNT });
  });

  it(`lets at most ${PER_ADDRESS} of ${BURST} guesses sent at once over as many accounts from one address reach the IdP`, async () => {
    const address = freshAddress();
    const emails = Array.from({ length: BURST }, () => stranger.email());
    used.emails.push(...emails);
    used.addresses.push(address);

    const outcome = await burst((i) => gateways.signin(emails[i]!, address, i));

    expect(idp.calls("signin").length).toBe(PER_ADDRESS);
    expect(outcome).toEqual({ UNAUTHENTICATED: PER_ADDRESS, RATE_LIMITED: BURST - PER_ADDRESS });
  });

  it(`lets at most ${PER_ACCOUNT} of ${BURST} tries of one smartcard token sent at once reach Spine`, async () => {
    const smartcardToken = stranger.smartcardToken();
    const address = freshAddress();
    used.smartcardTokens.push(smartcardToken);
    used.addresses.push(address);

    const outcome = await burst((i) => gateways.createSession(smartcardToken, address, i));

    expect(spine.calls("A001").length).toBe(PER_ACCOUNT);
    expect(outcome).toEqual({ UNAUTHENTICATED: PER_ACCOUNT, RATE_LIMITED: BURST - PER_ACCOUNT });
  });

  it(`lets at most ${PER_ADDRESS} of ${BURST} smartcard tokens sent at once from one address reach Spine`, async () => {
    const address = freshAddress();
    const smartcardTokens = Array.from({ length: BURST }, () => stranger.smartcardToken());
    used.smartcardTokens.push(...smartcardTokens);
    used.addresses.push(address);

    const outcome = await burst((i) => gateways.createSession(smartcardTokens[i]!, address, i));

    expect(spine.calls("A001").length).toBe(PER_ADDRESS);
    expect(outcome).toEqual({ UNAUTHENTICATED: PER_ADDRESS, RATE_LIMITED: BURST - PER_ADDRESS });
  });

  // Last: the IdP's circuit breaker stays open after it.
  it(`gives the place back when the IdP fails without a verdict, so ${2 * PER_ACCOUNT} tries during an outage lock nobody out`, async () => {
    const email = stranger.email();
    const address = freshAddress();
    used.emails.push(email);
    used.addresses.push(address);
    idp.inject("signin", { kind: "status", status: 503 });

    const outcomes: unknown[] = [];
    for (let i = 0; i < 2 * PER_ACCOUNT; i++) outcomes.push(...codes(await gateways.signin(email, address, i)));

    expect(outcomes).toEqual(Array.from({ length: 2 * PER_ACCOUNT }, () => "UPSTREAM_UNAVAILABLE"));
  });
}

/** The accounts and addresses a run signed in with. */
interface Used {
  emails: string[];
  smartcardTokens: string[];
  addresses: string[];
}

/** One in-process gateway (Stack) with `env`. */
async function oneGateway(
  env: Record<string, string>,
): Promise<{ gateways: Gateways; spine: SpineSimulator; idp: IdpSimulator; close: () => Promise<void> }> {
  const stack = await Stack.start({ env: { ...LIMITS, ...env } });
  const from = (address: string) => ({ headers: { "x-forwarded-for": address } });
  return {
    gateways: {
      signin: (email, address) => stack.execute(SigninDocument, { email, password: "Wr0ng-but-plausible-1" }, from(address)),
      createSession: (smartcardToken, address) => stack.execute(CreateSessionDocument, { token: smartcardToken }, from(address)),
    },
    spine: stack.spine,
    idp: stack.idp,
    close: () => stack.close(),
  };
}

/** Deletes the sign-in counters and locks the run left on the shared Redis (keys hold hashes: login-throttle.ts). */
function forgetOn(redisUrl: string): (used: Used) => Promise<void> {
  return async (used) => {
    const redis = await RedisInspector.connect(redisUrl);
    try {
      const hash = (value: string): string => createHash("sha256").update(value).digest("base64url");
      const patterns = [
        ...used.emails.map((email) => `login*::account:${hash(`signin:${email.toLowerCase()}`)}*`),
        ...used.smartcardTokens.map((token) => `login*::account:${hash(`createSession:${token}`)}*`),
        ...used.addresses.map((address) => `login::address:${hash(address)}:*`),
      ];
      const keys = (await Promise.all(patterns.map((pattern) => redis.keys(pattern)))).flat();
      if (keys.length > 0) await redis.client.del(keys);
    } finally {
      await redis.close();
    }
  };
}

describe("sign-in limits under a burst, on the in-memory store", () => {
  signInBursts(() => oneGateway({}));
});

describeWithRedis("sign-in limits under a burst, on Redis", (redisUrl) => {
  signInBursts(() => oneGateway({ REDIS_URL: redisUrl }), forgetOn(redisUrl));
});

describeWithRedis("sign-in limits under a burst spread over two gateway processes on one Redis", (redisUrl) => {
  signInBursts(async () => {
    const [spine, idp] = await Promise.all([startSpineSimulator(), startIdpSimulator()]);
    const env = {
      ...LIMITS,
      ...sharedRedisEnv({ spine, idp, redisUrl, encryptionKey: TEST_ENCRYPTION_KEY }),
    };
    const instances = await Promise.all([GatewayProcess.start("A", env), GatewayProcess.start("B", env)]);
    // Every other attempt to the other instance, as a load balancer spreads them.
    const on = (i: number): GatewayProcess => instances[i % 2]!;
    return {
      gateways: {
        signin: (email, address, i) => on(i).execute(SigninDocument, { email, password: "Wr0ng-but-plausible-1" }, { forwardedFor: address }),
        createSession: (smartcardToken, address, i) => on(i).execute(CreateSessionDocument, { token: smartcardToken }, { forwardedFor: address }),
      },
      spine,
      idp,
      close: async () => {
        await Promise.all(instances.map((instance) => instance.kill()));
        await Promise.all([spine.close(), idp.close()]);
      },
    };
  }, forgetOn(redisUrl));
});

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateSessionDocument, SigninDocument } from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";

const FIFTEEN_MINUTES = 15 * 60_000;

/** Sign-in attempts from a given client address (the gateway trusts one proxy hop in these stacks). */
function from(address: string): { headers: Record<string, string> } {
  return { headers: { "x-forwarded-for": address } };
}

describe("brute-force limits: consecutive failures per account", () => {
  let stack: Stack;
  beforeAll(async () => {
    // Per-address limits out of the way, so only the per-account ones are seen here.
    stack = await Stack.start({ env: { TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "100000" } });
  });
  afterAll(() => stack.close());

  async function signin(email: string, password: string, address = "198.51.100.7") {
    return stack.execute(SigninDocument, { email, password }, from(address));
  }

  it("refuses the 11th attempt after 10 failures with RATE_LIMITED, before asking the IdP, even with the right password", async () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(codes(await signin(idpUser.email, `wrong-${attempt}`))).toEqual(["UNAUTHENTICATED"]);
    }
    stack.idp.resetCalls();

    const refused = await signin(idpUser.email, idpUser.password);

    expect(codes(refused)).toEqual(["RATE_LIMITED"]);
    expect(stack.idp.calls()).toHaveLength(0);
  });

  it("counts the account whatever the case and spaces of its email", async () => {
    const email = "Case.Test@Example.org";
    for (let attempt = 1; attempt <= 10; attempt++) {
      await signin(attempt % 2 === 0 ? email.toUpperCase() : ` ${email.toLowerCase()} `.trim(), `wrong-${attempt}`);
    }

    expect(codes(await signin(email, "wrong-again"))).toEqual(["RATE_LIMITED"]);
  });

  it("lifts the lock after 15 minutes, and a success then starts the count again", async () => {
    stack.clock.advance(FIFTEEN_MINUTES + 1_000);

    const accepted = await signin(idpUser.email, idpUser.password);
    expect(accepted.errors).toBeUndefined();
    for (let attempt = 1; attempt <= 9; attempt++) await signin(idpUser.email, `wrong-${attempt}`);

    expect(codes(await signin(idpUser.email, "wrong-10"))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await signin(idpUser.email, idpUser.password))).toEqual(["RATE_LIMITED"]);
  });

  it("answers an unknown account exactly like a known one: same refusals, same message, similar time", async () => {
    stack.clock.advance(FIFTEEN_MINUTES + 1_000);
    const unknown = "nobody.here@example.org";
    const known = idpUser.email;
    const seen: Record<string, { codes: unknown[]; messages: string[] }> = {
      [unknown]: { codes: [], messages: [] },
      [known]: { codes: [], messages: [] },
    };
    for (let attempt = 1; attempt <= 11; attempt++) {
      for (const email of [unknown, known]) {
        const result = await signin(email, `wrong-${attempt}`);
        seen[email]!.codes.push(...codes(result));
        seen[email]!.messages.push(result.errors![0]!.message);
      }
    }
    // Refusals interleaved, so the machine's noise falls on both alike.
    const ms: Record<string, number[]> = { [unknown]: [], [known]: [] };
    for (let attempt = 0; attempt < 40; attempt++) {
      for (const email of [unknown, known]) {
        const started = performance.now();
        await signin(email, `wrong-again-${attempt}`);
        ms[email]!.push(performance.now() - started);
      }
    }

    expect(seen[unknown]).toEqual(seen[known]);
    expect(seen[known]!.codes.slice(9)).toEqual(["UNAUTHENTICATED", "RATE_LIMITED"]);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const [a, b] = [median(ms[unknown]!), median(ms[known]!)];
    expect(Math.abs(a - b)).toBeLessThan(Math.max(5, 0.5 * Math.max(a, b)));
  });

  it("never allows more than 100 consecutive failures: after the 100th the account stays locked past the 15-minute lock", async () => {
    const email = "persistent.target@example.org";
    let failures = 0;
    while (failures < 100) {
      stack.clock.advance(FIFTEEN_MINUTES + 1_000);
      for (let attempt = 0; attempt < 10; attempt++) {
        expect(codes(await signin(email, `guess-${failures}`))).toEqual(["UNAUTHENTICATED"]);
        failures++;
      }
    }
    stack.idp.resetCalls();

    stack.clock.advance(FIFTEEN_MINUTES + 1_000);
    expect(codes(await signin(email, "guess-101"))).toEqual(["RATE_LIMITED"]);
    stack.clock.advance(23 * 3600_000);
    expect(codes(await signin(email, "guess-102"))).toEqual(["RATE_LIMITED"]);
    expect(stack.idp.calls()).toHaveLength(0);

    stack.clock.advance(3600_000);
    expect(codes(await signin(email, "guess-103"))).toEqual(["UNAUTHENTICATED"]);
  });

  it("limits smartcard tokens refused by Spine the same way", async () => {
    const card = "AQIC5wM2LY4Sf-stolen-or-guessed=@AAJTSQACMDE=#";
    for (let attempt = 1; attempt <= 10; attempt++) {
      expect(codes(await stack.execute(CreateSessionDocument, { token: card }, from("198.51.100.8")))).toEqual(["UNAUTHENTICATED"]);
    }
    stack.spine.resetCalls();

    expect(codes(await stack.execute(CreateSessionDocument, { token: card }, from("198.51.100.8")))).toEqual(["RATE_LIMITED"]);
    expect(stack.spine.calls()).toHaveLength(0);
  });
});

describe("brute-force limits: failures per client address", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "20" } });
  });
  afterAll(() => stack.close());

  it("refuses an address after 20 failures across many accounts (credential stuffing), and no other address", async () => {
    for (let account = 1; account <= 20; account++) {
      const result = await stack.execute(SigninDocument, { email: `user${account}@example.org`, password: "Summer2026!" }, from("203.0.113.50"));
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    }
    stack.idp.resetCalls();
    stack.spine.resetCalls();

    const stuffer = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, from("203.0.113.50"));
    const cards = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }, from("203.0.113.50"));
    const someoneElse = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, from("203.0.113.51"));

    expect(codes(stuffer)).toEqual(["RATE_LIMITED"]);
    expect(codes(cards)).toEqual(["RATE_LIMITED"]);
    expect(someoneElse.errors).toBeUndefined();
    expect(stack.idp.calls("signin")).toHaveLength(1);
    expect(stack.spine.calls()).toHaveLength(0);
  });

  it("counts the address the trusted proxy saw, not what the client wrote further left in X-Forwarded-For", async () => {
    const spoofed = await stack.execute(
      SigninDocument,
      { email: idpUser.email, password: idpUser.password },
      { headers: { "x-forwarded-for": "192.0.2.99, 203.0.113.50" } },
    );

    expect(codes(spoofed)).toEqual(["RATE_LIMITED"]);
  });

  it("lets the address in again in the next hour's window", async () => {
    stack.clock.advance(3600_000);

    const result = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, from("203.0.113.50"));

    expect(result.errors).toBeUndefined();
  });
});

describe("brute-force limits: aliases", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("refuses 50 aliased signin attempts in one document before any IdP call, so they cannot add up to more guesses", async () => {
    const aliases = Array.from(
      { length: 50 },
      (_, i) => `a${i}: signin(input: { email: "${idpUser.email}", password: "guess-${i}" }) { token }`,
    ).join("\n");

    const result = await stack.post({ query: `mutation { ${aliases} }` });

    expect(result.status).toBe(400);
    expect(result.data ?? null).toBeNull();
    expect(stack.idp.calls()).toHaveLength(0);
    for (let attempt = 1; attempt <= 9; attempt++) {
      await stack.execute(SigninDocument, { email: idpUser.email, password: `wrong-${attempt}` });
    }
    // Nine failures counted, not 59: the account is not locked yet.
    expect(codes(await stack.execute(SigninDocument, { email: idpUser.email, password: "wrong-10" }))).toEqual(["UNAUTHENTICATED"]);
  });
});

const REDIS_URL = process.env.REDIS_URL;
if (REDIS_URL === undefined) {
  console.warn("SKIPPED: brute-force limits across two gateway instances sharing Redis. Set REDIS_URL=redis://127.0.0.1:6379 to run them.");
}

(REDIS_URL === undefined ? describe.skip : describe)("brute-force limits across two instances sharing Redis", () => {
  let first: Stack;
  let second: Stack;
  const email = `two-instances-${Date.now()}@example.org`;
  beforeAll(async () => {
    first = await Stack.start({ env: { REDIS_URL: REDIS_URL!, TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "15" } });
    // A second gateway on its own simulators, sharing only the store: the counters must be in Redis.
    second = await Stack.start({ env: { REDIS_URL: REDIS_URL!, TRUSTED_PROXY_HOPS: "1", LOGIN_MAX_FAILURES_PER_ADDRESS: "15" } });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it("locks an account after 10 failures spread over both instances, on both", async () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const gateway = attempt % 2 === 0 ? first : second;
      expect(codes(await gateway.execute(SigninDocument, { email, password: `wrong-${attempt}` }, from(`198.51.100.${attempt}`)))).toEqual([
        "UNAUTHENTICATED",
      ]);
    }

    expect(codes(await first.execute(SigninDocument, { email, password: "wrong-11" }, from("198.51.100.200")))).toEqual(["RATE_LIMITED"]);
    expect(codes(await second.execute(SigninDocument, { email, password: "wrong-12" }, from("198.51.100.201")))).toEqual(["RATE_LIMITED"]);
  });

  it("refuses an address after 15 failures spread over both instances, on both", async () => {
    const address = `203.0.113.${100 + (Date.now() % 100)}`;
    for (let attempt = 1; attempt <= 15; attempt++) {
      const gateway = attempt % 2 === 0 ? first : second;
      await gateway.execute(SigninDocument, { email: `stuffed${attempt}-${Date.now()}@example.org`, password: "Winter2026!" }, from(address));
    }

    expect(codes(await first.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, from(address)))).toEqual(["RATE_LIMITED"]);
    expect(codes(await second.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, from(address)))).toEqual([
      "RATE_LIMITED",
    ]);
  });
});

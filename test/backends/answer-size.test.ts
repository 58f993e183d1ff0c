/**
 * Issue 14: a backend answer's body is capped (BACKEND_MAX_RESPONSE_BYTES), counted after
 * decompression as it streams in. Each endpoint gets a gzip bomb and an oversized plain body
 * from a hostile stand-in backend; the gateway runs as a process of its own, so its resident
 * memory can be read from /proc and must barely move.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type SimulatorHandle } from "../../src/simulators/index.js";
import { CreateSessionDocument, SelectRoleDocument, SigninDocument, SignoutDocument } from "../generated/operations.js";
import { GatewayProcess } from "../support/gateway-process.js";
import { idpUser, spineUser, type GraphQLResult } from "../support/harness.js";
import { HostileBackend, type Hostility, type Route } from "../support/hostile-backend.js";
import { waitFor } from "../support/wait.js";

/** Growth of the gateway's resident memory allowed per hostile answer: the cap (256 KiB) and a chunk, with room for the allocator's noise. */
const RSS_GROWTH_LIMIT_KIB = 16 * 1024;
const SIGNOUT_FAILED = "backend sign-out failed; gateway session ended anyway";

interface Endpoint {
  route: Route;
  backend: "SPINE" | "IDP";
  /** A session the call needs, made while nothing is armed. */
  prepare(gateway: GatewayProcess): Promise<string | undefined>;
  act(gateway: GatewayProcess, token: string | undefined, requestId: string): Promise<GraphQLResult<unknown>>;
  /** Sign-out ends the gateway session whatever the backend does: the client is told it ended. */
  signout?: true;
}

async function spineSession(gateway: GatewayProcess): Promise<string> {
  const opened = await gateway.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
  expect(opened.errors).toBeUndefined();
  return opened.data!.createSession.token!;
}

async function idpSession(gateway: GatewayProcess): Promise<string> {
  const opened = await gateway.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
  expect(opened.errors).toBeUndefined();
  return opened.data!.signin.token!;
}

const endpoints: Endpoint[] = [
  {
    route: "A001",
    backend: "SPINE",
    prepare: async () => undefined,
    act: (gateway) => gateway.execute(CreateSessionDocument, { token: spineUser.smartcardToken }),
  },
  {
    route: "A002",
    backend: "SPINE",
    prepare: spineSession,
    act: (gateway, token) => gateway.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token }),
  },
  {
    route: "A003",
    backend: "SPINE",
    prepare: spineSession,
    act: (gateway, token, requestId) => gateway.execute(SignoutDocument, {}, { token, headers: { "x-request-id": requestId } }),
    signout: true,
  },
  {
    route: "signin",
    backend: "IDP",
    prepare: async () => undefined,
    act: (gateway) => gateway.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
  },
  // Sign-in reaches the IdP, then reads the user's info: that read gets the hostile answer.
  {
    route: "userinfo",
    backend: "IDP",
    prepare: async () => undefined,
    act: (gateway) => gateway.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }),
  },
  {
    route: "signout",
    backend: "IDP",
    prepare: idpSession,
    act: (gateway, token, requestId) => gateway.execute(SignoutDocument, {}, { token, headers: { "x-request-id": requestId } }),
    signout: true,
  },
];

const hostilities: Hostility[] = ["gzip bomb", "oversized body"];

describe("a backend answer larger than BACKEND_MAX_RESPONSE_BYTES", () => {
  let spine: SimulatorHandle;
  let idp: SimulatorHandle;
  let hostileSpine: HostileBackend;
  let hostileIdp: HostileBackend;
  let gateway: GatewayProcess;
  let requests = 0;
  /** What each case measured, printed once at the end for the report. */
  const figures: string[] = [];

  beforeAll(async () => {
    spine = await startSpineSimulator();
    idp = await startIdpSimulator();
    hostileSpine = await HostileBackend.start(spine.url);
    hostileIdp = await HostileBackend.start(idp.url);
    gateway = await GatewayProcess.start("answer-size", {
      SPINE_URL: hostileSpine.url,
      SPINE_ASID: SPINE_DEMO.asid,
      IDP_URL: hostileIdp.url,
      IDP_CLIENT_ID: IDP_DEMO.clientId,
      IDP_API_TOKEN: IDP_DEMO.apiToken,
      USER_INFO_CACHE_TTL_SECONDS: "0",
    });
    // Every flow once before anything is measured: code paths compiled, pools and caches warm.
    for (const endpoint of endpoints) await endpoint.act(gateway, await endpoint.prepare(gateway), `warm-${endpoint.route}`);
  });
  afterAll(async () => {
    if (figures.length > 0) process.stdout.write(`${figures.join("\n")}\n`);
    await gateway?.kill();
    await Promise.all([hostileSpine?.close(), hostileIdp?.close(), spine?.close(), idp?.close()]);
  });

  describe.each(endpoints)("on $route", (endpoint) => {
    it.each(hostilities)("is refused as UPSTREAM_BAD_RESPONSE when it is a %s, with the gateway's memory barely moving", async (hostility) => {
      const hostile = endpoint.backend === "SPINE" ? hostileSpine : hostileIdp;
      const token = await endpoint.prepare(gateway);
      const requestId = `hostile-${++requests}`;
      const before = gateway.residentKib();
      hostile.arm(endpoint.route, hostility);
      try {
        const result = await endpoint.act(gateway, token, requestId);
        const growthKib = gateway.residentKib() - before;
        const body = await hostile.lastHostileBody;
        figures.push(`${endpoint.route} ${hostility}: RSS ${before} KiB -> +${growthKib} KiB, backend wrote ${body.bytesSent} bytes`);

        if (endpoint.signout) {
          // The session ends anyway; the refused answer is logged for an operator, as BAD_RESPONSE.
          expect(result.errors).toBeUndefined();
          expect(result.data).toEqual({ signout: true });
          const warning = await warned(gateway, requestId);
          expect(warning).toContain("BAD_RESPONSE");
        } else {
          expect(result.errors?.map((error) => error.extensions)).toEqual([{ code: "UPSTREAM_BAD_RESPONSE", backend: endpoint.backend }]);
        }
        expect(growthKib).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
        // The plain body is far larger than any socket buffer: the gateway hung up long before its end.
        if (hostility === "oversized body") expect(body.cutShort).toBe(true);
      } finally {
        hostile.disarm();
      }
    });
  });

  it("counts as a backend fault: five in a row open the backend's circuit, and the next call does not reach it", async () => {
    // From a success, which clears any failures counted before.
    expect((await endpoints[0]!.act(gateway, undefined, "")).errors).toBeUndefined();
    hostileSpine.arm("A001", "oversized body");
    try {
      for (let i = 0; i < 5; i++)
        expect((await endpoints[0]!.act(gateway, undefined, "")).errors?.[0]?.extensions?.["code"]).toBe("UPSTREAM_BAD_RESPONSE");
      hostileSpine.resetCalls();

      const refused = await endpoints[0]!.act(gateway, undefined, "");

      expect(refused.errors?.[0]?.extensions).toEqual({ code: "UPSTREAM_UNAVAILABLE", backend: "SPINE" });
      expect(hostileSpine.calls("A001")).toBe(0);
    } finally {
      hostileSpine.disarm();
    }
  });
});

/** The sign-out warning of one request, once the gateway has written it (its log is buffered up to 100 ms). */
function warned(gateway: GatewayProcess, requestId: string): Promise<string> {
  return waitFor(() => gateway.output.split("\n").find((candidate) => candidate.includes(requestId) && candidate.includes(SIGNOUT_FAILED)), {
    what: `a sign-out warning for ${requestId}`,
  });
}

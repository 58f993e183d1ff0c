import { IDP_DEMO, SPINE_DEMO, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";

/** A fully read answer. `json` is undefined when the body is not JSON. */
export interface Reply {
  status: number;
  contentType: string | null;
  text: string;
  json: unknown;
}

export async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get("content-type"), text, json };
}

export const PROFESSIONAL_SESSION = "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession";
export const [GP, MULTI_ROLE, UNCATALOGUED] = SPINE_DEMO.users as [
  (typeof SPINE_DEMO.users)[number],
  (typeof SPINE_DEMO.users)[number],
  (typeof SPINE_DEMO.users)[number],
];

/** A Spine call as the gateway should make it; `headers` adds to or (with undefined) removes the defaults. */
export function spine(
  sim: SpineSimulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string | undefined> = {},
): Promise<Reply> {
  const all: Record<string, string | undefined> = {
    XAPI_ASID: sim.asid,
    Accept: "application/json",
    ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    ...headers,
  };
  return send(sim.url + path, {
    method,
    headers: definedOnly(all),
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

/** A001 for a smartcard token; returns the reply. */
export function createSession(sim: SpineSimulator, token: string = GP.smartcardToken): Promise<Reply> {
  return spine(sim, "POST", "/v1/ProfessionalSession", { typeInfo: PROFESSIONAL_SESSION, token });
}

/** The session key of a successful A001. */
export async function sessionKeyOf(sim: SpineSimulator, token: string = GP.smartcardToken): Promise<string> {
  const reply = await createSession(sim, token);
  if (reply.status !== 201) throw new Error(`A001 answered ${reply.status}: ${reply.text}`);
  return (reply.json as { id: string }).id;
}

/** An IdP call with the organisation's headers; `headers` adds to or (with undefined) removes them. */
export function idp(
  sim: IdpSimulator,
  method: string,
  path: string,
  form?: Record<string, string>,
  headers: Record<string, string | undefined> = {},
): Promise<Reply> {
  const all: Record<string, string | undefined> = {
    client_id: sim.clientId,
    "X-Auth-Token": sim.apiToken,
    ...(form === undefined ? {} : { "Content-Type": "application/x-www-form-urlencoded" }),
    ...headers,
  };
  return send(sim.url + path, {
    method,
    headers: definedOnly(all),
    ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
  });
}

export const [PROVIDER, SUPERVISOR, INACTIVE] = IDP_DEMO.users as [
  (typeof IDP_DEMO.users)[number],
  (typeof IDP_DEMO.users)[number],
  (typeof IDP_DEMO.users)[number],
];

/** Signs a demo user in; returns the reply. */
export function signIn(sim: IdpSimulator, user: { email: string; password: string } = PROVIDER): Promise<Reply> {
  return idp(sim, "POST", "/api/1.0/sso/signin", { email: user.email, password: user.password });
}

/** The access token of a successful sign-in. */
export async function accessTokenOf(sim: IdpSimulator, user: { email: string; password: string } = PROVIDER): Promise<string> {
  const reply = await signIn(sim, user);
  if (reply.status !== 200) throw new Error(`sign-in answered ${reply.status}: ${reply.text}`);
  return (reply.json as { access_token: string }).access_token;
}

function definedOnly(headers: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}

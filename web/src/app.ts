/**
 * The example app: Spine sign-in with a smartcard token and a role picker, IdP sign-in with
 * email and password, a panel with `me` and `session`, sign-out. Plain DOM, no framework.
 */
import { execute, GatewayRequestError, holdToken } from "./api.js";
import {
  AppCreateSessionDocument,
  AppMeAndSessionDocument,
  AppSelectRoleDocument,
  AppSigninDocument,
  AppSignoutDocument,
  type AppMeAndSessionQuery,
  type AppPermissionFragment,
  type AppSessionFragment,
} from "./graphql.js";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

const views = { signin: element("signin"), roles: element("roles"), panel: element("panel") };
const status = element("status");
const errorLine = element("error");

function show(view: keyof typeof views): void {
  for (const [name, section] of Object.entries(views)) section.hidden = name !== view;
}

/** Runs one user action: disables the page's buttons meanwhile and shows a refusal in words. */
async function act(label: string, work: () => Promise<void>): Promise<void> {
  errorLine.textContent = "";
  status.textContent = `${label}…`;
  const buttons = [...document.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    await work();
  } catch (error) {
    errorLine.textContent = error instanceof GatewayRequestError ? `${error.message} (${error.code})` : "The gateway could not be reached.";
    status.textContent = "";
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

function describePermission(permission: AppPermissionFragment): string {
  return `${permission.businessFunction} at ${permission.orgIdentifier}${permission.orgName === null ? "" : ` (${permission.orgName})`}`;
}

/** A Spine session without a role yet: one button per permission the user holds. */
function pickRole(session: AppSessionFragment): void {
  element("roles-user").textContent = session.user.displayName;
  const list = element("role-list");
  list.replaceChildren(
    ...session.user.permissions.map((permission) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "role";
      button.textContent = describePermission(permission);
      button.addEventListener(
        "click",
        () =>
          // act reports every failure on the page itself, so nothing is left to await.
          void act("Selecting the role", async () => {
            const { selectRole } = await execute(AppSelectRoleDocument, {
              businessFunction: permission.businessFunction,
              orgIdentifier: permission.orgIdentifier,
            });
            holdToken(selectRole.token);
            await refresh();
          }),
      );
      const item = document.createElement("li");
      item.append(button);
      return item;
    }),
  );
  status.textContent = "Signed in to Spine: choose a role.";
  show("roles");
}

function row(name: string, value: string): HTMLElement[] {
  const term = document.createElement("dt");
  term.textContent = name;
  const detail = document.createElement("dd");
  detail.textContent = value;
  return [term, detail];
}

function showPanel({ me, session }: AppMeAndSessionQuery): void {
  if (me === null || session === null) {
    status.textContent = "Not signed in.";
    show("signin");
    return;
  }
  element("panel-summary").replaceChildren(
    ...row("User", `${me.displayName} (${me.id})`),
    ...row("Provider", session.provider),
    ...(session.provider === "SPINE" ? row("Role", session.permission === null ? "none" : describePermission(session.permission)) : []),
    ...(session.provider === "IDP" ? row("Groups", me.groups.join(", ") || "none") : []),
    ...(session.provider === "IDP" ? row("Profiles", me.profiles.map((profile) => `${profile.type} ${profile.id}`).join(", ") || "none") : []),
    ...row("Session ends", new Date(session.expiresAt).toLocaleString()),
  );
  element("me").textContent = JSON.stringify(me, null, 2);
  element("session").textContent = JSON.stringify(session, null, 2);
  status.textContent = `Signed in as ${me.displayName}.`;
  show("panel");
}

/** Asks the gateway who is signed in (the cookie says, not this page) and shows the matching view. */
async function refresh(): Promise<void> {
  const answer = await execute(AppMeAndSessionDocument, {});
  if (answer.session !== null && answer.session.provider === "SPINE" && !answer.session.roleSelected) pickRole(answer.session);
  else showPanel(answer);
}

element<HTMLFormElement>("spine-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = element<HTMLInputElement>("spine-token");
  void act("Signing in to Spine", async () => {
    const { createSession } = await execute(AppCreateSessionDocument, { token: token.value.trim() });
    token.value = "";
    holdToken(createSession.token);
    pickRole(createSession.session);
  });
});

element<HTMLFormElement>("idp-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const email = element<HTMLInputElement>("idp-email");
  const password = element<HTMLInputElement>("idp-password");
  void act("Signing in", async () => {
    const { signin } = await execute(AppSigninDocument, { email: email.value.trim(), password: password.value });
    password.value = "";
    holdToken(signin.token);
    await refresh();
  });
});

element("signout").addEventListener(
  "click",
  () =>
    // act reports every failure on the page itself, so nothing is left to await.
    void act("Signing out", async () => {
      await execute(AppSignoutDocument, {});
      holdToken(null);
      show("signin");
      status.textContent = "Signed out.";
    }),
);

/** The simulators' demo users, if the gateway runs on them (it serves this file only then). */
interface DemoUsers {
  spine: Array<{ label: string; smartcardToken: string }>;
  idp: Array<{ label: string; email: string; password: string }>;
}

/** One button per demo user that fills the form in: nothing to copy from the terminal. */
function demoButtons(containerId: string, users: Array<{ label: string }>, fill: (index: number) => void): void {
  const container = element(containerId);
  container.append(
    ...users.map((user, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "demo-fill";
      button.textContent = user.label;
      button.addEventListener("click", () => fill(index));
      return button;
    }),
  );
  container.hidden = users.length === 0;
}

async function offerDemoUsers(): Promise<void> {
  const response = await fetch("demo-users.json", { credentials: "same-origin" });
  // 404 in front of real backends: no quick-fill then.
  if (!response.ok) return;
  const demo = (await response.json()) as DemoUsers;
  demoButtons("spine-demo", demo.spine, (index) => {
    element<HTMLInputElement>("spine-token").value = demo.spine[index]!.smartcardToken;
  });
  demoButtons("idp-demo", demo.idp, (index) => {
    element<HTMLInputElement>("idp-email").value = demo.idp[index]!.email;
    element<HTMLInputElement>("idp-password").value = demo.idp[index]!.password;
  });
}

// Quick-fill is a convenience: if it cannot be had, the forms work as they are.
void offerDemoUsers().catch(() => undefined);
void act("Loading", refresh);

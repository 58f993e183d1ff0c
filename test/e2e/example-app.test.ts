/**
 * The example app (web/) in real headless Chromium against the gateway in cookie mode and both
 * simulators: each flow click by click from sign-in to sign-out, the session cookie as the
 * browser keeps it (and page scripts cannot see it), a page of an unlisted origin trying a
 * credentialed call, and a cross-site form POST. Screenshots of each step go to
 * SCREENSHOT_DIR (default /tmp/screens), outside the repository.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdirSync } from "node:fs";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type BrowserContext, type Cookie, type Page } from "playwright-core";
import { describeWithChromium } from "../support/browser.js";
import { SPINE_DEMO } from "../../src/simulators/index.js";
import { idpUser, spineUser, Stack } from "../support/harness.js";

const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? "/tmp/screens";
const SESSION_COOKIE = "__Host-session";

/**
 * Another web server, for pages of other origins: `/fetch` tries a credentialed call to the
 * gateway and shows what it could read; `/form` holds a form posting a signout mutation to it.
 */
async function otherOrigin(gateway: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const gatewayUrl = gateway();
    const page = (req.url ?? "/").startsWith("/form")
      ? `<form id="forged" method="POST" action="${gatewayUrl}/graphql" enctype="text/plain">
           <input name='{"query":"mutation { signout }","padding":"' value='"}' />
           <button type="submit">Win a prize</button>
         </form>`
      : `<pre id="result">pending</pre>
         <script>
           fetch(${JSON.stringify(`${gatewayUrl}/graphql`)}, {
             method: "POST",
             credentials: "include",
             headers: { "content-type": "application/json" },
             body: JSON.stringify({ query: "{ session { id provider user { displayName } } }" }),
           })
             .then((response) => response.text())
             .then((text) => { document.getElementById("result").textContent = "read: " + text; })
             .catch((error) => { document.getElementById("result").textContent = "blocked: " + error.message; });
         </script>`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html><body><h1>Page of ${req.headers.host}</h1>${page}</body></html>`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

describeWithChromium("the example app in Chromium (cookie mode)", (executablePath) => {
  let stack: Stack;
  let browser: Browser;
  let listed: { server: Server; port: number };
  let unlisted: { server: Server; port: number };
  let gatewayOrigin: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // The listed origin's server exists before the gateway, whose settings name it.
    listed = await otherOrigin(() => gatewayOrigin);
    unlisted = await otherOrigin(() => gatewayOrigin);
    stack = await Stack.start({ env: { SESSION_COOKIE: "on", CORS_ORIGINS: `http://127.0.0.1:${listed.port}` }, demoUsers: true });
    gatewayOrigin = stack.url;
    browser = await chromium.launch({ executablePath, headless: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    listed?.server.close();
    unlisted?.server.close();
    await stack?.close();
  });

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png`, fullPage: true });
  }

  async function sessionCookie(context: BrowserContext): Promise<Cookie | undefined> {
    return (await context.cookies(gatewayOrigin)).find((cookie) => cookie.name === SESSION_COOKIE);
  }

  /** The cookie as the browser keeps it: every attribute the issue asks for. */
  async function expectSessionCookie(context: BrowserContext, page: Page): Promise<Cookie> {
    const cookie = await sessionCookie(context);
    expect(cookie).toMatchObject({ name: SESSION_COOKIE, domain: "127.0.0.1", path: "/", httpOnly: true, secure: true, sameSite: "Strict" });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000);
    // Page scripts see no cookie at all: not the session's name, not its value.
    const visible = await page.evaluate<string>("document.cookie");
    expect(visible).not.toContain(SESSION_COOKIE);
    expect(visible).not.toContain(cookie!.value);
    expect(visible).toBe("");
    return cookie!;
  }

  async function signInToSpine(page: Page): Promise<void> {
    await page.goto(`${gatewayOrigin}/app/`);
    await page.locator("#signin").waitFor({ state: "visible" });
    await page.fill("#spine-token", spineUser.smartcardToken);
    await page.click("#spine-form button[type=submit]");
    await page.locator("#roles").waitFor({ state: "visible" });
  }

  it("signs in to Spine, picks a role, shows me and session, and signs out", async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    try {
      await page.goto(`${gatewayOrigin}/app/`);
      await page.locator("#signin").waitFor({ state: "visible" });
      await page.fill("#spine-token", spineUser.smartcardToken);
      await shot(page, "spine-1-signin");

      await page.click("#spine-form button[type=submit]");
      await page.locator("#roles").waitFor({ state: "visible" });
      const roles = await page.locator("#role-list button").allTextContents();
      expect(roles).toEqual(spineUser.permissions.map((p) => `${p.businessFunction} at ${p.orgIdentifier} (${p.orgName})`));
      const first = await expectSessionCookie(context, page);
      await shot(page, "spine-2-role-picker");

      const [permission] = spineUser.permissions;
      await page.click(`#role-list button:has-text("${permission!.businessFunction} at ${permission!.orgIdentifier}")`);
      await page.locator("#panel").waitFor({ state: "visible" });
      const summary = await page.locator("#panel-summary").innerText();
      expect(summary).toContain(`${permission!.businessFunction} at ${permission!.orgIdentifier}`);
      expect(summary).toContain("SPINE");
      expect(JSON.parse(await page.locator("#session").innerText())).toMatchObject({
        provider: "SPINE",
        roleSelected: true,
        permission: { businessFunction: permission!.businessFunction },
      });
      expect(JSON.parse(await page.locator("#me").innerText())).toMatchObject({ id: `spine:${spineUser.identifier}` });
      // The role change rotated the token: the browser holds the new cookie, the old value is dead.
      const rotated = await expectSessionCookie(context, page);
      expect(rotated.value).not.toBe(first.value);
      expect((await stack.post({ query: "{ session { id } }" }, { token: first.value })).data.session).toBeNull();
      await shot(page, "spine-3-panel");

      await page.click("#signout");
      await page.locator("#signin").waitFor({ state: "visible" });
      expect(await page.locator("#status").innerText()).toBe("Signed out.");
      expect(await sessionCookie(context)).toBeUndefined();
      expect((await stack.post({ query: "{ session { id } }" }, { token: rotated.value })).data.session).toBeNull();
      await shot(page, "spine-4-signed-out");

      // A reload asks the gateway, which no longer knows of a session.
      await page.reload();
      await page.locator("#signin").waitFor({ state: "visible" });
    } finally {
      await context.close();
    }
  });

  it("signs in to the IdP, shows groups and profiles, and signs out", async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    try {
      await page.goto(`${gatewayOrigin}/app/`);
      await page.locator("#signin").waitFor({ state: "visible" });
      await page.fill("#idp-email", idpUser.email);
      await page.fill("#idp-password", idpUser.password);
      await shot(page, "idp-1-signin");

      await page.click("#idp-form button[type=submit]");
      await page.locator("#panel").waitFor({ state: "visible" });
      const cookie = await expectSessionCookie(context, page);
      const me = JSON.parse(await page.locator("#me").innerText()) as {
        provider: string;
        groups: string[];
        profiles: Array<{ type: string }>;
        email: string;
      };
      expect(me).toMatchObject({ provider: "IDP", email: idpUser.email });
      expect(me.groups.length).toBeGreaterThan(0);
      expect(me.profiles.length).toBeGreaterThan(0);
      const summary = await page.locator("#panel-summary").innerText();
      expect(summary).toContain("IDP");
      expect(summary).toContain(me.groups[0]!);
      // Neither the password nor the session token is anywhere on the page.
      const html = await page.content();
      expect(html).not.toContain(idpUser.password);
      expect(html).not.toContain(cookie.value);
      await shot(page, "idp-2-panel");

      await page.reload();
      await page.locator("#panel").waitFor({ state: "visible" });

      await page.click("#signout");
      await page.locator("#signin").waitFor({ state: "visible" });
      expect(await sessionCookie(context)).toBeUndefined();
      expect((await stack.post({ query: "{ session { id } }" }, { token: cookie.value })).data.session).toBeNull();
      await shot(page, "idp-3-signed-out");
    } finally {
      await context.close();
    }
  });

  /**
   * What sticks out: the page wider than the window, or any element of a shown card (section)
   * whose right edge passes the card's. A string, evaluated in the page (no DOM types here).
   */
  const OVERFLOWS = `(() => {
    const problems = [];
    const page = document.documentElement.scrollWidth;
    if (page > innerWidth) problems.push("page " + page + " px wide in a " + innerWidth + " px window");
    for (const card of document.querySelectorAll("section:not([hidden])")) {
      const edge = card.getBoundingClientRect().right;
      for (const element of card.querySelectorAll("*")) {
        const box = element.getBoundingClientRect();
        if (box.width > 0 && box.right > edge + 0.5) problems.push(element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") + " ends at " + Math.round(box.right) + ", its card at " + Math.round(edge));
      }
    }
    return problems;
  })()`;

  it.each([
    ["phone", 390, 844],
    ["desktop", 1280, 800],
  ])("on a %s (%i px) nothing sticks out, demo users fill the form in, and no request is a 404", async (name, width, height) => {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const missing: string[] = [];
    page.on("response", (response) => {
      if (response.status() === 404) missing.push(response.url());
    });
    try {
      await page.goto(`${gatewayOrigin}/app/`);
      await page.locator("#signin").waitFor({ state: "visible" });
      await page.locator("#idp-demo button").first().waitFor({ state: "visible" });
      expect(await page.locator("#spine-demo button").allTextContents()).toEqual(SPINE_DEMO.users.map((user) => user.label));
      expect(await page.evaluate<string[]>(OVERFLOWS)).toEqual([]);
      // One column on the phone: the IdP form below the Spine form, not beside it.
      const [spineForm, idpForm] = [await page.locator("#spine-form").boundingBox(), await page.locator("#idp-form").boundingBox()];
      expect(idpForm!.y > spineForm!.y + spineForm!.height).toBe(width < 640);
      await shot(page, `layout-${name}-1-signin`);

      await page.locator("#idp-demo button", { hasText: idpUser.label }).click();
      expect(await page.inputValue("#idp-email")).toBe(idpUser.email);
      await page.click("#idp-form button[type=submit]");
      await page.locator("#panel").waitFor({ state: "visible" });
      expect(await page.evaluate<string[]>(OVERFLOWS)).toEqual([]);
      await shot(page, `layout-${name}-2-panel`);

      await page.click("#signout");
      await page.locator("#signin").waitFor({ state: "visible" });
      await page.locator("#spine-demo button").first().click();
      expect(await page.inputValue("#spine-token")).toBe(SPINE_DEMO.users[0]!.smartcardToken);
      expect(missing).toEqual([]);
    } finally {
      await context.close();
    }
  });

  describe("pages of other origins", () => {
    let context: BrowserContext;
    let page: Page;
    let cookie: Cookie;
    beforeAll(async () => {
      context = await browser.newContext({ viewport: { width: 900, height: 500 } });
      page = await context.newPage();
      await signInToSpine(page);
      cookie = await expectSessionCookie(context, page);
    });
    afterAll(() => context?.close());

    async function stillSignedIn(): Promise<boolean> {
      return (await stack.post({ query: "{ session { id } }" }, { token: cookie.value })).data.session !== null;
    }

    it("a page of an unlisted origin cannot make a credentialed call, nor read anything of the session", async () => {
      const other = await context.newPage();
      await other.goto(`http://127.0.0.1:${unlisted.port}/fetch`);
      await other.waitForFunction('document.getElementById("result").textContent !== "pending"');
      const result = await other.locator("#result").innerText();
      await shot(other, "origin-1-unlisted-blocked");
      await other.close();

      expect(result).toMatch(/^blocked: /);
      expect(result).not.toContain("SPINE");
      expect(result).not.toContain(spineUser.firstName);
      expect(await stillSignedIn()).toBe(true);
    });

    it("a page of a listed origin can (the same rules let it through)", async () => {
      const other = await context.newPage();
      await other.goto(`http://127.0.0.1:${listed.port}/fetch`);
      await other.waitForFunction('document.getElementById("result").textContent !== "pending"');
      const result = await other.locator("#result").innerText();
      await shot(other, "origin-2-listed-allowed");
      await other.close();

      expect(result).toMatch(/^read: /);
      expect(JSON.parse(result.slice("read: ".length))).toMatchObject({ data: { session: { provider: "SPINE" } } });
    });

    it.each([
      ["the same site (another port of 127.0.0.1), where the cookie is sent", () => `http://127.0.0.1:${unlisted.port}/form`],
      ["another site (localhost), where SameSite=Strict withholds the cookie", () => `http://localhost:${unlisted.port}/form`],
    ])("a form POST from %s changes nothing", async (_where, url) => {
      const other = await context.newPage();
      await other.goto(url());
      await Promise.all([other.waitForURL(`${gatewayOrigin}/graphql`), other.click("#forged button")]);
      const answer = await other.locator("body").innerText();
      await shot(other, `csrf-form-post-${url().includes("localhost") ? "cross-site" : "same-site"}`);
      await other.close();

      // Apollo's CSRF prevention refuses a form's content types before anything runs.
      expect(answer).toContain("Cross-Site Request Forgery");
      expect(await stillSignedIn()).toBe(true);
      expect((await sessionCookie(context))?.value).toBe(cookie.value);
    });

    it("the app still shows the session afterwards", async () => {
      await page.reload();
      await page.locator("#panel, #roles").first().waitFor({ state: "visible" });
      expect(await page.locator("#roles").isVisible()).toBe(true);
      await shot(page, "origin-3-app-still-signed-in");
    });
  });
});

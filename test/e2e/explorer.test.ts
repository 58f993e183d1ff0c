/**
 * The explorer (/explorer/, GraphiQL bundled into the gateway) and the Sandbox page's offline
 * state in real headless Chromium, with every request beyond loopback refused, as on a health
 * network without internet: the Sandbox page links to the explorer, which loads, shows the
 * schema's docs, and runs `me` with the cookie of a sign-in in the same browser, or with a
 * bearer token from its headers editor. Screenshots go to SCREENSHOT_DIR (default /tmp/screens).
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { describeWithChromium } from "../support/browser.js";
import { idpUser, Stack } from "../support/harness.js";

const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? "/tmp/screens";
const SESSION_COOKIE = "__Host-session";

/** The page's DOM as the functions evaluated in it see it (this project compiles without DOM types). */
type PageGlobal = { document: { querySelector(css: string): unknown } };
type Editor = { CodeMirror: { setValue(value: string): void; getValue(): string } };

/** A browser context that reaches loopback only; what it tried to fetch elsewhere is listed. */
async function offlineContext(browser: Browser): Promise<{ context: BrowserContext; refused: string[]; consoleErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Well within the test's own limit, so that a step that never happens is named.
  context.setDefaultTimeout(8_000);
  const refused: string[] = [];
  const consoleErrors: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    refused.push(url.href);
    return route.abort("internetdisconnected");
  });
  context.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  return { context, refused, consoleErrors };
}

/** Puts a document into one of GraphiQL's CodeMirror 5 editors, as typing it would. */
async function setEditor(page: Page, selector: string, value: string): Promise<void> {
  await page.locator(selector).waitFor({ state: "visible" });
  await page.evaluate(([css, text]) => ((globalThis as unknown as PageGlobal).document.querySelector(css) as Editor).CodeMirror.setValue(text), [
    selector,
    value,
  ] as const);
}

/** Runs the query editor's operation and returns what the response pane shows, once it shows something. */
async function run(page: Page, query: string): Promise<string> {
  await setEditor(page, ".graphiql-query-editor .CodeMirror", query);
  await page.click(".graphiql-execute-button");
  const response = ".graphiql-response .CodeMirror";
  await page.waitForFunction(
    (css) => ((globalThis as unknown as PageGlobal).document.querySelector(css) as Editor).CodeMirror.getValue().includes('"data"'),
    response,
  );
  return page.evaluate((css) => ((globalThis as unknown as PageGlobal).document.querySelector(css) as Editor).CodeMirror.getValue(), response);
}

async function openExplorer(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/explorer/`);
  await page.locator(".graphiql-container").waitFor({ state: "visible" });
}

describeWithChromium("the explorer in Chromium, offline (cookie mode)", (executablePath) => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    stack = await Stack.start({ env: { SESSION_COOKIE: "on" } });
    browser = await chromium.launch({ executablePath, headless: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("the Sandbox page, unable to load Sandbox, links to the explorer, and the link opens it", async () => {
    const { context, refused } = await offlineContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${stack.url}/graphql`);
      const link = page.locator("#offline-explorer a", { hasText: "GraphiQL explorer" });
      await link.waitFor({ state: "visible" });
      // Sandbox's script was asked of the internet and refused: this is the offline state.
      expect(refused.some((url) => url.includes("sandbox"))).toBe(true);
      // The message fades in after a second; the screenshot need not wait for it.
      await page.evaluate("document.getAnimations().forEach((animation) => animation.finish())");
      await page.screenshot({ path: `${SCREENSHOT_DIR}/sandbox-offline.png` });

      await link.click();
      await page.waitForURL(`${stack.url}/explorer/`);
      await page.locator(".graphiql-container").waitFor({ state: "visible" });
    } finally {
      await context.close();
    }
  });

  it("loads with nothing from beyond loopback and no CSP violation, and shows the schema's docs", async () => {
    const { context, refused, consoleErrors } = await offlineContext(browser);
    try {
      const page = await context.newPage();
      await openExplorer(page, stack.url);
      await page.click('button[aria-label="Show Documentation Explorer"]');
      await page.locator(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name", { hasText: "Query" }).first().click();
      const me = page.locator(".graphiql-doc-explorer-content a.graphiql-doc-explorer-field-name", { hasText: /^me$/ });
      await me.waitFor({ state: "visible" });
      await page.screenshot({ path: `${SCREENSHOT_DIR}/explorer-offline-docs.png` });

      expect(await page.locator(".graphiql-doc-explorer-content").innerText()).toContain("session");
      expect(refused).toEqual([]);
      expect(consoleErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("runs `me` with the session cookie of a sign-in in the same browser", async () => {
    const { context, refused } = await offlineContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${stack.url}/app/`);
      await page.locator("#signin").waitFor({ state: "visible" });
      await page.fill("#idp-email", idpUser.email);
      await page.fill("#idp-password", idpUser.password);
      await page.click("#idp-form button[type=submit]");
      await page.locator("#panel").waitFor({ state: "visible" });

      await openExplorer(page, stack.url);
      const answer = JSON.parse(await run(page, "{ me { displayName provider email } }")) as { data: { me: unknown } };
      await page.screenshot({ path: `${SCREENSHOT_DIR}/explorer-offline-me.png` });

      expect(answer.data.me).toEqual({ displayName: idpUser.userInfo["name"], provider: "IDP", email: idpUser.email });
      expect(refused).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("runs `me` with a bearer token given in the headers editor, and without it finds nobody", async () => {
    // A session opened elsewhere (its token is the cookie's value); this browser holds no cookie.
    const signedIn = await browser.newContext();
    const page0 = await signedIn.newPage();
    await page0.goto(`${stack.url}/app/`);
    await page0.locator("#signin").waitFor({ state: "visible" });
    await page0.fill("#idp-email", idpUser.email);
    await page0.fill("#idp-password", idpUser.password);
    await page0.click("#idp-form button[type=submit]");
    await page0.locator("#panel").waitFor({ state: "visible" });
    const token = (await signedIn.cookies(stack.url)).find((cookie) => cookie.name === SESSION_COOKIE)!.value;
    await signedIn.close();

    const { context } = await offlineContext(browser);
    try {
      const page = await context.newPage();
      await openExplorer(page, stack.url);
      expect(JSON.parse(await run(page, "{ me { displayName } }"))).toEqual({ data: { me: null } });

      await page.locator(".graphiql-editor-tools button", { hasText: "Headers" }).click();
      await setEditor(
        page,
        'section[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror',
        JSON.stringify({ Authorization: `Bearer ${token}` }),
      );
      const answer = JSON.parse(await run(page, "{ me { displayName } }")) as { data: { me: unknown } };

      expect(answer.data.me).toEqual({ displayName: idpUser.userInfo["name"] });
    } finally {
      await context.close();
    }
  });
});

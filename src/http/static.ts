import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import type { DemoUsers } from "../simulators/index.js";
import { sendJson } from "./json-response.js";

/** Where the example app is served. */
export const APP_PATH = "/app/";
/** Where the self-hosted GraphiQL explorer is served. */
export const EXPLORER_PATH = "/explorer/";
/** The demo users' quick-fill data, served only while the gateway runs on its simulators. */
const DEMO_USERS_PATH = `${APP_PATH}demo-users.json`;

const TYPES = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
} as const;
type Extension = keyof typeof TYPES;

/**
 * The app's pages may load only their own scripts and styles and talk only to this origin:
 * an injected script could not send anything elsewhere, nor could the app be framed.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The same for the explorer, which in addition needs the fonts and icons GraphiQL's stylesheet
 * carries inline as `data:` URLs (they hold no script, and nothing is fetched from elsewhere).
 */
const EXPLORER_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self'", "img-src 'self' data:; font-src 'self' data:");

interface WebSitesOptions {
  /** The repository root, holding web/ and the built dist/web/. */
  root?: string;
  /** Set only when the gateway runs on its simulators: the demo credentials the banner prints. */
  demoUsers?: DemoUsers;
}

/** Serves one request if its path belongs to a site; false when it does not (the caller answers 404). */
export type WebSites = (res: ServerResponse, path: string) => Promise<boolean>;

/**
 * The browser pages of a gateway outside production: the example app (web/) under `/app/`, the
 * GraphiQL explorer (web/explorer, bundled by `npm run build`) under `/explorer/`, the favicon,
 * and in simulator mode the demo users' quick-fill data.
 */
export function webSites(options: WebSitesOptions = {}): WebSites {
  const root = options.root ?? repositoryRoot();
  const web = join(root, "web");
  const built = join(root, "dist", "web");
  const app = staticSite(APP_PATH, { html: web, css: web, svg: web, js: built }, CONTENT_SECURITY_POLICY, built);
  // The explorer's stylesheet is GraphiQL's, bundled with its script.
  const explorer = staticSite(
    EXPLORER_PATH,
    { html: join(web, "explorer"), css: join(built, "explorer"), js: join(built, "explorer") },
    EXPLORER_CONTENT_SECURITY_POLICY,
    built,
  );
  const demoUsers = options.demoUsers === undefined ? undefined : JSON.stringify(options.demoUsers);
  return async (res, path) => {
    if (path === DEMO_USERS_PATH && demoUsers !== undefined) {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
      res.end(demoUsers);
    } else if (path === "/favicon.ico") {
      // Browsers ask for it whatever the page says; the app's icon answers rather than a 404.
      await app(res, `${APP_PATH}favicon.svg`);
    } else if (within(path, APP_PATH)) {
      await app(res, path);
    } else if (within(path, EXPLORER_PATH)) {
      await explorer(res, path);
    } else {
      return false;
    }
    return true;
  };
}

function within(path: string, mount: string): boolean {
  return path === mount.slice(0, -1) || path.startsWith(mount);
}

/**
 * One site under `mount`: each extension's files from its folder (the written ones from web/,
 * the compiled ones from `built`, dist/web/). Only names of one path segment with a known
 * extension are looked up, so no request can reach another file.
 */
function staticSite(
  mount: string,
  folders: Partial<Record<Extension, string>>,
  contentSecurityPolicy: string,
  built: string,
): (res: ServerResponse, path: string) => Promise<void> {
  return async (res, path) => {
    if (path === mount.slice(0, -1)) {
      res.writeHead(308, { location: mount });
      res.end();
      return;
    }
    const name = path === mount ? "index.html" : path.slice(mount.length);
    const extension = /^[\w-]+(?:\.[\w-]+)*\.(\w+)$/.exec(name)?.[1] as Extension | undefined;
    const folder = extension === undefined ? undefined : folders[extension];
    if (extension === undefined || folder === undefined) return notFound(res);
    let body: Buffer;
    try {
      body = await readFile(join(folder, name));
    } catch {
      return notFound(res, folder.startsWith(built) ? "Not built: run `npm run build`." : undefined);
    }
    res.writeHead(200, {
      "content-type": TYPES[extension],
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": contentSecurityPolicy,
      "referrer-policy": "no-referrer",
    });
    res.end(body);
  };
}

function notFound(res: ServerResponse, message = "not found"): void {
  sendJson(res, 404, { error: message });
}

/** The folder holding package.json: two levels up from src/http when run from source, three from dist/src/http. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above the gateway's modules");
    dir = parent;
  }
  return dir;
}

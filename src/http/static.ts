import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";

/** Where the example app is served. */
export const APP_PATH = "/app/";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
};

/**
 * The app's pages may load only their own scripts and styles and talk only to this origin:
 * an injected script could not send anything elsewhere, nor could the app be framed.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Serves the example app (web/): its HTML and CSS from `web/`, its scripts as `npm run build`
 * compiled them into `dist/web/`. Only names of one path segment with a known extension are
 * looked up, so no request can reach another file.
 */
export function exampleApp(root = repositoryRoot()): (res: ServerResponse, path: string) => Promise<void> {
  return async (res, path) => {
    if (path === APP_PATH.slice(0, -1)) {
      res.writeHead(308, { location: APP_PATH });
      res.end();
      return;
    }
    const name = path === APP_PATH ? "index.html" : path.slice(APP_PATH.length);
    const extension = /^[\w-]+(?:\.[\w-]+)*\.(\w+)$/.exec(name)?.[1];
    const type = extension === undefined ? undefined : TYPES[extension];
    if (type === undefined) return notFound(res);
    const file = extension === "js" ? join(root, "dist", "web", name) : join(root, "web", name);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return notFound(res, extension === "js" ? "The example app is not built: run `npm run build`." : undefined);
    }
    res.writeHead(200, {
      "content-type": type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "referrer-policy": "no-referrer",
    });
    res.end(body);
  };
}

function notFound(res: ServerResponse, message = "not found"): void {
  res.writeHead(404, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify({ error: message }));
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

/**
 * Bundles the explorer (web/explorer: GraphiQL 3, React 18, graphql) into dist/web/explorer,
 * one script and one stylesheet, so the gateway serves it with nothing loaded from the
 * internet. Run by `npm run build`.
 */
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

await build({
  entryPoints: { explorer: join(root, "web", "explorer", "explorer.ts") },
  outdir: join(root, "dist", "web", "explorer"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  // React's production build: the development one is larger and warns in the console.
  define: { "process.env.NODE_ENV": '"production"' },
  // GraphiQL's fonts and icons stay inline (data: URLs), which the explorer's CSP admits.
  loader: { ".woff2": "dataurl", ".svg": "dataurl" },
  legalComments: "linked",
  logLevel: "warning",
});

import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import type { GatewayContext } from "../graph/context.js";

/**
 * Apollo Sandbox, whose script comes from Apollo's CDN: on a network without internet (health
 * networks often are) its page says only that Sandbox cannot be loaded. That fallback is
 * rewritten to link to what this gateway serves itself, the explorer and the example app
 * (relative links, so they hold behind a proxy's path prefix too), and the empty full-window
 * box Sandbox would have filled stops covering it.
 */
export function sandboxWithOfflineWayOut(): ApolloServerPlugin<GatewayContext> {
  // includeCookies: the Sandbox's requests carry the session cookie, so it works in cookie mode too.
  const sandbox = ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: true });
  return {
    async serverWillStart(service) {
      const listener = await sandbox.serverWillStart!(service);
      return {
        async renderLandingPage() {
          const page = await listener!.renderLandingPage!();
          return { html: async () => withOfflineWayOut(typeof page.html === "string" ? page.html : await page.html()) };
        },
      };
    },
  };
}

/** The landing page with the offline message replaced (test/http/cookie-session.test.ts pins the markup this relies on). */
function withOfflineWayOut(html: string): string {
  return html
    .replace(
      /<p>Apollo Sandbox cannot be loaded;[^<]*<\/p>/,
      `<p>Apollo Sandbox cannot be loaded: it comes from the internet, which this network does not seem to reach.</p>
  <p id="offline-explorer">Use the gateway's own <a href="explorer/">GraphiQL explorer</a>, which works offline, or the <a href="app/">example app</a>.</p>`,
    )
    .replace("#embeddableSandbox {", "#embeddableSandbox:empty {\n    pointer-events: none;\n  }\n  #embeddableSandbox {");
}

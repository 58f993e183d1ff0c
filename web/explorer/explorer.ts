/**
 * The explorer: GraphiQL 3 bundled with React by `npm run build` (scripts/build-explorer.ts)
 * into dist/web/explorer, served by the gateway itself so that it works where Apollo Sandbox,
 * loaded from the internet, cannot.
 */
import { GraphiQL, type GraphiQLProps } from "graphiql";
import "graphiql/graphiql.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import "./explorer.css";

/** The gateway's own endpoint: this page is served by the gateway, so same origin. */
const ENDPOINT = "/graphql";

const DEFAULT_QUERY = `# Sign in first: in the example app (/app/), or with the signin or
# createSession mutation here. In cookie mode the session cookie then goes
# with every request from this page; with a token instead, add under Headers:
#   { "Authorization": "Bearer <token>" }

query Me {
  me {
    id
    displayName
    provider
  }
}
`;

/**
 * Posts every operation as JSON: a content type Apollo's CSRF prevention admits without a
 * preflight header. "same-origin" sends the session cookie in cookie mode, and never to
 * another origin; the headers editor's headers (a bearer token) go along as they are.
 */
const fetcher: GraphiQLProps["fetcher"] = async (params, options) => {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    credentials: "same-origin",
    headers: { ...(options?.headers as Record<string, string> | undefined), "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify(params),
  });
  return response.json();
};

const container = document.getElementById("explorer");
if (container === null) throw new Error("#explorer is missing from index.html");
createRoot(container).render(createElement(GraphiQL, { fetcher, defaultQuery: DEFAULT_QUERY, isHeadersEditorEnabled: true, shouldPersistHeaders: false }));

/**
 * The explorer: GraphiQL 3 bundled with React by `npm run build` (scripts/build-explorer.ts)
 * into dist/web/explorer, served by the gateway itself so that it works where Apollo Sandbox,
 * loaded from the internet, cannot.
 */
import { GraphiQL, type GraphiQLProps } from "graphiql";
import { Kind, parse } from "graphql";
import "graphiql/graphiql.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import "./explorer.css";

/** The gateway's own endpoint: this page is served by the gateway, so same origin. */
const ENDPOINT = "/graphql";

// Short lines: the editor is narrow while the docs are open.
const DEFAULT_QUERY = `# Sign in first: in /app/, or
# with signin / createSession.
# Cookie mode: nothing more to do.
# Bearer mode: under Headers put
# {"Authorization": "Bearer <token>"}

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
    headers: { ...options?.headers, "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ ...params, operationName: heldOperationName(params.query, params.operationName) }),
  });
  return (await response.json()) as Awaited<ReturnType<NonNullable<GraphiQLProps["fetcher"]>>>;
};

/**
 * GraphiQL 3 keeps the last named operation's name when the editor's document becomes an
 * anonymous one (edit `query Me { ... }` into `{ ... }`) and sends it along, which the gateway
 * refuses (no such operation). The name goes only if the document holds it.
 */
function heldOperationName(query: string, operationName: string | null | undefined): string | undefined {
  if (!operationName) return undefined;
  try {
    return parse(query).definitions.some((definition) => definition.kind === Kind.OPERATION_DEFINITION && definition.name?.value === operationName)
      ? operationName
      : undefined;
  } catch {
    // Not a document: the gateway says what is wrong with it.
    return operationName;
  }
}

const container = document.getElementById("explorer");
if (container === null) throw new Error("#explorer is missing from index.html");
createRoot(container).render(
  createElement(GraphiQL, { fetcher, defaultQuery: DEFAULT_QUERY, isHeadersEditorEnabled: true, shouldPersistHeaders: false }),
);

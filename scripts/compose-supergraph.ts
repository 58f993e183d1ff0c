/**
 * Composes a Federation 2 supergraph from subgraph SDL files, offline: `npm run compose -- --config
 * supergraph.json [--out supergraph.graphql]`. The config is rover's `supergraph.yaml` written as
 * JSON (`{ "subgraphs": { "auth": { "routing_url": "…/subgraph", "schema": { "file":
 * "schema/subgraph.graphql" } } } }`); rover downloads its composition binary at run time, so it
 * cannot compose on a machine without internet, while this needs only the project's own packages.
 * Relative schema files are read from the config file's folder. Composition by
 * @theguild/federation-composition, as Hive Gateway composes; errors are printed one a line and
 * exit with 1.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

export interface SubgraphSource {
  name: string;
  /** Where the router sends this subgraph's requests. */
  url: string;
  /** The subgraph's SDL, as its `_service { sdl }` answers it. */
  sdl: string;
}

/** The supergraph of these subgraphs, or an Error naming every composition error. */
export function composeSupergraph(subgraphs: SubgraphSource[]): string {
  const composed = composeServices(subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })));
  if (composed.errors !== undefined) throw new Error(`composition failed:\n${composed.errors.map((error) => error.message).join("\n")}`);
  return composed.supergraphSdl;
}

interface SupergraphConfig {
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string" }, out: { type: "string" } } });
  if (values.config === undefined) throw new Error("usage: npm run compose -- --config supergraph.json [--out supergraph.graphql]");
  const config = JSON.parse(await readFile(values.config, "utf8")) as SupergraphConfig;
  const folder = dirname(resolve(values.config));
  const subgraphs = await Promise.all(
    Object.entries(config.subgraphs ?? {}).map(async ([name, { routing_url, schema }]) => ({
      name,
      url: routing_url,
      sdl: await readFile(resolve(folder, schema.file), "utf8"),
    })),
  );
  const supergraph = composeSupergraph(subgraphs);
  if (values.out === undefined) process.stdout.write(supergraph);
  else await writeFile(values.out, supergraph);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}

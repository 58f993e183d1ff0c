/** Writes schema/schema.graphql and schema/subgraph.graphql from the resolvers: `npm run schema`. Never edit them by hand. */
import { writeFile } from "node:fs/promises";
import { subgraphSDL } from "../src/graph/federation/subgraph.js";
import { schemaSDL } from "../src/graph/schema.js";

for (const [file, sdl] of [
  ["schema.graphql", schemaSDL],
  ["subgraph.graphql", subgraphSDL],
] as const) {
  const target = new URL(`../../schema/${file}`, import.meta.url);
  await writeFile(target, await sdl());
  process.stdout.write(`wrote ${target.pathname}\n`);
}

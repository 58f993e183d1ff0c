/** Writes schema/schema.graphql from the resolvers: `npm run schema`. Never edit that file by hand. */
import { writeFile } from "node:fs/promises";
import { schemaSDL } from "../src/graph/schema.js";

const target = new URL("../../schema/schema.graphql", import.meta.url);
await writeFile(target, await schemaSDL());
process.stdout.write(`wrote ${target.pathname}\n`);

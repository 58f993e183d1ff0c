/** Writes the settings table of docs/configuration.md from src/config/settings.ts: `npm run docs:settings`. Never edit the table by hand. */
import { readFile, writeFile } from "node:fs/promises";
import { withSettingsTable } from "../src/config/settings-table.js";

const target = new URL("../../docs/configuration.md", import.meta.url);
await writeFile(target, withSettingsTable(await readFile(target, "utf8")));
process.stdout.write(`wrote ${target.pathname}\n`);

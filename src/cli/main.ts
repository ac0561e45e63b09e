#!/usr/bin/env node
/**
 * The `quest` command (package.json "bin"): see program.ts, or run `quest --help`.
 */
// First: it sets what better-sqlite3 reads as it loads (./sqlite-uris.ts).
import './sqlite-uris.js';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);

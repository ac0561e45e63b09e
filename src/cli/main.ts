#!/usr/bin/env node
/**
 * The `quest` command (package.json "bin"): see program.ts, or run `quest --help`.
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);

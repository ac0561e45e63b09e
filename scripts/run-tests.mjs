#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (Node 20's --test does not expand globs itself).
// Extra arguments are passed to node (e.g. --test-name-pattern=replay).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = findTests('test').sort();
// Besides the spec reporter's output, a one-line summary ("N passed, N failed") printed last, for CI.
const scratch = mkdtempSync(join(tmpdir(), 'quest-tests-'));
const summaryFile = join(scratch, 'summary.txt');
const summaryReporter = join(import.meta.dirname, 'summary-reporter.mjs');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${summaryReporter}`, `--test-reporter-destination=${summaryFile}`,
    ...process.argv.slice(2), ...files,
  ],
  { stdio: 'inherit' },
);
try {
  process.stdout.write(readFileSync(summaryFile, 'utf8'));
} catch {
  console.log('the test run ended without a summary (see its output above)');
}
rmSync(scratch, { recursive: true, force: true });
process.exit(result.status ?? 1);

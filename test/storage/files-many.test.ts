/**
 * FileStore with many workflows at once: the number of files it holds open stays bounded, so a process with
 * a low open-file limit (`ulimit -n`) runs thousands of concurrent workflows without EMFILE.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./files-many-child.ts', import.meta.url));

function runLimited(openFiles: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = `ulimit -n ${openFiles} && exec "$0" --import tsx "$@"`;
  const child = spawn('bash', ['-c', command, process.execPath, CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('2,000 workflows started at once on a FileStore all finish under ulimit -n 256', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-files-many-'));
  try {
    const { code, stdout, stderr } = await runLimited(256, [join(directory, 'store'), '2000']);
    assert.equal(stdout.trim(), 'done 2000', stderr);
    assert.equal(code, 0, stderr);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

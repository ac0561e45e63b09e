/** What a directory holds, to check that an operation changed no byte and created no file. */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file of `directory` (recursively) with a hash of its content, except `-shm` files (see below). */
export function snapshot(directory: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(directory, { recursive: true, encoding: 'utf8' })) {
    const path = join(directory, name);
    let content: Buffer;
    try {
      content = readFileSync(path);
    } catch {
      files[name] = 'directory';
      continue;
    }
    // The -shm file is SQLite's shared-memory index, which readers of a live database update (read marks);
    // it is no part of the data. Its existence is still compared.
    files[name] = name.endsWith('-shm') ? 'shm' : createHash('sha256').update(content).digest('hex');
  }
  return files;
}


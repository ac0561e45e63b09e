/**
 * What a user gets from `npm pack` / `npm install quest-ts`: the package is packed from a fresh copy of the
 * sources (no dist/ yet, as in a clone), installed into an empty application, and used from plain JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** Copy what a clone holds of the package's sources into `directory`, with the repository's node_modules. */
async function cloneSources(directory: string): Promise<void> {
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) await cp(join(ROOT, file), join(directory, file));
  await cp(join(ROOT, 'src'), join(directory, 'src'), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(directory, 'node_modules'));
}

/** The fenced code block of `language` in the README that follows `heading` text. */
function readmeBlock(readme: string, after: string, language: string): string {
  const start = readme.indexOf(after);
  assert.ok(start >= 0, `the README says "${after}"`);
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readme.slice(start));
  assert.ok(match?.[1] !== undefined, `a \`\`\`${language} block follows "${after}" in the README`);
  return match[1];
}

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

test('npm pack in a fresh clone ships built code whose source maps carry their sources, and the README\'s plain-JS example runs from it', { timeout: 240_000 }, async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'quest-pack-'));
  try {
    const clone = join(scratch, 'clone');
    await mkdir(clone);
    await cloneSources(clone);
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const shipped = new Set(packed[0]?.files.map((file) => file.path));
    for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/storage/sqlite.js', 'dist/dashboard-ui/index.html', 'dist/dashboard-ui/app.js']) assert.ok(shipped.has(path), `the package ships ${path}`);

    // Installed into an application: node_modules/quest-ts is the unpacked tarball.
    const app = join(scratch, 'app');
    const installed = join(app, 'node_modules', 'quest-ts');
    await mkdir(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(scratch, packed[0]?.filename ?? ''), '-C', installed, '--strip-components=1']);
    await symlink(join(ROOT, 'node_modules'), join(installed, 'node_modules'));

    // Stack traces point into sources that travel with the maps.
    const maps = (await filesUnder(join(installed, 'dist'))).filter((file) => file.endsWith('.js.map'));
    assert.ok(maps.length > 10);
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(await readFile(map, 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      assert.equal(sourcesContent?.length, sources.length, `${map} carries its sources`);
      assert.ok(sourcesContent.every((content) => typeof content === 'string' && content.length > 0));
    }

    const example = readmeBlock(await readFile(join(ROOT, 'README.md'), 'utf8'), 'The same workflow as a plain `.mjs` file', 'js');
    await writeFile(join(app, 'example.mjs'), example);
    const output = execFileSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8' });
    assert.equal(output.trim(), 'r-order-1');

    const help = execFileSync(process.execPath, [join(installed, 'dist/cli/main.js'), '--help'], { cwd: app, encoding: 'utf8' });
    assert.match(help, /Usage: quest/);

    // The built dashboard travels in the package and QuestServer finds it (`dashboard: true`).
    const dashboard = [
      "import { WorkflowManager } from 'quest-ts';",
      "import { MemoryStore } from 'quest-ts/memory';",
      "import { QuestServer } from 'quest-ts/server';",
      'const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows: {} });',
      'const server = new QuestServer(manager, { dashboard: true });',
      "const response = await server.app.request('/ui/');",
      "console.log(response.status, (await response.text()).includes('app.js'));",
      'await manager.close();',
    ].join('\n');
    await writeFile(join(app, 'dashboard.mjs'), dashboard);
    assert.equal(execFileSync(process.execPath, ['dashboard.mjs'], { cwd: app, encoding: 'utf8' }).trim(), '200 true');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});

test('in a clone, `npm run quest` runs the command line without a build', { timeout: 60_000 }, () => {
  const help = execFileSync('npm', ['run', '--silent', 'quest', '--', '--help'], { cwd: ROOT, encoding: 'utf8' });
  assert.match(help, /Usage: quest/);
});

/**
 * Imported first by the `quest` command (./main.ts), before anything loads better-sqlite3: turns SQLite's URI
 * filenames on, so that the inspecting commands open a cleanly closed database in place, immutable, instead of
 * reading the whole file into memory (../storage/sqlite-open.ts: 1 s and twice the file's size in memory at a
 * million workflows, and no file over 2 GiB at all). better-sqlite3 reads `SQLITE_USE_URI` once, as it loads,
 * and the switch holds for the whole process; so it is left off for `run` and `serve`, which run the user's
 * application in this process (whose own SQLite file names, "file:…" ones included, keep their meaning), and a
 * value the user set is kept. `replay` loads the user's module too, but only to replay histories against its code
 * (no step runs): it reads the database in place, as the other inspections do.
 */

/** The commands that run the user's code in this process. */
const RUNS_USER_CODE = new Set(['run', 'serve']);

const command = process.argv.slice(2).find((argument) => !argument.startsWith('-'));
if (command === undefined || !RUNS_USER_CODE.has(command)) process.env.SQLITE_USE_URI ??= '1';

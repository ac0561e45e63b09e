/**
 * What every `quest` command shares: exit codes, errors, the `--db` and `--json` options, opening the
 * database, finding a workflow by id or alias, and plain-text formatting.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { isQuestError } from '../core/errors.js';
import { SqliteStore } from '../storage/sqlite.js';
import { hasInbox, type EventInbox, type Store, type WorkflowEntry } from '../storage/store.js';

/** Exit codes of every command. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The thing asked failed (the workflow failed, the event was not taken in time, ...). */
  failed: 1,
  /** Bad usage, unknown workflow, missing or unreadable database. */
  usage: 2,
  /** `quest result`: the workflow is still running. */
  running: 3,
} as const;

/** The default database, when neither --db nor $QUEST_DB says otherwise. */
export const DEFAULT_DB = '.quest/quest.sqlite';

/** An error a command reports on stderr (`quest: <message>`) before exiting with `exitCode`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where a command writes: stdout and stderr, one line (or block) at a time. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** The process's stdout and stderr. */
export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
};

/** What a command's action needs from the program: where to write, and how to report its exit code. */
export interface CliContext {
  readonly io: Io;
  /** Set the process's exit code (the last call wins). */
  exit(code: number): void;
}

/** Options every command has. */
export interface CommonOptions {
  db: string;
  json?: boolean;
}

/** Add `--db <path>` (default $QUEST_DB, then .quest/quest.sqlite) and `--json` to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--db <path>', 'the Quest database: a SQLite file, postgres://... (?schema=name, default quest), dynamodb://<table> or s3://<bucket>/<prefix>')
        .env('QUEST_DB')
        .default(DEFAULT_DB),
    )
    .option('--json', 'print machine-readable JSON instead of text');
}

/**
 * How a command uses the store:
 * - `inspect` (list, history, resources, result, versions): reads only. Nothing is written or created, not
 *   even in a read-only directory; no ownership is taken;
 * - `post` (send): posts to the inbox, which takes events from any process, so it writes but takes no
 *   ownership; the database must exist and be a Quest database;
 * - `run` (run): runs a WorkflowManager, which takes ownership; the database is created if missing.
 */
export type StoreMode = 'inspect' | 'post' | 'run';

/**
 * What the commands work with: a store and where it is (`path`: file, server and schema, table, or bucket and
 * prefix); all but S3 have an inbox, which `send` needs (see {@link inboxOf}).
 */
export type CliStore = Store & Partial<EventInbox> & { readonly path: string };

/** The inbox of `store`, for `send`; a CliError (exit 2) saying what to do instead when it has none (S3). */
export function inboxOf(store: CliStore): CliStore & EventInbox {
  if (hasInbox(store)) return store;
  throw new CliError(
    `the store at ${store.path} has no inbox (S3 stores have none: see the README), so quest send cannot post to it; ` +
      'act on the workflow through the process that runs it (quest serve and a QuestClient, or manager.act)',
    EXIT.usage,
  );
}

/**
 * Open the store at `location` for `mode` (see {@link StoreMode}), picking the backend from what is there: a
 * PostgreSQL URL, a DynamoDB table (`dynamodb://<table>`), an S3 bucket and prefix (`s3://<bucket>/<prefix>`),
 * else a SQLite file. CliError (exit 2) when there is no Quest database (missing, empty, not SQLite, another
 * application's database, a FileStore directory) or it cannot be opened.
 */
export async function openStore(location: string, mode: StoreMode): Promise<CliStore> {
  if (/^postgres(ql)?:\/\//.test(location)) return openPostgres(location, mode);
  if (location.startsWith(DYNAMODB_SCHEME)) return openDynamo(location, mode);
  if (location.startsWith(S3_SCHEME)) return openS3(location, mode);
  if (existsSync(location) && statSync(location).isDirectory()) {
    const what = existsSync(join(location, 'quest-store.json')) ? 'a Quest file store (FileStore): quest reads SQLite databases only' : 'a directory, not a SQLite file';
    throw new CliError(`the database ${location} is ${what}`, EXIT.usage);
  }
  if (mode === 'run') mkdirSync(dirname(location), { recursive: true });
  try {
    if (mode === 'inspect') return await SqliteStore.openReadOnly(location);
    return await SqliteStore.open(location, { create: mode === 'run' });
  } catch (error) {
    if (isQuestError(error, 'NOT_A_QUEST_STORE') && mode !== 'run') {
      throw new CliError(messageOf(error), EXIT.usage);
    }
    throw new CliError(`cannot open the database ${location}: ${messageOf(error)}`, EXIT.usage);
  }
}

/**
 * A PostgreSQL store at `url` (the schema from `?schema=`, default `quest`). Inspecting and posting need the
 * schema to be there: they create and migrate nothing; running creates or migrates it.
 */
async function openPostgres(url: string, mode: StoreMode): Promise<CliStore> {
  let connectionString = url;
  let schema: string | undefined;
  try {
    const parsed = new URL(url);
    schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    connectionString = parsed.toString();
  } catch {
    throw new CliError(`${url} is not a PostgreSQL URL (postgres://user@host:port/database?schema=name)`, EXIT.usage);
  }
  // Loaded only for a PostgreSQL location: SQLite users never load node-postgres.
  const { PostgresStore } = await import('../storage/postgres/store.js');
  try {
    return await PostgresStore.open({ connectionString, schema, poolSize: mode === 'run' ? 10 : 2, existingOnly: mode !== 'run' });
  } catch (error) {
    if (isQuestError(error, 'NOT_A_QUEST_STORE')) throw new CliError(messageOf(error), EXIT.usage);
    throw new CliError(`cannot open the database ${url.replace(/:[^:@/]*@/, '@')}: ${messageOf(error)}`, EXIT.usage);
  }
}

const DYNAMODB_SCHEME = 'dynamodb://';
const S3_SCHEME = 's3://';

/**
 * A DynamoDB store in table `dynamodb://<table>`, reached as the AWS SDK reaches it from the environment
 * (AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB for a local server). Inspecting and posting need the
 * table to be there; inspecting opens it read-only (no request writes), posting writes to the inbox only;
 * running creates the table when it is missing.
 */
async function openDynamo(location: string, mode: StoreMode): Promise<CliStore> {
  const table = location.slice(DYNAMODB_SCHEME.length);
  const { DynamoStore } = await loadCloudStore(location, () => import('../storage/dynamodb/store.js'), '@aws-sdk/client-dynamodb');
  return openedAs(location, () => DynamoStore.open({ table, createTable: mode === 'run', readOnly: mode === 'inspect' }));
}

/**
 * An S3 store at `s3://<bucket>/<prefix>`, reached as the AWS SDK reaches S3 from the environment (AWS_REGION,
 * credentials, AWS_ENDPOINT_URL_S3 for a local server). Opened read-only (no request writes, not even the
 * probe of conditional writes) unless for running. The bucket must exist.
 */
async function openS3(location: string, mode: StoreMode): Promise<CliStore> {
  const [bucket = '', ...rest] = location.slice(S3_SCHEME.length).split('/');
  const { S3Store } = await loadCloudStore(location, () => import('../storage/s3/store.js'), '@aws-sdk/client-s3');
  // Read-only unless running: `send` finds no inbox to post to (inboxOf), and must not have written meanwhile.
  return openedAs(location, () => S3Store.open({ bucket, prefix: rest.join('/'), readOnly: mode !== 'run' }));
}

/** The module of a cloud store, loaded only for its locations (the AWS SDK is an optional dependency). */
async function loadCloudStore<M>(location: string, load: () => Promise<M>, sdk: string): Promise<M> {
  try {
    return await load();
  } catch (error) {
    throw new CliError(`cannot open ${location}: its store needs ${sdk} (npm install ${sdk}): ${messageOf(error)}`, EXIT.usage);
  }
}

/** The store `open` opens, or a CliError (exit 2) saying why the database at `location` cannot be opened. */
async function openedAs(location: string, open: () => Promise<CliStore>): Promise<CliStore> {
  try {
    return await open();
  } catch (error) {
    throw new CliError(`cannot open the database ${location}: ${messageOf(error)}`, EXIT.usage);
  }
}

/** Run `body` with the store at `location` open for `mode` (default `inspect`: see {@link openStore}), closing it afterwards. */
export async function withStore<T>(location: string, body: (store: CliStore) => Promise<T>, mode: StoreMode = 'inspect'): Promise<T> {
  const store = await openStore(location, mode);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** The entry of workflow `name` (an id, or an alias held by a workflow); a CliError (exit 2) if there is none. */
export async function findWorkflow(store: CliStore, name: string): Promise<WorkflowEntry> {
  const entry = await store.getWorkflow(name);
  if (entry !== undefined) return entry;
  const target = await store.getAlias(name);
  const aliased = target === undefined ? undefined : await store.getWorkflow(target);
  if (aliased !== undefined) return aliased;
  throw new CliError(`there is no workflow ${JSON.stringify(name)} in ${store.path} (see quest list)`, EXIT.usage);
}

/** A command-line argument as a value: JSON when it parses (`42`, `true`, `'"42"'`, `'{"a":1}'`), else the string. */
export function parseArgument(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** An error's message (with its class name when it has one of its own). */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.name === 'Error' || error.name === 'CliError' ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}

/** A time (milliseconds since the epoch) as ISO 8601, UTC. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

// Shown values are shared with the server and the dashboard: they live in inspect/history-view.ts.
export { isUndefinedValue, showValue } from '../inspect/history-view.js';

/** Print JSON on stdout (two-space indented). */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Rows as left-aligned columns separated by two spaces (the last column is not padded). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  // A loop, not Math.max(...column): a million rows as arguments overflow the stack (`quest list --all`).
  const widths = header.map((title) => title.length);
  for (const row of rows) {
    for (let column = 0; column < widths.length; column++) widths[column] = Math.max(widths[column] ?? 0, (row[column] ?? '').length);
  }
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}


/** A workflow's one-line description: `id (type, state)`. */
export function describeWorkflow(entry: WorkflowEntry): string {
  return `workflow ${entry.id} (${entry.type}, ${entry.state})`;
}

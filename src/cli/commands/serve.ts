/** `quest serve <module>`: `quest run` plus a QuestServer, so that other processes act over the network. */
import { Command, Option } from 'commander';
import { isQuestError } from '../../core/errors.js';
import { installSignalHandlers } from '../../manager/signals.js';
import { WorkflowManager } from '../../manager/workflow-manager.js';
import type { WorkflowRegistry } from '../../manager/types.js';
import type { Authenticate } from '../../server/auth.js';
import type { QuestServer } from '../../server/server.js';
import { CliError, EXIT, messageOf, parseArgument, withCommonOptions, type CliContext, type Io } from '../common.js';
import { budgetsOf, openManager, report, withBudgetOptions, type BudgetOptions } from './run.js';

interface ServeOptions extends BudgetOptions {
  db: string;
  json?: boolean;
  port: string;
  host: string;
  tokens?: string;
  jwtSecret?: string;
  devIdentityHeader?: boolean;
  start?: string[];
  dashboard: boolean;
}

export function serveCommand(context: CliContext): Command {
  return withCommonOptions(
    withBudgetOptions(new Command('serve'))
      .description('run the workflows of a module durably and serve them over HTTP and WebSocket (docs/protocol.md)')
      .argument('<module>', 'a module that exports `workflows`: { typeName: workflowFunction, ... } (as for quest run)')
      .addOption(new Option('--port <port>', 'the TCP port (0: any free port)').env('QUEST_PORT').default('8080'))
      .addOption(new Option('--host <host>', 'the address to listen on').default('127.0.0.1'))
      .option('--tokens <file>', 'bearer tokens: a JSON file { "<token>": { "identity": "ann", "roles": ["admin"] } }')
      .addOption(new Option('--jwt-secret <secret>', 'accept JWTs signed with this HS256 secret (identity: sub, roles: roles)').env('QUEST_JWT_SECRET'))
      .option('--dev-identity-header', 'DEVELOPMENT ONLY, loopback only: trust the x-quest-identity / x-quest-roles headers')
      .option('--no-dashboard', 'do not serve the dashboard at /ui/ (served by default, behind the same authentication)')
      .option('--start <type-id-args...>', 'start workflow <id> of type <type> with the arguments; resumes it if <id> exists'),
  )
    .addHelpText(
      'after',
      `
Without --tokens, --jwt-secret or --dev-identity-header every caller is anonymous: it sees public
resources only, and cannot start, cancel, delete or list (those need the admin role).
With --json, the first line on stdout is {"url": "..."} once the server listens.
Ctrl-C / SIGTERM closes the streams (clients reconnect), suspends the workflows durably, and exits.

Examples:
  $ quest serve ./dist/workflows.js --db app.sqlite --port 8080 --tokens tokens.json
  $ QUEST_JWT_SECRET=... quest serve ./dist/workflows.js --host 0.0.0.0`,
    )
    .action(async (modulePath: string, options: ServeOptions) => {
      const { io } = context;
      // Loaded here, not at the top: the other commands start without the server's dependencies.
      const [{ QuestServer }, auth] = await Promise.all([import('../../server/server.js'), import('../../server/auth.js')]);
      const authenticate = authenticationOf(options, auth);
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number, got ${options.port}`, EXIT.usage);
      const { store, manager } = await openManager(modulePath, options.db, io, budgetsOf(options));
      const server = new QuestServer(manager, { authenticate, logger: serverLogger(io), store, dashboard: options.dashboard });
      const stop = async (): Promise<void> => {
        // Together: the manager's close answers the calls still waiting (WORKFLOW_SUSPENDED) so the server drains.
        await Promise.all([server.close(), manager.close()]);
      };
      const removeSignalHandlers = installSignalHandlers(stop);
      const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
      try {
        const { url } = await listen(server, port, options.host);
        for (const info of await manager.list()) if (info.status === 'running') void report(manager, store, info.id, info.type, io, options.json === true);
        if (options.start !== undefined) await startOne(manager, options.start, io, options.json === true);
        if (options.json === true) io.out(JSON.stringify({ url }));
        else io.err(`quest: serving the workflows of ${modulePath} (${options.db}) at ${url}${options.dashboard ? ` (dashboard: ${url}/ui/)` : ''}; Ctrl-C to stop`);
        await new Promise<never>(() => undefined);
      } catch (error) {
        clearInterval(keepAlive);
        removeSignalHandlers();
        await stop();
        throw error;
      }
    });
}

/** The authenticator the options ask for (one at most). */
function authenticationOf(options: ServeOptions, auth: typeof import('../../server/auth.js')): Authenticate | undefined {
  const chosen = [options.tokens, options.jwtSecret, options.devIdentityHeader].filter((option) => option !== undefined && option !== false);
  if (chosen.length > 1) throw new CliError('choose one of --tokens, --jwt-secret and --dev-identity-header', EXIT.usage);
  try {
    if (options.tokens !== undefined) return auth.bearerTokensFile(options.tokens);
    if (options.jwtSecret !== undefined) return auth.jwtAuth({ secret: options.jwtSecret });
  } catch (error) {
    throw new CliError(messageOf(error), EXIT.usage);
  }
  return options.devIdentityHeader === true ? auth.trustHeader() : undefined;
}

async function listen(server: QuestServer, port: number, host: string): Promise<{ url: string }> {
  try {
    return await server.listen(port, host);
  } catch (error) {
    throw new CliError(`cannot listen on ${host}:${port}: ${messageOf(error)}`, EXIT.usage);
  }
}

async function startOne(manager: WorkflowManager<WorkflowRegistry>, start: string[], io: Io, json: boolean): Promise<void> {
  if (start.length < 2) throw new CliError('--start needs a workflow type and an id: --start <type> <id> [args...]', EXIT.usage);
  const [type = '', id = '', ...args] = start;
  try {
    const handle = await manager.startWith(type, id, args.map(parseArgument) as never, { ifExists: 'resume' });
    if (!json) io.err(handle.created ? `quest: started workflow ${id} (${type})` : `quest: workflow ${id} exists already: resuming it`);
  } catch (error) {
    if (isQuestError(error) && ['UNKNOWN_WORKFLOW_TYPE', 'DUPLICATE_WORKFLOW', 'INVALID_ARGUMENT', 'NOT_SERIALIZABLE'].includes(error.code)) {
      throw new CliError(messageOf(error), EXIT.usage);
    }
    throw error;
  }
}

/** The server's logger: warnings and errors on stderr, in words. */
function serverLogger(io: Io): { warn(fields: object, message: string): void; error(fields: object, message: string): void } {
  const detail = (fields: object): string => {
    const err = (fields as { err?: unknown }).err;
    return err === undefined ? '' : `: ${messageOf(err)}`;
  };
  return {
    warn: (fields, message) => io.err(`quest: warning: ${message}${detail(fields)}`),
    error: (fields, message) => io.err(`quest: error: ${message}${detail(fields)}`),
  };
}

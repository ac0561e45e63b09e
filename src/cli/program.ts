/**
 * The `quest` command line: one commander program, one file per command (./commands/). `runCli` parses the
 * arguments, runs the command and resolves with the exit code: 0 ok, 1 the thing asked failed, 2 bad usage /
 * unknown workflow / missing or unreadable database, 3 (`quest result`) still running.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, messageOf, processIo, type CliContext, type Io } from './common.js';
import { historyCommand } from './commands/history.js';
import { listCommand } from './commands/list.js';
import { replayCommand } from './commands/replay.js';
import { resourcesCommand } from './commands/resources.js';
import { resultCommand } from './commands/result.js';
import { runCommand } from './commands/run.js';
import { sendCommand } from './commands/send.js';
import { serveCommand } from './commands/serve.js';
import { versionsCommand } from './commands/versions.js';

/** The package version (package.json is two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  try {
    const json = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Build the program; each command reports its exit code through `context.exit`. */
export function buildProgram(context: CliContext): Command {
  const program = new Command('quest')
    .description('Inspect and drive Quest workflows stored in a SQLite database.')
    .version(packageVersion(), '-V, --version', 'print the version of Quest')
    .configureOutput({ writeOut: (text) => context.io.out(text.trimEnd()), writeErr: (text) => context.io.err(text.trimEnd()) })
    .exitOverride()
    .showHelpAfterError('(quest --help, or quest <command> --help, for usage)')
    .addHelpText(
      'after',
      `
Every command reads --db <path> (default $QUEST_DB, else .quest/quest.sqlite) and prints text, or JSON
with --json. Exit codes: 0 ok, 1 the thing asked failed, 2 bad usage, unknown workflow or missing /
unreadable database, 3 (quest result) still running.

Examples:
  $ quest list --db .quest/guessing-game.sqlite
  $ quest history game
  $ quest resources game --identity ann
  $ quest send game guess put 42
  $ quest result game
  $ quest versions
  $ quest replay ./dist/workflows.js checkout
  $ quest run ./dist/workflows.js --start checkout order-1 '"order-1"' --until-done
  $ quest serve ./dist/workflows.js --db app.sqlite --port 8080 --tokens tokens.json`,
    );
  // Settings (exitOverride, output) are copied to commands added after them.
  for (const make of [listCommand, historyCommand, resourcesCommand, sendCommand, resultCommand, versionsCommand, replayCommand, runCommand, serveCommand]) {
    const command = make(context);
    command.configureOutput({ writeOut: (text) => context.io.out(text.trimEnd()), writeErr: (text) => context.io.err(text.trimEnd()) });
    command.exitOverride();
    command.showHelpAfterError(`(quest ${command.name()} --help for usage)`);
    program.addCommand(command);
  }
  return program;
}

/**
 * Run `quest` with `argv` (as process.argv: node, script, arguments...) and resolve with the exit code.
 * Errors are written to `io.err` as `quest: <message>`.
 */
export async function runCli(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram({ io, exit: (exitCode) => (code = exitCode) });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (error) {
    // Help and --version "fail" with exit code 0; every other commander error is bad usage.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      io.err(`quest: ${error.message}`);
      return error.exitCode;
    }
    io.err(`quest: ${messageOf(error)}`);
    return EXIT.failed;
  }
}

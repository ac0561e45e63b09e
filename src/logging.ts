/**
 * Logging with pino. Every line logged inside a workflow carries the workflow id and the current task
 * (`main`, `main/worker`, ...), and `replaying: true` while the history is being replayed, without the user
 * passing anything per call.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import { currentContext } from './core/context.js';

/** Fields Quest adds to a log line written inside a workflow. */
export interface WorkflowLogFields {
  workflow?: string;
  task?: string;
  replaying?: true;
}

/** The workflow fields for the current call (empty outside a workflow). */
export function workflowLogFields(): WorkflowLogFields {
  const context = currentContext();
  if (context === undefined) return {};
  const fields: WorkflowLogFields = { workflow: context.run.workflowId, task: context.task.id };
  if (context.run.replay !== null) fields.replaying = true;
  return fields;
}

/**
 * A pino logger that tags every line with the workflow and task it was written from.
 *
 * @example
 * const log = createLogger({ level: 'debug' });
 * const work = step('work', async () => log.info('working'));  // {"workflow":"w1","task":"main",...}
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const userMixin = options.mixin;
  const merged: LoggerOptions = {
    ...options,
    mixin: (base, level, logger) => ({ ...(userMixin?.(base, level, logger) ?? {}), ...workflowLogFields() }),
  };
  return destination === undefined ? pino(merged) : pino(merged, destination);
}

/** Quest's default logger (info level, JSON lines on stdout). */
export const logger: Logger = createLogger({ name: 'quest' });

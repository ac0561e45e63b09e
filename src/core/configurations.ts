/**
 * Configuration calls (`Historian.configure`): recorded in the history before the workflow runs. On replay each
 * recorded one is applied again at its position, checked against the calls registered in the same order; those
 * registered since are recorded and applied once replay has caught up.
 */
import { ConfigurationMismatchError } from './errors.js';
import type { ConfigRecord } from './records.js';
import type { Run } from './run.js';
import { deserialize, serialize } from './serializer.js';
import { recordNewVersions } from './versioning.js';

/** A configuration call registered with `Historian.configure`. */
export interface Configuration {
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
  readonly args: readonly unknown[];
}

/** Replay met a configuration record: apply the registered call it stands for, with its recorded arguments. */
export async function replayConfiguration(run: Run, record: ConfigRecord): Promise<void> {
  const configuration = run.options.configurations[run.configsApplied];
  if (configuration === undefined || configuration.name !== record.name) {
    throw new ConfigurationMismatchError(
      `The history applied configuration ${JSON.stringify(record.name)} as number ${run.configsApplied + 1}, but ` +
        (configuration === undefined ? 'none was registered' : `${JSON.stringify(configuration.name)} was registered`),
    );
  }
  run.configsApplied++;
  await configuration.fn(...(record.args.map((arg) => deserialize(arg)) as never[]));
}

/** Catch-up when there are configurations to record and apply; then the new versions (see recordNewVersions). */
export async function applyNewConfigurations(run: Run): Promise<void> {
  const configurations = run.options.configurations;
  for (let i = run.configsApplied; i < configurations.length; i++) {
    const configuration = configurations[i] as Configuration;
    const args = configuration.args.map((arg, n) => serialize(arg, `configuration ${configuration.name} argument ${n}`));
    run.write('', null, { type: 'config', id: '', name: configuration.name, args });
    run.configsApplied++;
    await configuration.fn(...(configuration.args as never[]));
    // Stopped while the configuration ran: what it would record next must not reach the store.
    if (run.stopReason !== undefined) throw run.stopReason;
  }
  await recordNewVersions(run);
}

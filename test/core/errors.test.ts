import { describe, test } from 'node:test';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import {
  Historian,
  MemoryHistory,
  NonDeterminismError,
  NotInWorkflowError,
  NotSerializableError,
  ResourceNotFoundError,
  UnknownActionError,
  event,
  getVersion,
  identityQueue,
  isQuestError,
  multiQueue,
  queue,
  state,
  step,
  task,
  versioned,
} from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { failure, outcome, replayed, summary, suspend, visible } from './support.js';

/** A running workflow with a public queue `inbox` and a state `secret` private to identity `ann`. */
async function started() {
  const history = new MemoryHistory();
  const historian = new Historian('w', async () => {
    await using inbox = await queue<string>('inbox', null);
    await using secret = await state('secret', 'ann', 's3cret');
    const first = await inbox.get();
    return `${first}:${secret.get()}`;
  }, history);
  const running = outcome(historian.run());
  await untilSettled(async () => (await visible(historian, 'ann')).length === 2);
  await replayed(historian);
  return { history, historian, running, recorded: summary(history) };
}

describe('errors from outside calls', () => {
  test('acting on a resource that does not exist is ResourceNotFoundError and records nothing', async () => {
    const { history, historian, running } = await started();
    const before = summary(history);
    await assert.rejects(historian.act('nope', null, 'put', 1), (error: unknown) => error instanceof ResourceNotFoundError && /"nope"/.test(error.message));
    await assert.rejects(historian.act('nope', 'ann', 'put', 1), ResourceNotFoundError);
    assert.deepEqual(summary(history), before);
    await suspend(historian, running);
  });

  test('an identity cannot see or act on another identity\'s private resource', async () => {
    const { history, historian, running } = await started();
    const before = summary(history);
    await assert.rejects(historian.act('secret', 'bob', 'set', 'stolen'), (error: unknown) => isQuestError(error, 'RESOURCE_NOT_FOUND') && /identity "bob"/.test((error as Error).message));
    await assert.rejects(historian.act('secret', null, 'get'), ResourceNotFoundError);
    assert.deepEqual(await visible(historian, 'bob'), ['inbox']);
    assert.equal(await historian.act('secret', 'ann', 'get'), 's3cret', 'the owner still sees it unchanged');
    // Public resources are visible to every identity.
    await historian.act('inbox', 'bob', 'put', 'from bob');
    assert.deepEqual(await running, { ok: true, value: 'from bob:s3cret' });
    assert.ok(!before.some((record) => record.startsWith('external')));
  });

  test('an action the resource does not have is UnknownActionError and records nothing', async () => {
    const { history, historian, running } = await started();
    const before = summary(history);
    await assert.rejects(historian.act('inbox', null, 'explode'), (error: unknown) => error instanceof UnknownActionError && /put, get, size/.test(error.message));
    await assert.rejects(historian.act('inbox', null, 'constructor'), UnknownActionError);
    await assert.rejects(historian.act('inbox', null, 'put', 'a', 'b'), { name: 'InvalidArgumentError' });
    assert.deepEqual(summary(history), before);
    await suspend(historian, running);
  });

  test('an outside argument that cannot be recorded is NotSerializableError and changes nothing', async () => {
    const { history, historian, running } = await started();
    const before = summary(history);
    await assert.rejects(historian.act('inbox', null, 'put', () => 1), NotSerializableError);
    assert.equal(await historian.act('inbox', null, 'size'), 0);
    assert.deepEqual(summary(history), before);
    await suspend(historian, running);
  });

  test('acting on a workflow that is not running is WorkflowSuspendedError; running twice is AlreadyRunningError', async () => {
    const { historian, running } = await started();
    await assert.rejects(historian.run(), { name: 'AlreadyRunningError' });
    await suspend(historian, running);
    await assert.rejects(historian.act('inbox', null, 'put', 'late'), { name: 'WorkflowSuspendedError' });
    assert.deepEqual(await historian.resources(null), []);
  });
});

describe('errors inside workflows', () => {
  test('opening a resource twice with the same name and identity is DuplicateResourceError', async () => {
    const historian = new Historian('w', async () => {
      await using _a = await queue('q', null);
      await using _b = await queue('q', 'ann');
      try {
        await using _c = await event('q', null);
        return 'opened twice';
      } catch (error) {
        return (error as Error).name;
      }
    }, new MemoryHistory());
    assert.equal(await historian.run(), 'DuplicateResourceError');
  });

  test('step, task, resources and versions outside a workflow throw NotInWorkflowError', async () => {
    const add = step('add', async (a: number) => a + 1);
    const worker = task('worker', async () => 1);
    await assert.rejects(async () => add(1), NotInWorkflowError);
    assert.throws(() => worker(), NotInWorkflowError);
    await assert.rejects(queue('q', null), NotInWorkflowError);
    await assert.rejects(state('s', null, 1), NotInWorkflowError);
    await assert.rejects(event('e', null), NotInWorkflowError);
    await assert.rejects(identityQueue('i'), NotInWorkflowError);
    await assert.rejects(multiQueue('m', ['ann']), NotInWorkflowError);
    assert.throws(() => getVersion(), NotInWorkflowError);
    assert.throws(() => versioned('2', () => 1, { name: 'one' })(), NotInWorkflowError);
    await assert.rejects(async () => add(1), (error: unknown) => /step "add" can only be called inside a running workflow/.test((error as Error).message));
  });

  test('a Quest call through a second copy of the engine, inside a workflow run by the first, says Quest is loaded twice', async () => {
    // A second instance of the engine's modules, as two installs of quest-ts (or its dist and src) would give.
    const directory = mkdtempSync(join(tmpdir(), 'quest-engine-copy-'));
    cpSync(fileURLToPath(new URL('../../src/core', import.meta.url)), join(directory, 'core'), { recursive: true });
    const copy = {
      ...((await import(pathToFileURL(join(directory, 'core', 'step.ts')).href)) as typeof import('../../src/core/step.js')),
      ...((await import(pathToFileURL(join(directory, 'core', 'errors.ts')).href)) as typeof import('../../src/core/errors.js')),
    };
    rmSync(directory, { recursive: true, force: true });
    const historian = new Historian('w', async () => {
      try {
        await copy.step('fromTheOtherCopy', async () => 1)();
        return 'no error';
      } catch (error) {
        return error instanceof copy.NotInWorkflowError && error.inAnotherCopy ? (error as Error).message : String(error);
      }
    }, new MemoryHistory());
    assert.match(String(await historian.run()), /another copy of quest-ts loaded in the same process/);
    await assert.rejects(async () => copy.step('outside', async () => 1)(), (error: unknown) => !(error as InstanceType<typeof copy.NotInWorkflowError>).inAnotherCopy);
  });

  test('a step result that cannot be recorded fails the step with NotSerializableError, and replays that way', async () => {
    let runs = 0;
    const makeHandler = step('makeHandler', async () => {
      runs++;
      return { onClick: () => 'clicked' };
    });
    const caught: string[] = [];
    const workflow = async () => {
      try {
        await makeHandler();
      } catch (error) {
        caught.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
      await using go = await queue<null>('go', null);
      await go.get();
      return caught.length;
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).length === 1);
    await second.act('go', null, 'put', null);
    assert.equal(await result, 2);
    assert.equal(runs, 1);
    assert.match(caught[0] ?? '', /^NotSerializableError: Cannot record a function at value\.onClick/);
    assert.equal(caught[1], caught[0]);
  });

  test('a workflow-side argument that cannot be recorded is NotSerializableError', async () => {
    const historian = new Historian('w', async () => {
      await using q = await queue<unknown>('q', null);
      await q.put(new (class Widget {})());
    }, new MemoryHistory());
    const error = await failure(historian.run());
    assert.ok(error instanceof NotSerializableError);
    assert.match(error.message, /Widget/);
  });

  test('invalid resource names and identities are rejected', async () => {
    const historian = new Historian('w', async () => {
      const errors: string[] = [];
      for (const open of [() => queue('', null), () => state('s', '', 1)]) {
        try {
          await open();
        } catch (error) {
          errors.push((error as Error).name);
        }
      }
      return errors;
    }, new MemoryHistory());
    assert.deepEqual(await historian.run(), ['InvalidArgumentError', 'InvalidArgumentError']);
  });
});

describe('non-determinism', () => {
  async function suspendedAfterStepA(): Promise<MemoryHistory> {
    const history = new MemoryHistory();
    const a = step('a', async () => 'A');
    const first = new Historian('w', async () => {
      await a();
      await using go = await queue<null>('go', null);
      await go.get();
    }, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    return history;
  }

  test('code that calls a different step than its history is NonDeterminismError naming both', async () => {
    const history = await suspendedAfterStepA();
    const recorded = summary(history);
    const b = step('b', async () => 'B');
    let bRan = false;
    const changed = new Historian('w', async () => {
      bRan = (await b()) === 'B';
    }, history, { stallTimeoutMs: 50 });
    const error = await failure(changed.run());
    assert.ok(error instanceof NonDeterminismError, `got ${error.name}: ${error.message}`);
    assert.match(error.message, /end of step main\/a/, 'names the record the history expected');
    assert.match(error.message, /step main\/b/, 'names the call that came');
    assert.equal(bRan, false, 'the new step never ran');
    assert.deepEqual(summary(history), recorded, 'the history is left as it was');
  });

  test('code that ends before its history does is NonDeterminismError naming the record left', async () => {
    const history = await suspendedAfterStepA();
    const error = await failure(new Historian('w', async () => 'done early', history, { stallTimeoutMs: 50 }).run());
    assert.ok(error instanceof NonDeterminismError);
    assert.match(error.message, /end of step main\/a/);
    assert.ok(history.size > 0, 'a diverged history is not cleared');
  });

  test('an extra step call where the history expects something else is NonDeterminismError', async () => {
    const history = await suspendedAfterStepA();
    const a = step('a', async () => 'A');
    const error = await failure(new Historian('w', async () => {
      await Promise.all([a(), a()]);
    }, history, { stallTimeoutMs: 50 }).run());
    assert.ok(error instanceof NonDeterminismError, `got ${error.name}: ${error.message}`);
    assert.match(error.message, /main\/a#2/);
  });
});

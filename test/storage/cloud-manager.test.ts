/**
 * The WorkflowManager on the S3 and DynamoDB stores (against s3rver and dynalite): workflows run to
 * completion, unfinished ones resume after a reopen without re-running completed steps, a second manager over
 * the same store is refused while the first one runs, and (DynamoDB) an event posted to the inbox by another
 * store reaches the workflow.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowManager } from '../../src/index.js';
import { isQuestError } from '../../src/core/errors.js';
import { hasInbox, type Store } from '../../src/storage/store.js';
import { checkResumeAfterReopen, countingWorkflows } from '../manager/fixtures.js';
import { cloudLocation, openCloudStore } from './cloud-locations.js';
import { freshName, serverForFile, startDynamo, startS3 } from './cloud-support.js';

const [s3, dynamo] = await Promise.all([serverForFile(startS3), serverForFile(startDynamo)]);

const backends: Array<[name: 's3' | 'dynamodb', location: () => string]> = [
  ['s3', () => cloudLocation(s3.endpoint, `${freshName('mgr')}/`)],
  ['dynamodb', () => cloudLocation(dynamo.endpoint, freshName('mgr'))],
];

for (const [backend, location] of backends) {
  describe(`${backend} store under a WorkflowManager`, () => {
    const open = (where: string): Promise<Store> => openCloudStore(backend, where);

    test('workflows run to completion, and unfinished ones resume after a reopen without re-running steps', async () => {
      const where = location();
      await checkResumeAfterReopen(() => open(where));
    });

    test('a second manager over the same store is refused while the first one runs', async () => {
      const where = location();
      const workflows = countingWorkflows({});
      const first = await WorkflowManager.open({ store: await open(where), workflows, inboxPollMs: 0 });
      const store = await open(where);
      try {
        await assert.rejects(WorkflowManager.open({ store, workflows, inboxPollMs: 0 }), (error: unknown) => isQuestError(error, 'STORE_OWNED'));
      } finally {
        await store.close();
        await first.close();
      }
      const next = await WorkflowManager.open({ store: await open(where), workflows, inboxPollMs: 0 });
      await next.close();
    });
  });
}

test('dynamodb: an event posted to the inbox by another store reaches the workflow, and that store reads its outcome', async () => {
  const where = cloudLocation(dynamo.endpoint, freshName('inbox'));
  const manager = await WorkflowManager.open({ store: await openCloudStore('dynamodb', where), workflows: countingWorkflows({}), inboxPollMs: 0 });
  const sender = await openCloudStore('dynamodb', where);
  try {
    assert.ok(hasInbox(sender));
    await manager.start('twoSteps', 't1', 10);
    await manager.waitForResource('t1', 'go', null);
    const id = await sender.postEvent({ workflowId: 't1', resource: 'go', identity: null, action: 'set', args: [] });
    assert.deepEqual(await sender.eventOutcome(id), { status: 'pending' });
    assert.equal(await manager.deliverInbox(), 1);
    assert.equal(await manager.getResult('t1'), 12);
    assert.equal((await sender.eventOutcome(id))?.status, 'applied');
    const late = await sender.postEvent({ workflowId: 't1', resource: 'go', identity: null, action: 'set', args: [] });
    await manager.deliverInbox();
    const outcome = await sender.eventOutcome(late);
    assert.ok(outcome?.status === 'rejected' && outcome.code.length > 0, JSON.stringify(outcome));
  } finally {
    await sender.close();
    await manager.close();
  }
});

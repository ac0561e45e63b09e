import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/storage/memory.js';
import { hasPages } from '../../src/storage/workflow-pages.js';
import { exemptFromDamage, runStoreConformance } from './conformance.js';

runStoreConformance('memory', () =>
  Promise.resolve({
    store: new MemoryStore(),
    cleanup: () => Promise.resolve(),
    damage: exemptFromDamage('memory keeps nothing after close(): there is no stored history to damage'),
  }),
);

test('a MemoryStore reads the workflow list by pages (WorkflowPages)', () => {
  assert.ok(hasPages(new MemoryStore()));
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { table } from '../../src/cli/common.js';

describe('the CLI table', () => {
  test('columns are as wide as their widest cell, the last one unpadded', () => {
    assert.equal(table(['ID', 'STATE'], [['w1', 'running'], ['workflow-2', 'failed']]), 'ID          STATE\nw1          running\nworkflow-2  failed');
  });

  test('a million rows print (quest list --all on a large database overflowed the stack)', () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => [`w${i}`, 'running']);
    const printed = table(['ID', 'STATE'], rows);
    assert.equal(printed.split('\n').length, 1_000_001);
    assert.ok(printed.startsWith('ID       STATE\nw0       running'));
  });
});

import { MemoryStore } from '../../src/storage/memory.js';
import { exemptFromDamage, runStoreConformance } from './conformance.js';

runStoreConformance('memory', () =>
  Promise.resolve({
    store: new MemoryStore(),
    cleanup: () => Promise.resolve(),
    damage: exemptFromDamage('memory keeps nothing after close(): there is no stored history to damage'),
  }),
);

import { MemoryStore } from '../../src/storage/memory.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('memory', () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }));

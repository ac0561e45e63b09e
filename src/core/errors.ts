/**
 * Every error Quest raises on purpose, gathered from the modules that define them by area (QuestError itself,
 * isQuestError and isSuspension in ./quest-error.ts). Import them from here: the serializer rebuilds every error
 * class this module exports (see ./serializer.ts), so a new module of errors is added to this list.
 */
export * from './quest-error.js';
export * from './errors-engine.js';
export * from './errors-resources.js';
export * from './errors-storage.js';
export * from './errors-manager.js';

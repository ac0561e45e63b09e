/** The Quest network protocol (version 1): message shapes, error codes and their HTTP statuses. */
export * from './messages.js';
export * from './errors.js';
export * from './inspect.js';

/** The typed resource handles live in core (the network client uses them too); re-exported for the manager. */
export { EventProxy, IdentityQueueProxy, QueueProxy, StateProxy } from '../core/resource-proxies.js';
export type { ResourceActor } from '../core/resource-proxies.js';

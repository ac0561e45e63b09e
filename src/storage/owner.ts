/**
 * Store owners (see StoreOwnership in ./store.ts): who this process is, and whether a recorded owner still
 * runs. Shared by every store that records its owner.
 *
 * What is checked to call an owner gone (and take its store over): it ran on this host (`os.hostname()`),
 * and either its pid runs no process any more (`kill(pid, 0)` fails with ESRCH), or the process that has the
 * pid now is another one: its process tag (Linux: the boot id and the process's start time in clock ticks
 * since boot, from /proc) differs from the recorded one. That catches pid reuse and reboots. An owner on
 * another host is never called gone: Quest cannot see its processes.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { StoreOwnedError } from '../core/errors.js';
import type { StoreOwner } from './store.js';

/**
 * A new owner record for this process: a random id, the pid, the host, now, and the process tag.
 *
 * @example
 * await store.acquireOwnership(newStoreOwner());
 */
export function newStoreOwner(): StoreOwner {
  const processTag = processTagOf(process.pid);
  return { id: randomUUID(), pid: process.pid, host: hostname(), acquiredAt: Date.now(), ...(processTag === undefined ? {} : { processTag }) };
}

/** True when `owner` certainly runs no more: see the module comment for what is checked. */
export function ownerIsGone(owner: StoreOwner): boolean {
  if (owner.host !== hostname()) return false;
  if (!processRuns(owner.pid)) return true;
  if (owner.processTag === undefined) return false;
  const now = processTagOf(owner.pid);
  return now !== undefined && now !== owner.processTag;
}

/** `process <pid> on <host> since <ISO time>`, for messages. */
export function describeOwner(owner: StoreOwner): string {
  return `process ${owner.pid} on ${owner.host} since ${new Date(owner.acquiredAt).toISOString()}`;
}

/**
 * The StoreOwnedError for `store` owned by `owner`, with what to do when it runs on another host; `reason`: why
 * the owner is in the way, when it is not that one manager at a time runs the store (said anyway).
 */
export function storeOwnedError(store: string, owner: StoreOwner, clearHint: string, reason = ''): StoreOwnedError {
  const remote = owner.host !== hostname() ? `Quest cannot check a process on another host: if that process is gone for good, ${clearHint}.` : '';
  return new StoreOwnedError(store, describeOwner(owner), [reason, remote].filter((hint) => hint !== '').join(' '));
}

/** True when a record read back is a StoreOwner (an owner file or row written by another Quest). */
export function isStoreOwner(value: unknown): value is StoreOwner {
  if (typeof value !== 'object' || value === null) return false;
  const owner = value as Partial<StoreOwner>;
  return typeof owner.id === 'string' && typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.acquiredAt === 'number';
}

/** Whether a process with this pid exists (EPERM: it exists, owned by another user). */
function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/** `<boot id>:<start ticks>` of process `pid` (Linux), or undefined where /proc does not tell. */
function processTagOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) is in parentheses and may hold spaces and ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19];
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return startTicks === undefined ? undefined : `${bootId}:${startTicks}`;
  } catch {
    return undefined;
  }
}

/**
 * Ownership kept in this object only: for stores that one process uses at a time (memory; files, whose
 * directory a lock file holds for the process). It refuses a second manager over the same store object.
 */
export class InProcessOwnership {
  private owner: StoreOwner | undefined;

  constructor(
    /** How the store is named in errors. */
    private readonly store: string,
  ) {}

  acquire(owner: StoreOwner): Promise<void> {
    if (this.owner !== undefined && this.owner.id !== owner.id && !ownerIsGone(this.owner)) {
      return Promise.reject(storeOwnedError(this.store, this.owner, 'release it with store.releaseOwnership()'));
    }
    this.owner = { ...owner };
    return Promise.resolve();
  }

  release(): Promise<void> {
    this.owner = undefined;
    return Promise.resolve();
  }

  current(): Promise<StoreOwner | undefined> {
    return Promise.resolve(this.owner === undefined ? undefined : { ...this.owner });
  }
}

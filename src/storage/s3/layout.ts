/**
 * Where an S3Store keeps what (every key under the store's prefix):
 *
 * | object                          | key                                      | body                         |
 * |---------------------------------|------------------------------------------|------------------------------|
 * | a segment of a history          | `histories/<id>/<n, 12 digits>.c`        | one commit (segment.ts)      |
 * | a base of a history             | `histories/<id>/<n, 12 digits>.b`        | every live record at n       |
 * | a workflow entry                | `workflows/<id>.json`                    | the entry's JSON             |
 * | an alias                        | `aliases/<alias>.json`                   | `{"workflowId": ...}`        |
 * | which aliases point at a workflow | `alias-of/<id>/<alias>`                | empty                        |
 * | the owner (StoreOwnership)      | `owner.json`                             | the owner's record           |
 * | a store writing, until it closes | `writers/<token>.json`                  | its process and host         |
 *
 * Ids and aliases are encoded (base64url of their UTF-8, cut into pieces of 120 characters and ended by `~`)
 * so that any string is a valid key, every path piece fits a file name (S3-compatible servers that keep
 * objects as files), and no id's keys start with another id's.
 */
import { CorruptHistoryError } from '../../core/errors.js';

/** A segment's kind: one commit, or a base (the live records, replacing every segment before it). */
export type SegmentKind = 'c' | 'b';

/** A segment named by its key. */
export interface SegmentName {
  n: number;
  kind: SegmentKind;
  key: string;
}

const PIECE = 120;

/** `value` as a piece of a key: see the module comment. */
export function encodeName(value: string): string {
  const encoded = Buffer.from(value, 'utf8').toString('base64url');
  const pieces: string[] = [];
  for (let start = 0; start < encoded.length; start += PIECE) pieces.push(encoded.slice(start, start + PIECE));
  return `${pieces.join('/')}~`;
}

/** The value {@link encodeName} encoded. */
export function decodeName(encoded: string): string {
  return Buffer.from(encoded.replace(/~$/, '').replaceAll('/', ''), 'base64url').toString('utf8');
}

/** The keys of one store (one prefix). */
export class Layout {
  constructor(
    /** Ends with `/` unless empty. */
    readonly prefix: string,
  ) {}

  historyPrefix(workflowId: string): string {
    return `${this.prefix}histories/${encodeName(workflowId)}/`;
  }

  segment(workflowId: string, n: number, kind: SegmentKind): string {
    return `${this.historyPrefix(workflowId)}${String(n).padStart(12, '0')}.${kind}`;
  }

  /** The segment a key under {@link historyPrefix} names; CorruptHistoryError for a key that is none. */
  parseSegment(workflowId: string, key: string): SegmentName {
    const match = /^(\d{12})\.([cb])$/.exec(key.slice(this.historyPrefix(workflowId).length));
    if (match === null) throw new CorruptHistoryError(`an object that is no segment is among its segments: ${key}`, { workflowId });
    return { n: Number(match[1]), kind: match[2] as SegmentKind, key };
  }

  get workflowsPrefix(): string {
    return `${this.prefix}workflows/`;
  }

  workflow(workflowId: string): string {
    return `${this.workflowsPrefix}${encodeName(workflowId)}.json`;
  }

  alias(alias: string): string {
    return `${this.prefix}aliases/${encodeName(alias)}.json`;
  }

  aliasesOfPrefix(workflowId: string): string {
    return `${this.prefix}alias-of/${encodeName(workflowId)}/`;
  }

  aliasOf(workflowId: string, alias: string): string {
    return `${this.aliasesOfPrefix(workflowId)}${encodeName(alias)}`;
  }

  /** The alias a key under {@link aliasesOfPrefix} names. */
  aliasFromKey(workflowId: string, key: string): string {
    return decodeName(key.slice(this.aliasesOfPrefix(workflowId).length));
  }

  /** The owner object (StoreOwnership). */
  get owner(): string {
    return `${this.prefix}owner.json`;
  }

  /** Where writing stores leave their mark until they close cleanly. */
  get writersPrefix(): string {
    return `${this.prefix}writers/`;
  }

  /** The mark of the writing store `token`. */
  writer(token: string): string {
    return `${this.writersPrefix}${token}.json`;
  }

  /** A scratch key for the probe of conditional writes. */
  probe(token: string): string {
    return `${this.prefix}probes/${token}`;
  }
}

/**
 * The versions of one run: which version of each (declaring function, version name) is in effect at the current
 * point of the history, and which versions the code declares. A version belongs to the function that declares
 * it (as in quest.py, where it is qualified by the function), so two functions evolve independently whatever
 * their version strings.
 */
import { VersionConflictError } from './errors.js';
import type { VersionRecord } from './records.js';

/** One declared version: `fn` declares version `name` ('' its global version) at `version`. */
export interface DeclaredVersion {
  readonly fn: string;
  readonly name: string;
  readonly version: string;
}

export class VersionBook {
  // The maps are created on first use: most workflows declare no version, and every run has a book.
  /** Recorded versions by versionKey(fn, name). */
  private scoped: Map<string, string> | undefined;
  /** Format 1 versions by name: workflow-wide, see current(). */
  private workflowWide: Map<string, string> | undefined;
  /** What the running code declares, by versionKey(fn, name), in the order first declared. */
  private declared: Map<string, DeclaredVersion> | undefined;

  /**
   * The version of `name` in effect for function `fn`: its own latest record, else the latest format 1 record of
   * `name` (format 1 recorded versions workflow-wide, so before a function has a version of its own it sees what
   * every function saw then: old histories replay as they did), else `''`.
   */
  current(fn: string, name: string): string {
    return this.scoped?.get(versionKey(fn, name)) ?? this.workflowWide?.get(name) ?? '';
  }

  /** A version record read from the history, or just written. */
  apply(record: Pick<VersionRecord, 'fn' | 'name' | 'version'>): void {
    if (record.fn === null) (this.workflowWide ??= new Map()).set(record.name, record.version);
    else (this.scoped ??= new Map()).set(versionKey(record.fn, record.name), record.version);
  }

  /**
   * Note what `fn` declares. The same name declaring another value for the same version can only be another
   * function with that name (code does not change during a run): refused with VersionConflictError, since the
   * two would share one version.
   */
  declare(fn: string, versions: Readonly<Record<string, string>>): DeclaredVersion[] {
    const declarations: DeclaredVersion[] = [];
    const declared = (this.declared ??= new Map());
    for (const [name, version] of Object.entries(versions)) {
      const key = versionKey(fn, name);
      const previous = declared.get(key);
      if (previous !== undefined && previous.version !== version) throw new VersionConflictError(fn, name, previous.version, version);
      const declaration = previous ?? { fn, name, version };
      if (previous === undefined) declared.set(key, declaration);
      declarations.push(declaration);
    }
    return declarations;
  }

  /** Every version the code declared so far. */
  allDeclared(): Iterable<DeclaredVersion> {
    return this.declared?.values() ?? [];
  }
}

/** Map key of a version: the declaring function and the version name. */
export function versionKey(fn: string, name: string): string {
  return `${fn}\u0000${name}`;
}

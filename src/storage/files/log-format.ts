/**
 * The format of a history log of the file store, and the reading rules that tell a torn tail from damage
 * (docs/storage-format.md describes both for people).
 *
 * Format 2 (written since the file store's format 2): every line is a frame `<crc> <json>\n`, where `<crc>` is
 * the CRC-32 of the JSON text's UTF-8 bytes as 8 lowercase hex digits (JSON text never holds a raw newline).
 * The first frame is the header `{"quest":"history","format":2}`; then one frame per commit,
 * `{"n":<k>,"a":[records appended],"r":[seqs removed]}`, with `n` counting 1, 2, 3, ... from the header on.
 *
 * Format 1 (before): one bare JSON line `{"a":[...],"r":[...]}` per commit, no header, no checksum. Read only
 * to migrate a log to format 2 (see `readLegacyLog`).
 */
import { crc32 } from 'node:zlib';
import { CorruptHistoryError, type HistoryDamage } from '../../core/errors.js';
import type { HistoryRecord } from '../../core/records.js';

/** The format of the logs this code writes. */
export const LOG_FORMAT = 2;
const HEADER_JSON = JSON.stringify({ quest: 'history', format: LOG_FORMAT });
const NEWLINE = 0x0a;
const SPACE = 0x20;
/** `<8 hex digits><space>` before the JSON of a frame. */
const PREFIX = 9;
/** Records per frame when a log is rewritten (compaction, migration). */
const RECORDS_PER_FRAME = 256;

/** One commit as the log stores it: appends first, then removals. */
interface Commit {
  n?: unknown;
  a: HistoryRecord[];
  r: number[];
}

/** A log read back. */
export interface LogReplay {
  /** The live records, in append order. */
  records: Map<number, HistoryRecord>;
  /** Commit frames (format 2) or lines (format 1) read. */
  commits: number;
  /** Bytes of whole, valid frames; what follows is a torn tail (only when a torn tail was allowed). */
  validBytes: number;
  /** A format-1 log: rewrite it in the current format before appending to it. */
  legacy: boolean;
}

/** The frame of `json`: its checksum, a space, the JSON, a newline. */
function frame(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** The first frame of every log. */
export const HEADER = Buffer.from(frame(HEADER_JSON), 'utf8');

/**
 * The body of a commit frame without its number, serialized at commit time (what becomes durable is the change
 * as it was when commit() was called); {@link commitFrame} numbers and frames it once its place is known.
 */
export function commitBody(append: readonly HistoryRecord[], remove: readonly number[]): string {
  return `"a":${JSON.stringify(append)},"r":${JSON.stringify(remove)}`;
}

/** Commit number `n` of a log, framed. */
export function commitFrame(n: number, body: string): Buffer {
  return Buffer.from(frame(`{"n":${n},${body}}`), 'utf8');
}

/** A whole log holding `records` (in seq order): header, then frames of up to 256 records each. */
export function logOf(records: readonly HistoryRecord[]): { bytes: Buffer; commits: number } {
  const frames: Buffer[] = [HEADER];
  for (let i = 0; i < records.length; i += RECORDS_PER_FRAME) {
    frames.push(commitFrame(frames.length, commitBody(records.slice(i, i + RECORDS_PER_FRAME), [])));
  }
  return { bytes: Buffer.concat(frames), commits: frames.length - 1 };
}

/** Whether `bytes` start with a format-2 header (a log migrated already, or written by this code). */
export function hasHeader(bytes: Buffer): boolean {
  return bytes.length >= HEADER.length && bytes.subarray(0, HEADER.length).equals(HEADER);
}

/**
 * Read a format-2 log. Every frame must be whole, match its checksum and carry the next commit number;
 * anything else is damage (CorruptHistoryError naming the file and the byte offset of the bad frame) — with
 * one exception when `tornTailAllowed` (the store was not closed cleanly, or a write of this history failed):
 * bytes after the last whole frame that hold no newline are the one commit a crash interrupted, never
 * acknowledged, and are left out (`validBytes` stops before them).
 *
 * A complete-looking frame (newline-terminated) with a wrong checksum is damage even at the end: a write
 * interrupted by a crash leaves a prefix of its frame, not a whole one.
 */
export function readLog(bytes: Buffer, where: HistoryDamage, tornTailAllowed: boolean): LogReplay {
  if (!hasHeader(bytes)) {
    const what = bytes.length === 0 ? 'the log is empty (its header is missing)' : 'the log does not start with its header';
    throw new CorruptHistoryError(what, { ...where, offset: 0 });
  }
  const records = new Map<number, HistoryRecord>();
  let start = HEADER.length;
  let commits = 0;
  for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
    const commit = decodeFrame(bytes, start, end, commits + 1, { ...where, offset: start });
    applyCommit(records, commit, { ...where, offset: start });
    commits++;
    start = end + 1;
  }
  if (start < bytes.length && !tornTailAllowed) {
    throw new CorruptHistoryError(
      `commit ${commits + 1} is incomplete, yet no write was interrupted (the store was closed cleanly): the log was cut`,
      { ...where, offset: start },
    );
  }
  return { records, commits, validBytes: start, legacy: false };
}

/** The commit in the frame at [start, end) (end: its newline), checked; damage otherwise. */
function decodeFrame(bytes: Buffer, start: number, end: number, expected: number, where: HistoryDamage): Commit {
  const stored = end - start > PREFIX && bytes[start + PREFIX - 1] === SPACE ? parseHex(bytes.toString('latin1', start, start + PREFIX - 1)) : undefined;
  if (stored === undefined) throw new CorruptHistoryError(`commit ${expected} has no checksum (not a frame of a history log)`, where);
  if (crc32(bytes.subarray(start + PREFIX, end)) !== stored) {
    throw new CorruptHistoryError(`commit ${expected} does not match its checksum (its bytes were changed)`, where);
  }
  const commit = parseCommit(bytes.toString('utf8', start + PREFIX, end));
  if (commit === undefined) throw new CorruptHistoryError(`commit ${expected} matches its checksum but is not a commit`, where);
  if (commit.n !== expected) {
    throw new CorruptHistoryError(`commit ${expected} is numbered ${String(commit.n)} (a commit is missing, repeated or out of place)`, where);
  }
  return commit;
}

function parseHex(text: string): number | undefined {
  return /^[0-9a-f]{8}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

/** Parse a commit's JSON; undefined when it is not one. */
function parseCommit(text: string): Commit | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { a, r } = value as { a?: unknown; r?: unknown };
  if (!Array.isArray(a) || !Array.isArray(r)) return undefined;
  const recordsOk = a.every((record: unknown) => typeof record === 'object' && record !== null && Number.isInteger((record as { seq?: unknown }).seq));
  if (!recordsOk || !r.every((seq: unknown) => typeof seq === 'number')) return undefined;
  return value as Commit;
}

/** Apply one commit: appends first, then removals (which may name a record appended by the same commit). */
function applyCommit(records: Map<number, HistoryRecord>, commit: Commit, where: HistoryDamage): void {
  for (const record of commit.a) {
    if (records.has(record.seq)) throw new CorruptHistoryError(`the log appends seq ${record.seq} twice`, where);
    records.set(record.seq, record);
  }
  for (const seq of commit.r) records.delete(seq);
}

/**
 * Read a format-1 log (no header, no checksums), with the rules of its time: bytes after the last newline, or
 * an unreadable last line with nothing after it, are a write a crash interrupted (a power loss can persist a
 * line's newline but not its beginning); an unreadable line followed by anything is damage.
 */
export function readLegacyLog(bytes: Buffer, where: HistoryDamage): LogReplay {
  const records = new Map<number, HistoryRecord>();
  let start = 0;
  let commits = 0;
  for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
    const commit = parseCommit(bytes.toString('utf8', start, end));
    if (commit === undefined) {
      if (end + 1 === bytes.length) break;
      throw new CorruptHistoryError(`line ${commits + 1} of the log (format 1) is unreadable`, { ...where, offset: start });
    }
    applyCommit(records, commit, { ...where, offset: start });
    commits++;
    start = end + 1;
  }
  return { records, commits, validBytes: start, legacy: true };
}

/** The records in seq order (they are appended in order, so sorting is rarely needed). */
export function inSeqOrder(records: Map<number, HistoryRecord>): HistoryRecord[] {
  const list = [...records.values()];
  const sorted = list.every((record, index) => index === 0 || list[index - 1]!.seq < record.seq);
  return sorted ? list : list.sort((a, b) => a.seq - b.seq);
}

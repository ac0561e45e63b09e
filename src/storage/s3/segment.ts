/**
 * The body of a history segment: a header line, then the change as JSON.
 *
 *     {"quest":"s3-segment","format":1,"n":7,"kind":"c","bytes":123,"crc":456}\n
 *     {"append":[...records...],"remove":[...seqs...]}
 *
 * `bytes` and `crc` (CRC-32) cover the change, so a segment cut short or changed is damage, never replayed.
 */
import { crc32 } from 'node:zlib';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError } from '../../core/errors.js';
import type { SegmentName } from './layout.js';

/** What a segment holds. */
export interface SegmentBody {
  append: HistoryRecord[];
  remove: number[];
}

const FORMAT = 1;

/** The bytes of segment `name` holding `body`. */
export function encodeSegment(name: Pick<SegmentName, 'n' | 'kind'>, body: SegmentBody): Buffer {
  const change = Buffer.from(JSON.stringify(body), 'utf8');
  const header = JSON.stringify({ quest: 's3-segment', format: FORMAT, n: name.n, kind: name.kind, bytes: change.length, crc: crc32(change) });
  return Buffer.concat([Buffer.from(`${header}\n`, 'utf8'), change]);
}

/** The change in the bytes of segment `name`, checked; CorruptHistoryError when they are damaged. */
export function decodeSegment(name: SegmentName, bytes: Uint8Array, workflowId: string): SegmentBody {
  const damaged = (why: string): CorruptHistoryError => new CorruptHistoryError(`segment ${name.n} (${name.key}) ${why}`, { workflowId });
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buffer.indexOf(0x0a);
  if (newline < 0) throw damaged(buffer.length === 0 ? 'is empty' : 'has no header');
  let header: { quest?: unknown; format?: unknown; n?: unknown; kind?: unknown; bytes?: unknown; crc?: unknown };
  try {
    header = JSON.parse(buffer.subarray(0, newline).toString('utf8')) as typeof header;
  } catch {
    throw damaged('has a damaged header');
  }
  if (header.quest !== 's3-segment' || header.n !== name.n || header.kind !== name.kind) throw damaged('has a header that names another segment');
  if (header.format !== FORMAT) throw damaged(`has format ${String(header.format)}, which this version of Quest does not read`);
  const change = buffer.subarray(newline + 1);
  if (change.length !== header.bytes) throw damaged(`holds ${change.length} bytes where its header says ${String(header.bytes)} (it was cut or extended)`);
  if (crc32(change) !== header.crc) throw damaged('does not match its checksum (its bytes were changed)');
  let body: SegmentBody;
  try {
    body = JSON.parse(change.toString('utf8')) as SegmentBody;
  } catch {
    throw damaged('is not JSON');
  }
  if (!Array.isArray(body?.append) || !Array.isArray(body.remove)) throw damaged('holds no change');
  return body;
}

/**
 * Whether `bytes` look like a segment whose upload was cut: no complete header line, or fewer bytes after it
 * than the header declares. (AWS S3 never stores such an object; servers that do not check the length, such
 * as s3rver, store what arrived before the writer died.)
 */
export function looksCut(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buffer.indexOf(0x0a);
  if (newline < 0) return true;
  try {
    const header = JSON.parse(buffer.subarray(0, newline).toString('utf8')) as { bytes?: unknown };
    return typeof header.bytes === 'number' && buffer.length - newline - 1 < header.bytes;
  } catch {
    return false;
  }
}

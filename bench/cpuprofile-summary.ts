/**
 * Summarize a V8 CPU profile (`node --cpu-prof`): self time by function and by file, and total (inclusive)
 * time of the functions of this package, so the hot spots of a benchmark are visible without a GUI.
 *
 *   npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [--top=25]
 *
 * Line numbers are those of the code V8 ran: profile compiled JavaScript (tsc output) to get lines that map to
 * the sources; code loaded through tsx reports every function at line 1.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  /** Samples by source line (1-based) inside the function. */
  positionTicks?: { line: number; ticks: number }[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined || file.startsWith('--')) {
  console.error('usage: tsx bench/cpuprofile-summary.ts <file.cpuprofile> [--top=25]');
  process.exit(2);
}
const topArg = process.argv.find((arg) => arg.startsWith('--top='));
const top = topArg === undefined ? 25 : Number(topArg.slice(6));

const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** Self time (µs) of each node, from the samples and their time deltas. */
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const at = url.indexOf('/src/');
  if (at >= 0) return url.slice(at + 1);
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return url.slice(bench + 1);
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules);
  return url.replace(/^node:/, 'node:');
}

function label(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  return frame.url === '' ? name : `${name}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function pct(us: number): string {
  return `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
}

function printTop(title: string, entries: Map<string, number>): void {
  console.log(`\n${title}`);
  const sorted = [...entries.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of sorted) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
}

// Self time by function.
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const key = label(node.callFrame);
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const fileKey = node.callFrame.url === '' ? node.callFrame.functionName || '(native)' : shortUrl(node.callFrame.url);
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}

// Inclusive time: a sample counts once for every distinct function on its stack.
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node === undefined) break;
    const key = label(node.callFrame);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}
const ours = new Map([...inclusive].filter(([key]) => /\s(src|bench)\//.test(key)));

// Self samples by line, for this package's code (V8 records them per function as positionTicks).
const sampleUs = totalUs / Math.max(1, profile.samples.length);
const byLine = new Map<string, number>();
for (const node of profile.nodes) {
  if (!/\/(src|bench)\//.test(node.callFrame.url)) continue;
  for (const { line, ticks } of node.positionTicks ?? []) {
    const key = `${shortUrl(node.callFrame.url)}:${line}  (${node.callFrame.functionName || '(anonymous)'})`;
    byLine.set(key, (byLine.get(key) ?? 0) + ticks * sampleUs);
  }
}

console.log(`${file}: ${(totalUs / 1000).toFixed(0)} ms sampled, ${profile.samples.length} samples`);
printTop('Self time by function', byFunction);
printTop('Self time by file (native: V8 builtins, GC, ...)', byFile);
printTop('Inclusive time of functions in src/ and bench/', ours);
printTop('Self time by line in src/ and bench/ (approximate: samples × mean interval)', byLine);

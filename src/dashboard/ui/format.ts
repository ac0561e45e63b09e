/** How times, durations and values read on the page. */
export { showValue } from '../../inspect/history-view.js';

/** A time as local date and time to the second (ISO-like, sortable). */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '—';
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration in the largest units that matter: 850 ms, 12.3 s, 4 min 5 s, 3 h 2 min, 2 d 4 h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** A number with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

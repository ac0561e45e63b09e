/** Plots as inline SVG (no chart library): a column chart of counts over time, and horizontal size bars. */
import { formatCount, formatTime } from './format.js';

/** Columns for `series` ([time, count]), titled `title`; each column has a tooltip (title element). */
export function ColumnChart(props: { title: string; series: [number, number][]; color: string }) {
  const width = 600;
  const height = 160;
  const max = Math.max(1, ...props.series.map(([, n]) => n));
  const step = width / Math.max(1, props.series.length);
  const total = props.series.reduce((sum, [, n]) => sum + n, 0);
  return (
    <figure class="plot">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${props.title}: ${formatCount(total)} in all, at most ${formatCount(max)} per interval`}>
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {props.series.map(([at, n], i) => {
          const h = (n / max) * (height - 10);
          return (
            <rect key={at} x={i * step + 1} y={height - h} width={Math.max(1, step - 2)} height={h} fill={props.color}>
              <title>{`${formatTime(at)}: ${formatCount(n)}`}</title>
            </rect>
          );
        })}
        <text x="0" y={height + 16} class="tick">{formatTime(props.series[0]?.[0])}</text>
        <text x={width} y={height + 16} class="tick" text-anchor="end">{formatTime(props.series.at(-1)?.[0])}</text>
        <text x="4" y="12" class="tick">{formatCount(max)}</text>
      </svg>
      <figcaption>{props.title} ({formatCount(total)})</figcaption>
    </figure>
  );
}

/** One bar per item, longest first: stored records, and forgotten ones beside them. */
export function SizeBars(props: { title: string; items: { id: string; stored: number; pruned: number }[] }) {
  const shown = props.items.slice(0, 20);
  const max = Math.max(1, ...shown.map((item) => item.stored + item.pruned));
  const row = 22;
  const width = 900;
  const label = 180;
  return (
    <figure class="plot wide">
      <svg viewBox={`0 0 ${width} ${Math.max(row, shown.length * row)}`} role="img" aria-label={`${props.title}: ${shown.length} workflows`}>
        {shown.map((item, i) => {
          const stored = ((width - label - 60) * item.stored) / max;
          const pruned = ((width - label - 60) * item.pruned) / max;
          return (
            <g key={item.id} transform={`translate(0 ${i * row})`}>
              <text x="0" y="15" class="tick">{item.id.length > 24 ? `${item.id.slice(0, 23)}…` : item.id}</text>
              <rect x={label} y="4" width={Math.max(1, stored)} height="14" class="bar-stored" />
              <rect x={label + stored} y="4" width={pruned} height="14" class="bar-pruned" />
              <text x={label + stored + pruned + 4} y="15" class="tick">{`${formatCount(item.stored)} / ${formatCount(item.pruned)}`}</text>
              <title>{`${item.id}: ${formatCount(item.stored)} records stored, ${formatCount(item.pruned)} forgotten`}</title>
            </g>
          );
        })}
      </svg>
      <figcaption>{props.title}: records stored (dark) and forgotten (light)</figcaption>
    </figure>
  );
}

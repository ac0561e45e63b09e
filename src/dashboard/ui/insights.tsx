/** Versions still replayed by live histories (what `quest versions` prints) and plots over all workflows. */
import { versionLabel } from '../../core/records.js';
import type { Session } from './api.js';
import { usePolled } from './hooks.js';
import { ColumnChart, SizeBars } from './plots.js';

export function Insights({ session }: { session: Session }) {
  const versions = usePolled(() => session.client.versions(), []);
  const stats = usePolled(() => session.client.stats(), [], 10_000);
  return (
    <>
      <h1>Insights</h1>
      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Code versions in live histories</h2>
        <p class="hint">A version no running workflow replays can have its code path deleted.</p>
        {versions.error !== null && <p role="alert" class="error">{versions.error}</p>}
        {versions.value !== undefined &&
          (versions.value.length === 0 ? (
            <p class="muted">No running history records a version.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr><th scope="col">Function / name</th><th scope="col">Version</th><th scope="col">Running workflows</th></tr>
                </thead>
                <tbody>
                  {versions.value.map((v) => (
                    <tr key={`${v.fn}:${v.name}:${v.version}`}>
                      <td><code>{versionLabel(v.fn, v.name)}</code></td>
                      <td>{v.version === '' ? '(before any version)' : JSON.stringify(v.version)}</td>
                      <td>{v.workflows.length} <span class="muted">{v.workflows.slice(0, 5).join(', ')}{v.workflows.length > 5 ? ', …' : ''}</span></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </section>
      <section aria-labelledby="plots-title">
        <h2 id="plots-title">Over time</h2>
        {stats.error !== null && <p role="alert" class="error">{stats.error}</p>}
        {stats.value !== undefined && (
          <div class="plots">
            <ColumnChart title="Workflows started" series={stats.value.started} color="#3b6fd8" />
            <ColumnChart title="Workflows finished" series={stats.value.finished} color="#2e9e5b" />
            <SizeBars title="Largest running histories" items={stats.value.historySizes} />
          </div>
        )}
      </section>
    </>
  );
}

// A node:test reporter that writes one line at the end of the run: "N passed, N failed" (with todo and skipped
// counts when there are any), for CI to read. scripts/run-tests.mjs prints it after the spec reporter's output.
export default async function* summary(source) {
  const counts = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
  for await (const event of source) {
    if (event.type !== 'test:diagnostic' || event.data.nesting !== 0) continue;
    const match = /^(tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(event.data.message);
    if (match !== null) counts[match[1]] = Number(match[2]);
  }
  const extra = [counts.todo > 0 ? `${counts.todo} todo` : '', counts.skipped > 0 ? `${counts.skipped} skipped` : '']
    .filter((part) => part !== '')
    .join(', ');
  yield `${counts.pass} passed, ${counts.fail + counts.cancelled} failed${extra === '' ? '' : `, ${extra}`}\n`;
}

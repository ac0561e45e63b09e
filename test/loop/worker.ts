/**
 * Run the counting scenario (scenario.ts) in a worker thread.
 *
 * Why: under `node --test`, Node 20's test harness installs an async_hooks init/destroy hook that tracks every
 * promise created inside a test (to report asynchronous activity after a test ended). Quest creates several
 * promises per event, so a million events run about 3.5 times slower inside a test than in a plain process
 * (measured: 200,000 events in batches of 100 take 1.2 s in a plain process, 4.3 s inside test()). A worker
 * thread has no such hook; the test still makes every assertion on the report the worker sends back.
 */
import { Worker } from 'node:worker_threads';
import type { ScenarioInput, ScenarioReport } from './scenario.js';

export function runInWorker(input: ScenarioInput): Promise<ScenarioReport> {
  const tsx = import.meta.resolve('tsx/esm/api');
  const scenario = new URL('./scenario.ts', import.meta.url).href;
  const source = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { register } = await import(${JSON.stringify(tsx)});
    register();
    const { runScenario } = await import(${JSON.stringify(scenario)});
    parentPort.postMessage(await runScenario(workerData));
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: input });
  return new Promise((resolve, reject) => {
    let report: ScenarioReport | undefined;
    worker.on('message', (message: ScenarioReport) => {
      report = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (report !== undefined) resolve(report);
      else reject(new Error(`the scenario worker exited with code ${code} without a report`));
    });
  });
}

/** `npm run build` step: the dashboard into dist/dashboard-ui, which QuestServer serves at /ui/ (dashboard: true). */
import { buildDashboard } from '../src/dashboard/build.js';

const files = await buildDashboard('dist/dashboard-ui');
console.log(`dashboard built: ${files.join(', ')}`);

/**
 * The `npm run build` step after tsc: the dashboard into dist/dashboard-ui, which QuestServer serves at /ui/
 * (`dashboard: true`). Under src/ (not scripts/) because a clone packed with `npm pack` builds from src alone.
 */
import { buildDashboard } from './build.js';

const files = await buildDashboard('dist/dashboard-ui');
console.log(`dashboard built: ${files.join(', ')}`);

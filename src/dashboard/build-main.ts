/**
 * The `npm run build` step after tsc: the dashboard into dist/dashboard-ui, which QuestServer serves at /ui/
 * (`dashboard: true`). Under src/ (not scripts/) because a clone packed with `npm pack` builds from src alone.
 */
import { buildDashboard } from './build.js';

// Silent on success, like tsc before it: `npm pack --json` prints the build's stdout into its JSON.
await buildDashboard('dist/dashboard-ui');

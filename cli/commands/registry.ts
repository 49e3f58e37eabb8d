import type { Command } from './command';

/**
 * The commands, in the order the usage lists them. Registering one is one line: its name and a lazy import of
 * its module, which exports `command: Command` (only the command that runs is loaded).
 */
export const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  demo: () => import('./demo'),
  seed: () => import('./seed'),
  run: () => import('./run'),
  backfill: () => import('./backfill'),
  retry: () => import('./retry'),
  rebuild: () => import('./rebuild'),
  compare: () => import('./compare'),
  query: () => import('./query'),
  drop: () => import('./drop'),
  status: () => import('./status'),
  produce: () => import('./produce'),
  stream: () => import('./stream'),
  'events-resume': () => import('./events-resume'),
  report: () => import('./report'),
};

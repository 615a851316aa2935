// V8 settings for a campaign process (every worker thread shares them).
//
// Concurrent recompilation off: a campaign cycles through dozens of property × profile pairs,
// each a different slice of the engine, and TurboFan keeps recompiling in background threads.
// On the 2-core machines nestfuzz runs on, that background work competes with the workers
// themselves. Measured with `fuzz --time 60s` (runs, notes of 2026-11-26): 1 worker 3.27M → 3.43M
// and 2.42M → 2.48M; 2 workers 5.73M → 7.37M and 4.79M → 6.08M. Compilation then happens on the
// worker's own thread, where the time it takes is time that worker does not fuzz, which is fair.

import { setFlagsFromString } from 'node:v8';

let applied = false;

/** Applies the campaign V8 flags once, before any worker thread starts. */
export function applyCampaignV8Flags(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString('--no-concurrent-recompilation');
}

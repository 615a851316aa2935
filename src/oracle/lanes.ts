// How a batch is spread over emulator instances: as lanes, each a sequence of states one instance
// runs in order. The caller decides what goes where (holdBack.ts puts a crash it must confirm at
// the end of a lane, where the crash costs no reboot); the adapters only run them.

import { sliceStates, type StatePages } from './statePages.ts';

/** `pages` cut into `jobs` contiguous lanes of near-equal length (one lane at least). */
export function evenLanes(pages: StatePages, jobs: number): StatePages[] {
  const n = Math.max(1, jobs);
  const per = Math.max(1, Math.ceil(pages.length / n));
  const lanes: StatePages[] = [];
  for (let i = 0; i < pages.length; i += per) lanes.push(sliceStates(pages, i, i + per));
  return lanes.length > 0 ? lanes : [pages];
}

/**
 * Runs every lane, each on instances of its own (a lane longer than `maxPerInstance` states
 * continues on a fresh instance), at most `jobs` instances at once; results in lane order, one
 * per instance run. Empty lanes are skipped, unless every lane is: a batch of no states still
 * boots once, which is how an adapter reads the CPU model.
 */
export async function runLanes<R>(lanes: readonly StatePages[], jobs: number, maxPerInstance: number, run: (pages: StatePages) => Promise<R>): Promise<R[]> {
  const busy = lanes.filter((l) => l.length > 0);
  const work: StatePages[][] = busy.map((lane) => {
    const parts: StatePages[] = [];
    for (let i = 0; i < lane.length; i += maxPerInstance) parts.push(sliceStates(lane, i, i + maxPerInstance));
    return parts;
  });
  if (work.length === 0) work.push([sliceStates(lanes[0] ?? { length: 0, writeInto: () => {} }, 0, 0)]);
  const results: R[][] = work.map(() => []);
  let nextLane = 0;
  // A lane's parts run one after another (its order is kept); free instances take the next lane.
  const worker = async (): Promise<void> => {
    while (nextLane < work.length) {
      const l = nextLane++;
      for (const part of work[l]) results[l].push(await run(part));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, work.length)) }, worker));
  return results.flat();
}

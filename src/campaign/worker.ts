// A campaign worker thread (workers.ts starts it): runs the pairs the campaign's shared queue
// hands it, one at a time, with the campaign's options, and posts the result back. Profiles
// travel by name, so only registered profiles and the default property registry can run in workers.

import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { getProfile } from '../engine/profile_list.ts';
import type { Profile } from '../engine/profiles.ts';
import { PairQueue, sharedClock, type PairGrant } from './pairQueue.ts';
import { runCampaign, type CampaignOptions } from './runner.ts';
import type { WorkerJob } from './workers.ts';

const job = workerData as WorkerJob;
const ac = new AbortController();
parentPort?.on('message', (m: unknown) => {
  if (m === 'abort') ac.abort();
});

const queue = new PairQueue(job.queue.buffer, job.queue.budget);
let started = false;
const nextPair = async (): Promise<PairGrant | null> => {
  // Loaded: wait at the start line for the other workers, then take pairs.
  if (!started) {
    started = true;
    queue.arrive(job.index - 1);
    queue.waitForAll();
  }
  return queue.next(job.index - 1, sharedClock());
};

const profile = (name: string): Profile => {
  const p = getProfile(name);
  if (!p) throw new Error(`worker: unknown profile ${name}`);
  return p;
};

const opts: CampaignOptions = {
  ...job.options,
  ...(job.profiles ? { profiles: job.profiles.map(profile) } : {}),
  ...(job.compare ? { compare: [profile(job.compare[0]), profile(job.compare[1])] as const } : {}),
  nextPair,
  writeIndex: false,
  signal: ac.signal,
};

runCampaign(opts).then(
  // The isolate's heap at the end (peak is what a CI machine must have: total_heap_size after the run).
  (result) => parentPort?.postMessage({ type: 'result', result, heapMb: +(getHeapStatistics().total_heap_size / 2 ** 20).toFixed(1) }),
  (e: unknown) => parentPort?.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code, fix: (e as { fix?: string }).fix }),
);

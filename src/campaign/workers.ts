// fuzz --workers N: the campaign's pairs spread over N worker threads (worker.ts), with the same
// options. The main thread plans the campaign and puts its pairs in a queue in shared memory
// (pairQueue.ts): each worker starts on its own slice of the plan, takes over half of another's
// when its own runs out, and gets each pair's time budget from it. A pair's fast-check seed
// depends only on (campaign seed, property, profile), so a failure reproduces from (seed,
// property, profile, path) whichever worker found it. Workers write counterexamples straight into
// the campaign's corpus (content-addressed, atomic files); the main thread merges their results and
// keeps corpus/index.json. SIGINT/SIGTERM reach every worker through the campaign's AbortSignal.

import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { corpusBuckets, recordFailure, writeIndex } from './buckets.ts';
import { combineCoverage } from './coverageRecords.ts';
import { NestfuzzError } from './errors.ts';
import { PairQueue, type PairBudget } from './pairQueue.ts';
import { planCampaign } from './plan.ts';
import { runCampaign, type CampaignOptions, type CampaignResult } from './runner.ts';

/** What a worker needs, as plain data (profiles by name). */
export interface WorkerJob {
  options: Omit<CampaignOptions, 'profiles' | 'compare' | 'signal' | 'logger' | 'onProgress' | 'registry' | 'now'>;
  profiles: string[] | null;
  compare: [string, string] | null;
  /** 1-based. */
  index: number;
  /** The campaign's pair queue (PairQueue.create(…, shared)), and its budget. */
  queue: { buffer: SharedArrayBuffer; budget: PairBudget };
}

type WorkerMessage = { type: 'result'; result: CampaignResult; heapMb: number } | { type: 'error'; message: string; code?: string; fix?: string };

function runWorker(job: WorkerJob, queue: PairQueue, signal: AbortSignal | undefined): Promise<CampaignResult> {
  return new Promise((resolve, reject) => {
    // worker-boot.mjs registers tsx's loader in the new thread, then imports worker.ts.
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: job });
    const onAbort = (): void => w.postMessage('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    let settled = false;
    w.on('message', (m: WorkerMessage) => {
      settled = true;
      queue.arrive(job.index - 1);
      signal?.removeEventListener('abort', onAbort);
      void w.terminate();
      if (m.type === 'result') resolve({ ...m.result, workerHeapMb: [m.heapMb] });
      // A user error found in the worker is the same one-line error; anything else is internal (exit 3).
      else if (m.code?.startsWith('NESTFUZZ_')) reject(new NestfuzzError(m.code as ConstructorParameters<typeof NestfuzzError>[0], m.message, m.fix ?? ''));
      else reject(new Error(`worker ${job.index}: ${m.message}`));
    });
    // A worker gone before it reached the start line must not hold the others there.
    w.on('error', (e) => {
      queue.arrive(job.index - 1);
      if (!settled) reject(new Error(`worker ${job.index} crashed: ${e.message} (run with --workers 1 to reproduce in the main thread)`));
    });
    w.on('exit', (code) => {
      queue.arrive(job.index - 1);
      if (!settled) reject(new Error(`worker ${job.index} exited with code ${code} before reporting (run with --workers 1 to reproduce in the main thread)`));
    });
  });
}

/** The workers' results as one campaign: pairs and failures in plan order, runs and coverage summed. */
function combine(results: CampaignResult[], elapsedMs: number): CampaignResult {
  const order = new Map(results[0].properties.map((p, i) => [p, i]));
  const byPlan = <T extends { property: string; profile: string }>(xs: T[]): T[] =>
    xs.sort((a, b) => (order.get(a.property) ?? 0) - (order.get(b.property) ?? 0) || a.profile.localeCompare(b.profile));
  const failures = byPlan(results.flatMap((r) => r.failures));
  const interrupted = results.some((r) => r.interrupted);
  const common = {
    ...results[0],
    runs: results.reduce((n, r) => n + r.runs, 0),
    pairs: byPlan(results.flatMap((r) => r.pairs)),
    failures,
    ...combineCoverage(results),
    workerHeapMb: results.flatMap((r) => r.workerHeapMb ?? []),
    elapsedMs,
  };
  if (failures.length > 0) return { ...common, failed: true, interrupted };
  return interrupted ? { ...common, failed: false, interrupted: true } : { ...common, failed: false, interrupted: false };
}

/** runCampaign over `workers` threads (1: in this thread). */
export async function runCampaignWorkers(opts: CampaignOptions, workers: number): Promise<CampaignResult> {
  if (!Number.isInteger(workers) || workers < 1) throw new NestfuzzError('NESTFUZZ_USAGE', `--workers ${workers} is not a positive whole number`, 'write it like --workers 2');
  if (workers === 1) return runCampaign(opts);
  if (opts.registry || opts.replay) throw new NestfuzzError('NESTFUZZ_USAGE', 'a custom property registry or a replay runs in one thread', 'use --workers 1');
  const { profiles, compare, signal, logger: _l, onProgress: _p, registry: _r, now: _n, ...options } = opts;
  const t0 = performance.now();
  const plan = planCampaign(opts);
  const budget: PairBudget = { timeMs: plan.timeMs, timePerPropertyMs: opts.timePerPropertyMs };
  const queue = PairQueue.create(plan.pairs.length, workers, budget, true);
  const jobs: WorkerJob[] = Array.from({ length: workers }, (_, i) => ({
    options, profiles: profiles ? profiles.map((p) => p.name) : null, compare: compare ? [compare[0].name, compare[1].name] : null, index: i + 1,
    queue: { buffer: queue.buffer as SharedArrayBuffer, budget },
  }));
  const results = await Promise.all(jobs.map((j) => runWorker(j, queue, signal)));
  const combined = combine(results, Math.round(performance.now() - t0));
  // The failure database is the main thread's: one write, from every worker's failures.
  const corpusDir = join(opts.outDir ?? '.', 'corpus');
  const index = corpusBuckets(corpusDir);
  for (const f of combined.failures) {
    const at = (opts.now?.() ?? new Date()).toISOString();
    const { isNew } = recordFailure(corpusDir, index, { property: f.property, profile: f.profile, other_profile: f.otherProfile, code: f.verdict.code, file: f.corpusFile, at, strict_arch: opts.strictArch === true });
    f.newBucket = f.newBucket && isNew;
  }
  if (combined.failures.length) writeIndex(corpusDir, index);
  return combined;
}

// runCampaign: every selected property against every profile (or one `--compare` pair), under a
// time and/or run budget, returning data (after fast-check's Runner / RunDetails). Per
// property×profile pair:
//
//   1. fast-check generates and checks cases, seeded from `${seed}/${property}/${profile}`;
//      every failing predicate call is recorded (the first is the original failure, each later one
//      an accepted shrink), and fast-check shrinks the failure through the arbitrary.
//   2. revertToBase and verifyOneMinimal shrink the concrete case further (shrink.ts).
//   3. The counterexample goes to corpus/<property>/<hash>.json and its transcript to
//      shrink-logs/<property>/<hash>.log at once, so an interrupted campaign keeps every
//      counterexample it had found.
//
// The budget: `timeMs` is shared by the remaining pairs (pairQueue.ts: each pair gets
// remaining/pairsLeft, so a pair that ends early donates its time); `runs` caps each pair.
// Shrinking a failure has its own budget (`shrinkTimeMs`), so a failure found late is still shrunk.
// An AbortSignal (SIGINT in the CLI) interrupts the pair in progress, which still saves what it
// found, and skips the rest.

import { join } from 'node:path';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import type { AnyCase, NestfuzzProperty, PropertyContext, Verdict } from '../../properties/types.ts';
import type { Profile } from '../engine/profiles.ts';
import { runAny } from '../engine/run_any.ts';
import { BudgetedProperty } from './budgetedProperty.ts';
import { corpusHash, saveCounterexample, saveShrinkLog, toolVersion, type CorpusEntry } from './corpus.ts';
import { COVERAGE_SAMPLE_EVERY, Coverage, allMmuCheckIds, allMutationKinds, allSvmCheckIds, allVmxCheckIds, type CheckCount } from './coverage.ts';
import { oneLine } from './errors.ts';
import { SILENT_LOGGER, type Logger } from './log.ts';
import { PairQueue, sharedClock, type PairGrant } from './pairQueue.ts';
import { planCampaign, profileKey, type Pair } from './plan.ts';
import { revertToBase, round, verifyOneMinimal, type StillFails } from './shrink.ts';
import { renderShrinkLog, shrinkCount, type FastCheckStep, type ShrinkTranscript } from './shrinkLog.ts';
import { bucketSignature, corpusBuckets, liveRepresentative, recordFailure, writeIndex, type BucketIndex } from './buckets.ts';

export const DEFAULT_SEED = 'nestfuzz';
export { DEFAULT_TIME_MS } from './plan.ts';
export const DEFAULT_SHRINK_TIME_MS = 30_000;

export interface CampaignProgress {
  event: 'pair-start' | 'running' | 'pair-end';
  pairIndex: number;
  pairCount: number;
  property: string;
  profile: string;
  otherProfile: string | null;
  /** Cases checked in this pair so far. */
  pairRuns: number;
  /** Cases checked in the whole campaign so far. */
  totalRuns: number;
  failures: number;
  elapsedMs: number;
}

export interface CampaignOptions {
  /** Glob patterns on property ids (default ['*']). */
  properties?: readonly string[];
  /** Profiles to run every property on (default nonBugProfiles()). Ignored with `compare`. */
  profiles?: readonly Profile[];
  /** Run only properties with `compares: true`, on this pair of profiles. */
  compare?: readonly [Profile, Profile];
  /** Campaign seed (default 'nestfuzz'). */
  seed?: string;
  /** Time budget for the whole campaign. Default 20 s when neither timeMs nor runs is given. */
  timeMs?: number;
  /** Max cases per property×profile pair. */
  runs?: number;
  /** Time budget of each property on each profile (a pair); with timeMs, the smaller share wins. */
  timePerPropertyMs?: number;
  /** Per failure: time allowed for fast-check's shrinking (default 30 s). */
  shrinkTimeMs?: number;
  /**
   * Coverage is collected on every this-many-th generated case (default COVERAGE_SAMPLE_EVERY);
   * 0 collects none. Only `npm run bench` changes it, to measure what coverage costs.
   */
  coverageSampleEvery?: number;
  strictArch?: boolean;
  /** Root of corpus/ and shrink-logs/ (default '.'). */
  outDir?: string;
  onProgress?: (p: CampaignProgress) => void;
  logger?: Logger;
  signal?: AbortSignal;
  /** Property registry (default PROPERTY_LIST from properties/index.ts). */
  registry?: readonly NestfuzzProperty[];
  /** Replay fast-check coordinates (needs exactly one property×profile pair). */
  replay?: { seed: number; path: string };
  /** Clock for found_at (tests). */
  now?: () => Date;
  /** Run only shard `index` (1-based) of `count`: pair k of the plan goes to shard (k mod count) + 1. */
  shard?: { index: number; count: number };
  /**
   * Inside a worker thread (workers.ts): the campaign's shared queue hands out the pairs (index in
   * the shard's plan, and time budget); null = no pair left. Without it the pairs run in plan order.
   */
  nextPair?: () => Promise<PairGrant | null>;
  /** Keep corpus/index.json up to date (default true); workers leave it to the main thread. */
  writeIndex?: boolean;
}

export type StopReason = 'runs' | 'time' | 'signal' | 'failure' | 'too-many-skips';

export interface PairSummary {
  property: string;
  profile: string;
  otherProfile: string | null;
  /** fast-check seed of this pair. */
  seed: number;
  runs: number;
  failed: boolean;
  stoppedBy: StopReason;
  elapsedMs: number;
}

export interface SkippedProperty {
  property: string;
  reason: string;
}

export interface CampaignFailure {
  property: string;
  profile: string;
  otherProfile: string | null;
  verdict: { code: string; message: string };
  corpusFile: string;
  shrinkLogFile: string;
  hash: string;
  /** false when the corpus already held this counterexample (or another of its bucket). */
  newInCorpus: boolean;
  /** The failure's bucket signature (property|profile|verdict code) and whether the corpus had it before. */
  bucket: string;
  newBucket: boolean;
  /** Replay coordinates: `fc.check(prop, { seed, path })`. */
  seed: number;
  path: string;
  /** fast-check's accepted shrinks plus kept revert-to-base steps. */
  shrinkCount: number;
  fastCheckShrinks: number;
  revertedToBase: number;
  oneMinimal: boolean;
}

interface CampaignCommon {
  seed: string;
  /** Cases checked, all pairs. */
  runs: number;
  properties: string[];
  profiles: string[];
  compare: [string, string] | null;
  pairs: PairSummary[];
  skipped: SkippedProperty[];
  failures: CampaignFailure[];
  /** id → evaluations that passed/failed, over the sampled cases (coverage.ts). */
  checks: Record<string, CheckCount>;
  /** Check ids that failed in at least one sampled case. */
  checksHit: string[];
  neverHit: string[];
  coverageSamples: number;
  /** Sampled cases per engine outcome ("<scenario kind>:<outcome>"). */
  outcomes: Record<string, number>;
  /** Sampled cases per mutation kind applied, and the kinds of the selected areas never applied. */
  mutationKinds: Record<string, number>;
  mutationKindsNeverHit: string[];
  elapsedMs: number;
  corpusDir: string;
  shrinkLogDir: string;
  /** 'i/n' when the campaign ran one shard of its plan. */
  shard: string | null;
  /** --workers > 1: each worker thread's V8 heap (MiB) when it finished. */
  workerHeapMb?: number[];
  /** Every property × profile pair of the unsharded plan ("property|profile"), for merge and triage. */
  plannedPairs: number;
}

export interface CampaignFailed extends CampaignCommon {
  failed: true;
  interrupted: boolean;
}

export interface CampaignInterrupted extends CampaignCommon {
  failed: false;
  interrupted: true;
}

export interface CampaignSucceeded extends CampaignCommon {
  failed: false;
  interrupted: false;
}

export type CampaignResult = CampaignFailed | CampaignInterrupted | CampaignSucceeded;

/** fast-check seed of one pair: 32 bits from seedrandom over `${seed}/${property}/${profile}`. */
export function deriveSeed(seed: string, property: string, profileKey: string): number {
  return seedrandom(`${seed}/${property}/${profileKey}`).int32();
}

/** The predicate's verdict; a throw is a failure with code 'predicate-threw' (a crash is a finding). */
export function safeVerdict(prop: NestfuzzProperty, c: AnyCase, ctx: PropertyContext): Verdict {
  try {
    return prop.predicate(c, ctx);
  } catch (e) {
    return { ok: false, code: 'predicate-threw', message: oneLine(e), details: { stack: e instanceof Error ? e.stack : undefined } };
  }
}

interface PairOutcome {
  summary: PairSummary;
  failure: CampaignFailure | null;
}

interface CampaignState {
  opts: CampaignOptions;
  log: Logger;
  coverage: Coverage;
  t0: number;
  totalRuns: number;
  failures: number;
  corpusDir: string;
  shrinkLogDir: string;
  /** The failure database of corpusDir (buckets.ts), updated as failures come in. */
  index: BucketIndex;
}

async function runPair(st: CampaignState, pair: Pair, pairIndex: number, pairCount: number, timeMs: number | null): Promise<PairOutcome> {
  const { opts, log, coverage } = st;
  const { prop, profile, other } = pair;
  const ctx: PropertyContext = { profile, strictArch: opts.strictArch ?? false, ...(other ? { other } : {}) };
  const seed = opts.replay?.seed ?? deriveSeed(opts.seed ?? DEFAULT_SEED, prop.id, profileKey(pair));
  const shrinkTimeMs = opts.shrinkTimeMs ?? DEFAULT_SHRINK_TIME_MS;
  const tPair = performance.now();
  const genDeadline = timeMs === null ? Infinity : tPair + timeMs;
  let shrinkDeadline = Infinity;
  let phase: 'generate' | 'shrink' = 'generate';
  let runs = 0;
  const steps: FastCheckStep[] = [];
  let lastProgress = 0;

  const progress = (event: CampaignProgress['event']): void => {
    opts.onProgress?.({
      event, pairIndex, pairCount, property: prop.id, profile: profile.name, otherProfile: other?.name ?? null,
      pairRuns: runs, totalRuns: st.totalRuns + runs, failures: st.failures, elapsedMs: performance.now() - st.t0,
    });
  };

  const sampleEvery = opts.coverageSampleEvery ?? COVERAGE_SAMPLE_EVERY;
  const predicate = (c: AnyCase): boolean => {
    if (phase === 'generate') {
      runs++;
      if (sampleEvery > 0 && runs % sampleEvery === 1 % sampleEvery) {
        try {
          const r = runAny(c.scenario, profile);
          coverage.recordTrace(r.trace);
          coverage.recordCase(c.scenario.arch, r.outcome, c.mutations);
        } catch {
          // The engine never throws on architectural input; a property's own checks report it if it does.
        }
      }
    }
    const v = safeVerdict(prop, c, ctx);
    if (!v.ok) {
      steps.push({ case: structuredClone(c), atMs: performance.now() - tPair });
      if (phase === 'generate') {
        phase = 'shrink';
        shrinkDeadline = performance.now() + shrinkTimeMs;
        log.warn({ property: prop.id, profile: profile.name, code: v.code, run: runs }, 'invariant failed, shrinking');
      }
    }
    return v.ok;
  };

  const stop: { reason: StopReason | null } = { reason: null };
  const shouldStop = (): boolean => {
    if (opts.signal?.aborted) {
      stop.reason = 'signal';
      return true;
    }
    const t = performance.now();
    if (phase === 'generate' ? t > genDeadline : t > shrinkDeadline) {
      stop.reason = 'time';
      return true;
    }
    return false;
  };

  log.info({ property: prop.id, profile: profile.name, other: other?.name, seed }, 'pair start');
  progress('pair-start');
  const property = new BudgetedProperty(fc.property(prop.arbitrary(), predicate), {
    shouldStop,
    onYield: () => {
      const t = performance.now();
      if (t - lastProgress >= 200) {
        lastProgress = t;
        progress('running');
      }
    },
  });
  const numRuns = opts.runs ?? 0x7fffffff;
  const details = await fc.check(property, {
    seed,
    numRuns,
    endOnFailure: false,
    ...(opts.replay ? { path: opts.replay.path } : {}),
  });
  const fcDurationMs = steps.length > 0 ? performance.now() - tPair - steps[0].atMs : 0;

  let failure: CampaignFailure | null = null;
  if (steps.length > 0) {
    const fcCase = details.counterexample?.[0] ?? steps[steps.length - 1].case;
    failure = finishFailure(st, pair, seed, details.counterexamplePath ?? '', fcCase, steps, details.numShrinks, fcDurationMs, ctx);
  }
  const stoppedBy: StopReason = failure
    ? (stop.reason === 'signal' ? 'signal' : 'failure')
    : (stop.reason ?? (details.failed && !details.interrupted ? 'too-many-skips' : 'runs'));
  const summary: PairSummary = {
    property: prop.id, profile: profile.name, otherProfile: other?.name ?? null, seed,
    runs, failed: failure !== null, stoppedBy, elapsedMs: round(performance.now() - tPair),
  };
  log.info({ property: prop.id, profile: profile.name, runs, failed: summary.failed, stoppedBy, ms: summary.elapsedMs }, 'pair done');
  progress('pair-end');
  st.totalRuns += runs;
  return { summary, failure };
}

function finishFailure(
  st: CampaignState, pair: Pair, seed: number, path: string, fcCase: AnyCase, steps: FastCheckStep[],
  numShrinks: number, fcDurationMs: number, ctx: PropertyContext,
): CampaignFailure {
  const { prop, profile, other } = pair;
  const { log } = st;
  const first = safeVerdict(prop, fcCase, ctx);
  const code = first.ok ? null : first.code;
  // Same code: a revert that turns this failure into a different one is not kept (no slippage).
  const stillFails: StillFails = (c) => {
    const v = safeVerdict(prop, c, ctx);
    return !v.ok && (code === null || v.code === code);
  };
  const aborted = st.opts.signal?.aborted ?? false;
  const revert = revertToBase(fcCase, stillFails, { logger: log, ...(aborted ? { maxAttempts: 0 } : {}) });
  const verify = verifyOneMinimal(revert.case, stillFails, { logger: log });
  const finalVerdict = safeVerdict(prop, revert.case, ctx);
  const verdict = finalVerdict.ok
    ? { code: 'flaky', message: 'the invariant held when the shrunk case was re-run' }
    : { code: finalVerdict.code, message: finalVerdict.message };
  const entry: CorpusEntry = {
    schema: 1,
    tool: { name: 'nestfuzz', version: toolVersion() },
    property: prop.id,
    profile: profile.name,
    ...(other ? { other_profile: other.name } : {}),
    ...(ctx.strictArch ? { strict_arch: true as const } : {}),
    seed,
    path,
    found_at: (st.opts.now?.() ?? new Date()).toISOString(),
    verdict,
    expected: 'fail',
    mutations: [...revert.case.mutations],
    case: revert.case,
  };
  // One representative per bucket: a failure whose bucket the corpus already has only counts.
  const signature = bucketSignature(prop.id, profile.name, other?.name ?? null, verdict.code, ctx.strictArch);
  const existing = liveRepresentative(st.corpusDir, st.index.buckets[signature]);
  if (existing) {
    const { bucket } = recordFailure(st.corpusDir, st.index, { property: prop.id, profile: profile.name, other_profile: other?.name ?? null, code: verdict.code, file: existing, at: entry.found_at, strict_arch: ctx.strictArch });
    if (st.opts.writeIndex !== false) writeIndex(st.corpusDir, st.index);
    st.failures++;
    log.warn({ property: prop.id, profile: profile.name, code: verdict.code, bucket: signature, count: bucket.count }, 'known bucket: counted, representative kept');
    return {
      property: prop.id, profile: profile.name, otherProfile: other?.name ?? null, verdict,
      corpusFile: existing, shrinkLogFile: '', hash: '', newInCorpus: false, bucket: signature, newBucket: false,
      seed, path, shrinkCount: numShrinks + revert.kept, fastCheckShrinks: numShrinks, revertedToBase: revert.kept, oneMinimal: verify.oneMinimal,
    };
  }
  const saved = saveCounterexample(st.corpusDir, entry);
  const recorded = recordFailure(st.corpusDir, st.index, { property: prop.id, profile: profile.name, other_profile: other?.name ?? null, code: verdict.code, file: saved.file, at: entry.found_at, strict_arch: ctx.strictArch });
  if (st.opts.writeIndex !== false) writeIndex(st.corpusDir, st.index);
  const transcript: ShrinkTranscript = {
    property: prop.id, profile: profile.name, ...(other ? { otherProfile: other.name } : {}), seed, path, verdict,
    fastCheck: { steps, numShrinks, durationMs: fcDurationMs },
    revert,
    verify,
  };
  const logFile = saveShrinkLog(st.shrinkLogDir, prop.id, corpusHash(entry), renderShrinkLog(transcript));
  st.failures++;
  log.warn({ property: prop.id, profile: profile.name, code: verdict.code, corpus: saved.file, shrinks: shrinkCount(transcript), oneMinimal: verify.oneMinimal }, 'counterexample saved');
  return {
    property: prop.id, profile: profile.name, otherProfile: other?.name ?? null, verdict,
    corpusFile: saved.file, shrinkLogFile: logFile.file, hash: saved.hash, newInCorpus: saved.created, bucket: signature, newBucket: recorded.isNew,
    seed, path, shrinkCount: shrinkCount(transcript), fastCheckShrinks: numShrinks, revertedToBase: revert.kept,
    oneMinimal: verify.oneMinimal,
  };
}

export async function runCampaign(opts: CampaignOptions = {}): Promise<CampaignResult> {
  const { props, planned, pairs, skipped, profiles, timeMs } = planCampaign(opts);
  const outDir = opts.outDir ?? '.';
  const st: CampaignState = {
    opts, log: opts.logger ?? SILENT_LOGGER, coverage: new Coverage(), t0: performance.now(), totalRuns: 0, failures: 0,
    corpusDir: join(outDir, 'corpus'), shrinkLogDir: join(outDir, 'shrink-logs'), index: corpusBuckets(join(outDir, 'corpus')),
  };
  st.log.info({ seed: opts.seed ?? DEFAULT_SEED, pairs: pairs.length, timeMs, runs: opts.runs }, 'campaign start');

  const summaries: PairSummary[] = [];
  const failures: CampaignFailure[] = [];
  let interrupted = false;
  const queue = PairQueue.create(pairs.length, 1, { timeMs, timePerPropertyMs: opts.timePerPropertyMs });
  const nextPair = opts.nextPair ?? (async () => queue.next(0, sharedClock()));
  for (;;) {
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
    const grant = await nextPair();
    if (!grant) break;
    const { summary, failure } = await runPair(st, pairs[grant.index], grant.index, pairs.length, grant.timeMs);
    summaries.push(summary);
    if (failure) failures.push(failure);
    if (summary.stoppedBy === 'signal') {
      interrupted = true;
      break;
    }
  }

  // The coverage universe is the check ids of the flavours the selected properties exercise.
  const areas = new Set(props.map((p) => p.area));
  const known = [
    ...(areas.has('svm') ? allSvmCheckIds() : []), ...(areas.has('vmx') ? allVmxCheckIds() : []), ...(areas.has('mmu') ? allMmuCheckIds() : []),
  ];
  const common: CampaignCommon = {
    seed: opts.seed ?? DEFAULT_SEED,
    runs: st.totalRuns,
    properties: props.map((p) => p.id),
    profiles: profiles.map((p) => p.name),
    compare: opts.compare ? [opts.compare[0].name, opts.compare[1].name] : null,
    pairs: summaries,
    skipped,
    failures,
    checks: st.coverage.toRecord(known),
    checksHit: st.coverage.hit(known),
    neverHit: st.coverage.neverHit(known),
    coverageSamples: st.coverage.samples,
    outcomes: Object.fromEntries([...st.coverage.outcomes].sort(([a], [b]) => a.localeCompare(b))),
    mutationKinds: Object.fromEntries([...st.coverage.mutationKinds].sort(([a], [b]) => a.localeCompare(b))),
    mutationKindsNeverHit: allMutationKinds(areas).filter((k) => !st.coverage.mutationKinds.has(k)),
    elapsedMs: round(performance.now() - st.t0),
    corpusDir: st.corpusDir,
    shrinkLogDir: st.shrinkLogDir,
    shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null,
    plannedPairs: planned.length,
  };
  st.log.info({ runs: common.runs, failures: failures.length, interrupted, ms: common.elapsedMs }, 'campaign done');
  if (failures.length > 0) return { failed: true, interrupted, ...common };
  if (interrupted) return { failed: false, interrupted: true, ...common };
  return { failed: false, interrupted: false, ...common };
}

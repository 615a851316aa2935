// What the oracle does with a batch's verdicts, whatever the architecture: count agreement and
// listed divergences, put each unexplained divergence in a bucket (its failure signature, and the
// engine's first failed check where that names the failure), shrink the bucket's first state (batched, shrink.ts) and write it
// to corpus/oracle/<adapter>/ as soon as it is found, so an interrupted campaign keeps it. An
// architecture plugs in through OracleArch: how its states run, compare, shrink and are stored.

import fc from 'fast-check';
import type { Profile } from '../engine/profiles.ts';
import { oracleVerdict, type OracleCases } from './oracleCorpus.ts';
import type { OracleSessionOptions } from './session.ts';
import { shrinkDisagreement } from './shrink.ts';
import type { Divergence } from './svm/divergences.ts';

/** One state's two verdicts, the fields that differ and the listed divergence that explains them. */
export interface OracleComparison<V> {
  engine: V;
  emu: V;
  /** The engine's failed consistency checks, in order. */
  engineFailed: string[];
  diff: string[];
  /** The listed divergence that explains `diff` (null when they agree or nothing explains it). */
  explainedBy: string | null;
}

export interface OracleStateResult<C, V> {
  index: number;
  c: C;
  cmp: OracleComparison<V>;
  /** The batch verdict differed and the state was re-run alone; `cmp` is the alone verdict. */
  rerunAlone: boolean;
  /** Re-running alone changed the emulator's verdict: the batch result had leaked state. */
  leaked: boolean;
}

export interface OracleBatchResult<C, V> {
  results: OracleStateResult<C, V>[];
  boots: number;
  emulatorMs: number;
}

/** A verdict of either architecture: its kind names the outcome ('crash': the emulator died or hung). */
export interface OracleVerdictLike {
  kind: string;
}

/** A state both sides run: the harness choice it was built from and its mutations ("id:k"). */
export interface OracleCaseLike {
  choice: object;
  mutations: string[];
}

export interface OracleShrinkStep<Ch> {
  mutations: string[];
  choice: Ch;
  /** Candidates tried in this round's boot. */
  candidates: number;
}

/** What a corpus/oracle/ file records besides its schema header (oracleCorpus.ts). */
export interface OracleEntryFields<C extends OracleCaseLike, V> {
  adapter: string;
  /** The emulator's CPU model the state ran on. */
  model: string;
  profile: string;
  found_at: string;
  seed: number | null;
  case: C;
  engine: V;
  emulator: V;
  diff: string[];
  shrink_steps: OracleShrinkStep<C['choice']>[];
}

/** One architecture's side of the oracle, bound to an adapter and the CPU model it reported. */
export interface OracleArch<C extends OracleCaseLike, V extends OracleVerdictLike> {
  arch: 'svm' | 'vmx';
  adapter: { name: string; model: string };
  divergences: readonly Pick<Divergence<never>, 'id' | 'departs' | 'reason' | 'source'>[];
  /** Generated states (sampled with fc.sample and a seed). */
  arbitrary: fc.Arbitrary<C>;
  runBatch(cases: C[], profile: Profile, jobs: number, opts?: { verifyAlone?: boolean }): Promise<OracleBatchResult<C, V>>;
  /** The shrink rules (svm/shrink.ts, vmx/shrink.ts). What must stay the same for a shrink candidate to count as the same failure. */
  signature(cmp: OracleComparison<V>): string;
  /** The tally's bucket of an unexplained divergence: its signature, and what else tells kinds apart. */
  bucketKey(cmp: OracleComparison<V>): string;
  /** Built from the arbitrary's own mutation table, so it can be rebuilt one step simpler. */
  shrinkable(c: C): boolean;
  /** Every state one step simpler (shrink.ts oneStepSimpler). */
  simpler(c: C): C[];
  /** Writes the counterexample with its failure-database verdict; returns its file. */
  save(corpusDir: string, e: OracleEntryFields<C, V>, verdict: { code: string; message: string }): string;
  describe(v: V): string;
}

/** What an architecture's shrink.ts gives an OracleArch. */
export type OracleShrinkRules<C extends OracleCaseLike, V extends OracleVerdictLike> = Pick<OracleArch<C, V>, 'signature' | 'bucketKey' | 'shrinkable' | 'simpler'>;

export interface OracleUnexplainedOf<Ch, V> {
  /** The first state of its bucket (OracleArch.bucketKey). */
  index: number;
  /** States in the bucket; only the first is shrunk and written. */
  count: number;
  /** The corpus file the state came from (--cases). */
  source?: string;
  mutations: string[];
  choice: Ch;
  engine: V;
  emulator: V;
  diff: string[];
  engine_failed_checks: string[];
  /** The failure signature of the state as reported (after shrinking): what its corpus bucket is named by. */
  signature: string;
  shrink_steps: OracleShrinkStep<Ch>[];
  /** Shrinking stopped at the campaign's deadline: the state may not be 1-minimal. */
  shrink_cut_short?: true;
  file?: string;
}

/** What every oracle session reports, whatever the architecture (U: its unexplained-divergence record). */
export interface OracleReportBase<U> {
  arch: 'svm' | 'vmx';
  adapter: string;
  model: string;
  profile: string;
  states: number;
  agree: number;
  explained: { id: string; departs: string; count: number; reason: string; source: string }[];
  unexplained: U[];
  /** States the emulator crashed or hung on (each also compared: a crash is a verdict). */
  crashes: number;
  /** States whose batch verdict changed when re-run alone (state leaked between entries). */
  leaks: number;
  /** Corpus files skipped because they cannot run on this emulator, with why. */
  skipped: { file: string; why: string }[];
  boots: number;
  emulator_ms: number;
  total_ms: number;
  /** (agree + explained) / states. */
  agreement: number;
}

export interface OracleTallyOptions {
  profile: Profile;
  jobs: number;
  /** Where unexplained divergences are written (corpus/oracle/<adapter>/); null: nowhere. */
  corpusDir: string | null;
  /** Shrink the first state of each bucket (generated states only: stored ones replay as they are). */
  shrink: boolean;
  /** Asked before each shrink round: true ends shrinking (a ride past its campaign's deadline). */
  stopShrinking?: () => boolean;
  seed: number | null;
}

/**
 * Counts over one or more batches: agreement, listed divergences, and one bucket per kind of
 * unexplained divergence, whose first state is shrunk (when asked) and written to the corpus as it
 * is found.
 */
export class OracleTally<C extends OracleCaseLike, V extends OracleVerdictLike> {
  states = 0;
  agree = 0;
  crashes = 0;
  leaks = 0;
  boots = 0;
  emulatorMs = 0;
  readonly explained = new Map<string, number>();
  readonly unexplained: OracleUnexplainedOf<C['choice'], V>[] = [];
  private readonly buckets = new Map<string, OracleUnexplainedOf<C['choice'], V>>();
  /** Buckets by their shrunk state: two kinds that shrink to the same state are one divergence. */
  private readonly byShrunk = new Map<string, OracleUnexplainedOf<C['choice'], V>>();

  constructor(
    private readonly arch: OracleArch<C, V>,
    private readonly o: OracleTallyOptions,
  ) {}

  async add(batch: OracleBatchResult<C, V>, sources: string[] = [], indexBase = 0): Promise<void> {
    const { arch, o } = this;
    this.states += batch.results.length;
    this.boots += batch.boots;
    this.emulatorMs += batch.emulatorMs;
    for (const r of batch.results) {
      if (r.cmp.emu.kind === 'crash') this.crashes++;
      if (r.leaked) this.leaks++;
      if (r.cmp.diff.length === 0) this.agree++;
      else if (r.cmp.explainedBy) this.explained.set(r.cmp.explainedBy, (this.explained.get(r.cmp.explainedBy) ?? 0) + 1);
      else {
        const key = arch.bucketKey(r.cmp);
        const seen = this.buckets.get(key);
        if (seen) {
          seen.count++;
          continue;
        }
        let c = r.c;
        let cmp = r.cmp;
        let steps: OracleShrinkStep<C['choice']>[] = [];
        let cutShort = false;
        if (o.shrink && arch.shrinkable(c)) {
          const sh = await shrinkDisagreement(arch, c, cmp, o.profile, o.jobs, o.stopShrinking);
          this.boots += sh.boots;
          ({ c, cmp, steps, cutShort } = sh);
        }
        const signature = arch.signature(cmp);
        const shrunkKey = `${signature}|${JSON.stringify(c.choice)}|${c.mutations.join(' ')}`;
        const same = o.shrink ? this.byShrunk.get(shrunkKey) : undefined;
        if (same) {
          same.count++;
          this.buckets.set(key, same);
          continue;
        }
        const u: OracleUnexplainedOf<C['choice'], V> = {
          index: indexBase + r.index, count: 1, ...(sources[r.index] ? { source: sources[r.index] } : {}), mutations: c.mutations, choice: c.choice,
          engine: cmp.engine, emulator: cmp.emu, diff: cmp.diff, engine_failed_checks: cmp.engineFailed, signature, shrink_steps: steps,
          ...(cutShort ? { shrink_cut_short: true as const } : {}),
        };
        if (o.corpusDir !== null) {
          const verdict = oracleVerdict(arch.adapter.name, signature, arch.describe(cmp.engine), arch.describe(cmp.emu));
          u.file = arch.save(o.corpusDir, {
            adapter: arch.adapter.name, model: arch.adapter.model, profile: o.profile.name, found_at: new Date().toISOString(),
            seed: o.seed, case: c, engine: cmp.engine, emulator: cmp.emu, diff: cmp.diff, shrink_steps: steps,
          }, verdict);
        }
        this.unexplained.push(u);
        this.buckets.set(key, u);
        if (o.shrink) this.byShrunk.set(shrunkKey, u);
      }
    }
  }

  report(skipped: { file: string; why: string }[], totalMs: number): OracleReportBase<OracleUnexplainedOf<C['choice'], V>> {
    const byId = new Map(this.arch.divergences.map((d) => [d.id, d]));
    return {
      arch: this.arch.arch,
      adapter: this.arch.adapter.name,
      model: this.arch.adapter.model,
      profile: this.o.profile.name,
      states: this.states,
      agree: this.agree,
      explained: [...this.explained].sort((a, b) => b[1] - a[1]).map(([id, count]) => {
        const d = byId.get(id)!;
        return { id, departs: d.departs, count, reason: d.reason, source: d.source };
      }),
      unexplained: this.unexplained,
      crashes: this.crashes,
      leaks: this.leaks,
      skipped,
      boots: this.boots,
      emulator_ms: Math.round(this.emulatorMs),
      total_ms: Math.round(totalMs),
      agreement: this.states === 0 ? 1 : (this.states - this.unexplained.reduce((n, u) => n + u.count, 0)) / this.states,
    };
  }
}

/**
 * One `nestfuzz oracle` session's states in one batch, tallied: generated from o.generate, or
 * `stored` ones read from corpus files (replayed as they are: only generated states are shrunk).
 * t0 is when the session started; its CPU probe is one boot.
 */
export async function runTallied<C extends OracleCaseLike, V extends OracleVerdictLike>(
  arch: OracleArch<C, V>, o: Pick<OracleSessionOptions, 'profile' | 'jobs' | 'generate' | 'corpusDir' | 'shrink'>, stored: OracleCases<C> | null, t0: number,
): Promise<OracleReportBase<OracleUnexplainedOf<C['choice'], V>>> {
  const seed = stored ? null : (o.generate?.seed ?? 0);
  const { cases, sources, skipped } = stored ?? { cases: fc.sample(arch.arbitrary, { numRuns: o.generate?.count ?? 0, seed: seed ?? 0 }), sources: [], skipped: [] };
  const tally = new OracleTally(arch, { profile: o.profile, jobs: o.jobs, corpusDir: o.corpusDir, shrink: o.shrink && stored === null, seed });
  tally.boots++;
  if (cases.length > 0) await tally.add(await arch.runBatch(cases, o.profile, o.jobs), sources);
  return tally.report(skipped, performance.now() - t0);
}

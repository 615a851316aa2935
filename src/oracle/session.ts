// `nestfuzz oracle`: states (generated near the boundary, or read from corpus files) run on an
// emulator and through the engine; agreement is counted after the listed divergences, and every
// unexplained divergence is shrunk (batched: a boot per round) and written to corpus/oracle/.

import fc from 'fast-check';
import { ORACLE_SVM_MUTATION_IDS, oracleSvmCase, type OracleSvmCase } from '../arbitraries/oracleSvm.ts';
import { loadCorpusFile } from '../campaign/corpus.ts';
import { NestfuzzError } from '../campaign/errors.ts';
import type { SvmScenario } from '../engine/svm/scenario.ts';
import type { Profile } from '../engine/profiles.ts';
import { cpuFromCpuid, type OracleCpu } from './cpu.ts';
import { jsonFilesUnder, parseOracleEntry, readJsonFile, saveOracleCounterexample, ORACLE_SCHEMA } from './oracleCorpus.ts';
import { getSvmAdapter, SVM_ADAPTER_NAMES, type SvmAdapter } from './svm/adapters.ts';
import { SVM_DIVERGENCES } from './svm/divergences.ts';
import { runSvmOracleBatch, type SvmBatchResult } from './svm/driver.ts';
import { projectSvmScenario, unprojectable } from './svm/project.ts';
import { shrinkSvmDisagreement, svmFailureSignature, type SvmShrinkStep } from './svm/shrink.ts';
import type { SvmVerdict } from './svm/verdict.ts';
import { getVmxAdapter, VMX_ADAPTER_NAMES } from './vmx/adapters.ts';
import { runVmxOracleSession, type VmxOracleSessionReport } from './vmx/session.ts';

export interface OracleSessionOptions {
  emulator: string;
  profile: Profile;
  jobs: number;
  /** Generate this many states from `seed`. */
  generate?: { count: number; seed: number };
  /** Or run these corpus files (oracle entries, or nested-SVM counterexamples projected onto the harness). */
  cases?: string;
  /** Where unexplained divergences are written (corpus/oracle/<adapter>/); null: nowhere. */
  corpusDir: string | null;
  shrink: boolean;
}

export interface OracleUnexplained {
  /** The first state of its bucket (same verdicts as svmFailureSignature sees them, same first failed check). */
  index: number;
  /** States in the bucket; only the first is shrunk and written. */
  count: number;
  /** The corpus file the state came from (--cases). */
  source?: string;
  mutations: string[];
  choice: OracleSvmCase['choice'];
  engine: SvmVerdict;
  emulator: SvmVerdict;
  diff: string[];
  engine_failed_checks: string[];
  shrink_steps: SvmShrinkStep[];
  file?: string;
}

/** What every oracle session reports, whatever the architecture (U: its unexplained-divergence record). */
export interface OracleReportBase<U> {
  adapter: string;
  model: string;
  profile: string;
  states: number;
  agree: number;
  explained: { id: string; departs: string; count: number; reason: string; source: string }[];
  unexplained: U[];
  /** States the emulator crashed or hung on (each also compared: a crash is a verdict). */
  crashes: number;
  /** States whose batch verdict changed when re-run alone (state leaked between VMRUNs). */
  leaks: number;
  /** Corpus files skipped because they cannot run on this emulator, with why. */
  skipped: { file: string; why: string }[];
  boots: number;
  emulator_ms: number;
  total_ms: number;
  /** (agree + explained) / states. */
  agreement: number;
}

export type OracleSessionReport = OracleReportBase<OracleUnexplained>;

export function requireAdapter(name: string): SvmAdapter {
  const a = getSvmAdapter(name);
  if (!a) {
    const vmx = getVmxAdapter(name) ? ` (${name} is a VMX adapter: \`oracle\` runs it, campaigns ride SVM adapters only)` : '';
    throw new NestfuzzError('NESTFUZZ_USAGE', `unknown emulator ${JSON.stringify(name)}${vmx}`, `use one of: ${SVM_ADAPTER_NAMES.join(', ')}`);
  }
  return a;
}

/** The CPU model as the harness reports it (one empty boot). */
export async function probeCpu(adapter: SvmAdapter): Promise<OracleCpu> {
  const r = await adapter.runBatch([], 1);
  return cpuFromCpuid(adapter.model, r.cpuid);
}

function casesFromFiles(cpu: OracleCpu, target: string, adapter: string): { cases: OracleSvmCase[]; sources: string[]; skipped: { file: string; why: string }[] } {
  const files = jsonFilesUnder(target);
  const cases: OracleSvmCase[] = [];
  const sources: string[] = [];
  const skipped: { file: string; why: string }[] = [];
  for (const file of files) {
    const json = readJsonFile(file) as { schema?: unknown; adapter?: unknown };
    if (json && json.schema === ORACLE_SCHEMA) {
      const e = parseOracleEntry(file, json);
      if (e.adapter !== adapter) {
        skipped.push({ file, why: `found on ${e.adapter}` });
        continue;
      }
      cases.push(e.case);
    } else {
      const entry = loadCorpusFile(file);
      const s = entry.case.scenario as SvmScenario;
      const why = unprojectable(s);
      if (why) {
        skipped.push({ file, why });
        continue;
      }
      cases.push(projectSvmScenario(cpu, s));
    }
    sources.push(file);
  }
  if (files.length === 1 && cases.length === 0) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${files[0]} cannot run on ${adapter}: ${skipped[0]?.why ?? 'no state'}`, 'pass a nested-SVM VMRUN counterexample or an oracle corpus file');
  return { cases, sources, skipped };
}

const SHRINKABLE = new Set(ORACLE_SVM_MUTATION_IDS);

/**
 * Counts over one or more batches: agreement, listed divergences, and one bucket per kind of
 * unexplained divergence, whose first state is shrunk (when asked) and written to the corpus as it
 * is found, so an interrupted campaign keeps it.
 */
export class OracleTally {
  states = 0;
  agree = 0;
  crashes = 0;
  leaks = 0;
  boots = 0;
  emulatorMs = 0;
  readonly explained = new Map<string, number>();
  readonly unexplained: OracleUnexplained[] = [];
  private readonly buckets = new Map<string, OracleUnexplained>();

  constructor(
    private readonly cpu: OracleCpu,
    private readonly adapter: SvmAdapter,
    private readonly o: { profile: Profile; jobs: number; corpusDir: string | null; shrink: boolean; seed: number | null },
  ) {}

  async add(batch: SvmBatchResult, sources: string[] = [], indexBase = 0): Promise<void> {
    const { cpu, adapter, o } = this;
    this.states += batch.results.length;
    this.boots += batch.boots;
    this.emulatorMs += batch.emulatorMs;
    for (const r of batch.results) {
      if (r.cmp.emu.kind === 'crash') this.crashes++;
      if (r.leaked) this.leaks++;
      if (r.cmp.diff.length === 0) this.agree++;
      else if (r.cmp.explainedBy) this.explained.set(r.cmp.explainedBy, (this.explained.get(r.cmp.explainedBy) ?? 0) + 1);
      else {
        const key = `${svmFailureSignature(r.cmp)}|${r.cmp.engineFailed[0] ?? ''}`;
        const seen = this.buckets.get(key);
        if (seen) {
          seen.count++;
          continue;
        }
        let c = r.c;
        let cmp = r.cmp;
        let steps: SvmShrinkStep[] = [];
        if (o.shrink && c.mutations.every((m) => SHRINKABLE.has(m.slice(0, m.lastIndexOf(':'))))) {
          const sh = await shrinkSvmDisagreement(cpu, c, cmp, adapter, o.profile, o.jobs);
          this.boots += sh.boots;
          ({ c, cmp, steps } = sh);
        }
        const u: OracleUnexplained = {
          index: indexBase + r.index, count: 1, ...(sources[r.index] ? { source: sources[r.index] } : {}), mutations: c.mutations, choice: c.choice,
          engine: cmp.engine, emulator: cmp.emu, diff: cmp.diff, engine_failed_checks: cmp.engineFailed, shrink_steps: steps,
        };
        if (o.corpusDir !== null) {
          const saved = saveOracleCounterexample(o.corpusDir, {
            adapter: adapter.name, model: adapter.model, profile: o.profile.name, found_at: new Date().toISOString(),
            seed: o.seed, case: c, engine: cmp.engine, emulator: cmp.emu, diff: cmp.diff, shrink_steps: steps,
          });
          u.file = saved.file;
        }
        this.unexplained.push(u);
        this.buckets.set(key, u);
      }
    }
  }

  report(skipped: { file: string; why: string }[], totalMs: number): OracleSessionReport {
    const byId = new Map(SVM_DIVERGENCES.map((d) => [d.id, d]));
    return {
      adapter: this.adapter.name,
      model: this.adapter.model,
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

/** The adapters `oracle --emulator` takes, by name, with their architecture. */
export const ORACLE_ADAPTERS: readonly { name: string; arch: 'svm' | 'vmx' }[] = [
  ...SVM_ADAPTER_NAMES.map((name) => ({ name, arch: 'svm' as const })),
  ...VMX_ADAPTER_NAMES.map((name) => ({ name, arch: 'vmx' as const })),
];

export async function runOracleSession(o: OracleSessionOptions): Promise<OracleSessionReport | VmxOracleSessionReport> {
  const vmx = getVmxAdapter(o.emulator);
  if (vmx) return runVmxOracleSession(vmx, o);
  if (!getSvmAdapter(o.emulator)) throw new NestfuzzError('NESTFUZZ_USAGE', `unknown emulator ${JSON.stringify(o.emulator)}`, `use one of: ${ORACLE_ADAPTERS.map((a) => a.name).join(', ')}`);
  const adapter = requireAdapter(o.emulator);
  if (!o.generate === !o.cases) throw new NestfuzzError('NESTFUZZ_USAGE', '`oracle` needs exactly one of --generate N or --cases <dir|file>', 'run `nestfuzz oracle --emulator qemu-svm --generate 10000 --seed 1`');
  const t0 = performance.now();
  const cpu = await probeCpu(adapter);
  let cases: OracleSvmCase[];
  let sources: string[] = [];
  let skipped: { file: string; why: string }[] = [];
  if (o.generate) cases = fc.sample(oracleSvmCase(cpu), { numRuns: o.generate.count, seed: o.generate.seed });
  else ({ cases, sources, skipped } = casesFromFiles(cpu, o.cases!, adapter.name));
  // Stored states are replayed as they are: only generated ones are shrunk.
  const tally = new OracleTally(cpu, adapter, { profile: o.profile, jobs: o.jobs, corpusDir: o.corpusDir, shrink: o.shrink && o.generate !== undefined, seed: o.generate?.seed ?? null });
  tally.boots++; // the CPUID probe
  await tally.add(await runSvmOracleBatch(cases, adapter, o.profile, o.jobs), sources);
  return tally.report(skipped, performance.now() - t0);
}

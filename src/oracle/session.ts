// `nestfuzz oracle`: states (generated near the boundary, or read from corpus files) run on an
// emulator and through the engine; agreement is counted after the listed divergences, and every
// unexplained divergence is shrunk (batched: a boot per round) and written to corpus/oracle/
// (tally.ts). This file holds the nested-SVM side and the choice of adapter; vmx/session.ts the
// nested-VMX one.

import { oracleSvmCase, type OracleSvmCase } from '../arbitraries/oracleSvm.ts';
import type { OracleSvmChoice } from '../arbitraries/_internals/builders/oracleSvmBase.ts';
import { loadCorpusFile } from '../campaign/corpus.ts';
import { NestfuzzError } from '../campaign/errors.ts';
import type { SvmScenario } from '../engine/svm/scenario.ts';
import type { Profile } from '../engine/profiles.ts';
import { cpuFromCpuid, type OracleCpu } from './cpu.ts';
import { oracleCasesFromFiles, parseAnyOracleEntry, readJsonFile, saveOracleCounterexample } from './oracleCorpus.ts';
import { getSvmAdapter, SVM_ADAPTER_NAMES, type SvmAdapter } from './svm/adapters.ts';
import { SVM_DIVERGENCES } from './svm/divergences.ts';
import { runSvmOracleBatch } from './svm/driver.ts';
import { projectSvmScenario, unprojectable } from './svm/project.ts';
import { svmShrinkRules } from './svm/shrink.ts';
import { describeSvmVerdict, type SvmVerdict } from './svm/verdict.ts';
import { runTallied, type OracleArch, type OracleReportBase, type OracleUnexplainedOf } from './tally.ts';
import { getVmxAdapter, VMX_ADAPTER_NAMES, type VmxAdapter } from './vmx/adapters.ts';
import { runVmxOracleSession, type VmxOracleSessionReport } from './vmx/session.ts';
import { pageList } from './statePages.ts';

export type { OracleReportBase } from './tally.ts';

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

export type OracleUnexplained = OracleUnexplainedOf<OracleSvmChoice, SvmVerdict>;

export interface OracleSessionReport extends OracleReportBase<OracleUnexplained> {
  arch: 'svm';
}

export type AnyOracleSessionReport = OracleSessionReport | VmxOracleSessionReport;

/** The adapters `oracle --emulator` and `fuzz --oracle` take, by name, with their architecture. */
export const ORACLE_ADAPTERS: readonly { name: string; arch: 'svm' | 'vmx' }[] = [
  ...SVM_ADAPTER_NAMES.map((name) => ({ name, arch: 'svm' as const })),
  ...VMX_ADAPTER_NAMES.map((name) => ({ name, arch: 'vmx' as const })),
];

export type AnyOracleAdapter = { arch: 'svm'; adapter: SvmAdapter } | { arch: 'vmx'; adapter: VmxAdapter };

export function requireAdapter(name: string): AnyOracleAdapter {
  const svm = getSvmAdapter(name);
  if (svm) return { arch: 'svm', adapter: svm };
  const vmx = getVmxAdapter(name);
  if (vmx) return { arch: 'vmx', adapter: vmx };
  throw new NestfuzzError('NESTFUZZ_USAGE', `unknown emulator ${JSON.stringify(name)}`, `use one of: ${ORACLE_ADAPTERS.map((a) => `${a.name} (${a.arch})`).join(', ')}`);
}

/** The CPU model as the harness reports it (one empty boot). */
export async function probeCpu(adapter: SvmAdapter): Promise<OracleCpu> {
  const r = await adapter.runBatch([pageList([])], 1);
  return cpuFromCpuid(adapter.model, r.cpuid);
}

/** The SVM side of the oracle on `adapter`, whose CPU reported `cpu`. */
export function svmOracleArch(cpu: OracleCpu, adapter: SvmAdapter): OracleArch<OracleSvmCase, SvmVerdict> {
  return {
    arch: 'svm', adapter, divergences: SVM_DIVERGENCES, describe: describeSvmVerdict, arbitrary: oracleSvmCase(cpu), ...svmShrinkRules(cpu),
    runBatch: (cases, profile, jobs, opts) => runSvmOracleBatch(cases, adapter, profile, jobs, opts),
    save: (corpusDir, e, verdict) => saveOracleCounterexample(corpusDir, { arch: 'svm', ...e, verdict }).file,
  };
}

/** A project corpus file as a harness state: a nested-SVM VMRUN counterexample projected, or why not. */
function projectCorpusFile(cpu: OracleCpu): (file: string) => OracleSvmCase | string {
  return (file) => {
    const s = loadCorpusFile(file).case.scenario as SvmScenario;
    return unprojectable(s) ?? projectSvmScenario(cpu, s);
  };
}

async function runSvmOracleSession(adapter: SvmAdapter, o: OracleSessionOptions): Promise<OracleSessionReport> {
  const t0 = performance.now();
  const cpu = await probeCpu(adapter);
  const stored = o.cases === undefined ? null
    : oracleCasesFromFiles(o.cases, adapter.name, 'svm', projectCorpusFile(cpu), 'pass a nested-SVM VMRUN counterexample or an oracle corpus file');
  return { ...(await runTallied(svmOracleArch(cpu, adapter), o, stored, t0)), arch: 'svm' };
}

export async function runOracleSession(o: OracleSessionOptions): Promise<AnyOracleSessionReport> {
  const a = requireAdapter(o.emulator);
  if (!o.generate === !o.cases) throw new NestfuzzError('NESTFUZZ_USAGE', '`oracle` needs exactly one of --generate N or --cases <dir|file>', `run \`nestfuzz oracle --emulator ${a.adapter.name} --generate 2000 --seed 1\``);
  return a.arch === 'vmx' ? runVmxOracleSession(a.adapter, o) : runSvmOracleSession(a.adapter, o);
}

/**
 * Whether an oracle counterexample file still shows an unexplained divergence, run on its own
 * adapter against its own profile (for `triage`: a quiet oracle bucket is fixed only if this says
 * no). Throws when the emulator cannot run (not installed, no harness): the caller says so.
 */
export async function oracleFileReproduces(file: string, profile: Profile): Promise<boolean> {
  const e = parseAnyOracleEntry(file, readJsonFile(file));
  const r = await runOracleSession({ emulator: e.adapter, profile, jobs: 1, cases: file, corpusDir: null, shrink: false });
  return r.unexplained.length > 0;
}

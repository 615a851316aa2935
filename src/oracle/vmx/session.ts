// `nestfuzz oracle --emulator bochs-vmx`: VMCS states (generated, or read back from
// corpus/oracle/bochs-vmx/) run on Bochs's VMX harness and through the engine, tallied like the
// SVM session (../tally.ts): agreement, listed divergences, and one bucket per kind of unexplained
// divergence, whose first state is shrunk (batched, ../shrink.ts) and written to the corpus.

import { oracleVmxCase, type OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { loadCorpusFile } from '../../campaign/corpus.ts';
import { NestfuzzError } from '../../campaign/errors.ts';
import type { OracleVmxChoice } from '../../arbitraries/_internals/builders/oracleVmxBase.ts';
import { oracleCasesFromFiles, saveOracleCounterexample } from '../oracleCorpus.ts';
import type { OracleSessionOptions } from '../session.ts';
import { runTallied, type OracleArch, type OracleReportBase, type OracleUnexplainedOf } from '../tally.ts';
import type { VmxAdapter } from './adapters.ts';
import { describeVmxCaps, vmxCpuFromDump, type OracleVmxCpu } from './cpu.ts';
import { VMX_DIVERGENCES } from './divergences.ts';
import { runVmxOracleBatch } from './driver.ts';
import { vmxShrinkRules } from './shrink.ts';
import { projectVmxScenario } from './project.ts';
import type { VmxScenario } from '../../engine/vmx/scenario.ts';
import { describeVmxVerdict, type VmxVerdict } from './verdict.ts';
import { pageList } from '../statePages.ts';

export type VmxOracleUnexplained = OracleUnexplainedOf<OracleVmxChoice, VmxVerdict>;

export interface VmxOracleSessionReport extends OracleReportBase<VmxOracleUnexplained> {
  arch: 'vmx';
  /** The capability MSRs the harness read (index → value). */
  vmx_caps: Record<string, string>;
}

/** The CPU model as the harness reports it (one empty boot). */
export async function probeVmxCpu(adapter: VmxAdapter): Promise<OracleVmxCpu> {
  const r = await adapter.runBatch([pageList([])], 1);
  if (r.vmxCaps.length === 0) throw new NestfuzzError('NESTFUZZ_ORACLE', `${adapter.name}: the harness printed no VMX capability MSRs`, 'check that the Bochs CPU model has VMX (oracle.md §6)');
  return vmxCpuFromDump(adapter.model, r.cpuid, r.vmxCaps);
}

/** The VMX side of the oracle on `adapter`, whose CPU reported `cpu`. */
export function vmxOracleArch(cpu: OracleVmxCpu, adapter: VmxAdapter): OracleArch<OracleVmxCase, VmxVerdict> {
  return {
    arch: 'vmx', adapter, divergences: VMX_DIVERGENCES, describe: describeVmxVerdict, arbitrary: oracleVmxCase(cpu), ...vmxShrinkRules(cpu),
    runBatch: (cases, profile, jobs, opts) => runVmxOracleBatch(cases, adapter, profile, jobs, opts),
    save: (corpusDir, e, verdict) => saveOracleCounterexample(corpusDir, { arch: 'vmx', ...e, verdict }).file,
  };
}

/**
 * A project corpus file as a harness state: a nested-VMX counterexample's vmcs12 projected onto the
 * harness's valid VMCS (project.ts: the fields it changed carried over, its MSR lists moved with
 * their entries), whatever its entry path; L1, KVM-only state and later steps stay behind, as the
 * exported reproducer says. Anything else is skipped with why (a malformed file is an error).
 */
function projectCorpusFile(cpu: OracleVmxCpu): (file: string) => OracleVmxCase | string {
  return (file) => {
    const s = loadCorpusFile(file).case.scenario as VmxScenario & { arch?: string };
    return s.arch === 'vmx' ? projectVmxScenario(cpu, s).c : `a ${s.arch ?? 'non-VMX'} scenario`;
  };
}

export async function runVmxOracleSession(adapter: VmxAdapter, o: OracleSessionOptions): Promise<VmxOracleSessionReport> {
  const t0 = performance.now();
  const cpu = await probeVmxCpu(adapter);
  const stored = o.cases === undefined ? null
    : oracleCasesFromFiles(o.cases, adapter.name, 'vmx', projectCorpusFile(cpu), 'pass a nested-VMX counterexample or an oracle counterexample of bochs-vmx (corpus/oracle/bochs-vmx/*.json)');
  const r = await runTallied(vmxOracleArch(cpu, adapter), o, stored, t0);
  return { ...r, arch: 'vmx', vmx_caps: describeVmxCaps(cpu) };
}

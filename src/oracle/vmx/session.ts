// `nestfuzz oracle --emulator bochs-vmx`: generated VMCS states run on Bochs's VMX harness and
// through the engine, counted like the SVM session (session.ts): agreement, listed divergences,
// and one bucket per kind of unexplained divergence.
// TODO: shrinking and corpus files for VMX counterexamples (the SVM session's shrink.ts and
// oracleCorpus.ts are VMCB-typed); an unexplained VMX divergence is reported, not stored.

import fc from 'fast-check';
import { oracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import type { OracleVmxChoice } from '../../arbitraries/_internals/builders/oracleVmxBase.ts';
import { NestfuzzError } from '../../campaign/errors.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { VmxAdapter } from './adapters.ts';
import { describeVmxCaps, vmxCpuFromDump, type OracleVmxCpu } from './cpu.ts';
import { VMX_DIVERGENCES } from './divergences.ts';
import { runVmxOracleBatch } from './driver.ts';
import type { VmxVerdict } from './verdict.ts';
import type { OracleReportBase } from '../session.ts';

export interface VmxOracleUnexplained {
  index: number;
  count: number;
  mutations: string[];
  choice: OracleVmxChoice;
  engine: VmxVerdict;
  emulator: VmxVerdict;
  diff: string[];
  engine_failed_checks: string[];
  shrink_steps: never[];
  /** Never set (VMX states are generated, not stored): the SVM report's optional fields, for one formatter. */
  source?: string;
  file?: string;
}

export interface VmxOracleSessionReport extends OracleReportBase<VmxOracleUnexplained> {
  arch: 'vmx';
  /** The capability MSRs the harness read (index → value). */
  vmx_caps: Record<string, string>;
}

/** The CPU model as the harness reports it (one empty boot). */
export async function probeVmxCpu(adapter: VmxAdapter): Promise<OracleVmxCpu> {
  const r = await adapter.runBatch([], 1);
  if (r.vmxCaps.length === 0) throw new NestfuzzError('NESTFUZZ_ORACLE', `${adapter.name}: the harness printed no VMX capability MSRs`, 'check that the Bochs CPU model has VMX (oracle.md §6)');
  return vmxCpuFromDump(adapter.model, r.cpuid, r.vmxCaps);
}

export interface VmxOracleSessionOptions {
  profile: Profile;
  jobs: number;
  generate?: { count: number; seed: number };
  cases?: string;
}

export async function runVmxOracleSession(adapter: VmxAdapter, o: VmxOracleSessionOptions): Promise<VmxOracleSessionReport> {
  if (!o.generate || o.cases) throw new NestfuzzError('NESTFUZZ_USAGE', `${adapter.name} runs generated states only (--generate N)`, `run \`nestfuzz oracle --emulator ${adapter.name} --generate 2000 --seed 1\``);
  const t0 = performance.now();
  const cpu = await probeVmxCpu(adapter);
  const cases = fc.sample(oracleVmxCase(cpu), { numRuns: o.generate.count, seed: o.generate.seed });
  const batch = await runVmxOracleBatch(cases, adapter, o.profile, o.jobs);
  let agree = 0;
  let crashes = 0;
  let leaks = 0;
  const explained = new Map<string, number>();
  const buckets = new Map<string, VmxOracleUnexplained>();
  for (const r of batch.results) {
    if (r.cmp.emu.kind === 'crash') crashes++;
    if (r.leaked) leaks++;
    if (r.cmp.diff.length === 0) agree++;
    else if (r.cmp.explainedBy) explained.set(r.cmp.explainedBy, (explained.get(r.cmp.explainedBy) ?? 0) + 1);
    else {
      const key = `${r.cmp.engine.kind}|${r.cmp.emu.kind}|${r.cmp.diff.join()}|${r.cmp.engineFailed[0] ?? ''}`;
      const seen = buckets.get(key);
      if (seen) seen.count++;
      else buckets.set(key, {
        index: r.index, count: 1, mutations: r.c.mutations, choice: r.c.choice, engine: r.cmp.engine, emulator: r.cmp.emu,
        diff: r.cmp.diff, engine_failed_checks: r.cmp.engineFailed, shrink_steps: [],
      });
    }
  }
  const byId = new Map(VMX_DIVERGENCES.map((d) => [d.id, d]));
  const unexplained = [...buckets.values()];
  const states = batch.results.length;
  return {
    arch: 'vmx',
    adapter: adapter.name,
    model: adapter.model,
    profile: o.profile.name,
    vmx_caps: describeVmxCaps(cpu),
    states,
    agree,
    explained: [...explained].sort((a, b) => b[1] - a[1]).map(([id, count]) => {
      const d = byId.get(id)!;
      return { id, departs: d.departs, count, reason: d.reason, source: d.source };
    }),
    unexplained,
    crashes,
    leaks,
    skipped: [],
    boots: batch.boots + 1,
    emulator_ms: Math.round(batch.emulatorMs),
    total_ms: Math.round(performance.now() - t0),
    agreement: states === 0 ? 1 : (states - unexplained.reduce((n, u) => n + u.count, 0)) / states,
  };
}

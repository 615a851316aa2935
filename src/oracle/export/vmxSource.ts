// What a VMX reproducer is made of: the nested-VMX counterexample, the state the image runs (its
// vmcs12 projected onto the VMX harness, vmx/project.ts), and the verdict of VMLAUNCH on that
// state as the engine computes it on kvm-next and with the bug, for the CPU the image assumes
// (vmxCpu.ts). When both verdicts are the same, the image cannot show the bug and says so.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { loadCorpusFile, type CorpusEntry } from '../../campaign/corpus.ts';
import { runVmx } from '../../engine/vmx/run.ts';
import type { VmxScenario } from '../../engine/vmx/scenario.ts';
import { ORACLE_SCHEMA, readJsonFile } from '../oracleCorpus.ts';
import type { OracleVmxCpu } from '../vmx/cpu.ts';
import { projectVmxScenario, type VmxMemoryRange } from '../vmx/project.ts';
import { describeVmxVerdict, engineVmxVerdict, type VmxVerdict } from '../vmx/verdict.ts';
import { corpusProfiles, corpusTitle, hashOf, label, type CorpusReproIdentity } from './source.ts';

export interface VmxReproExpectation {
  label: string;
  verdict: VmxVerdict;
}

export interface VmxReproSource extends CorpusReproIdentity {
  arch: 'vmx';
  /** The state the image runs: the counterexample projected onto the harness. */
  c: OracleVmxCase;
  /** The vmcs12 fields the counterexample changed from its valid base (carried over). */
  changed: string[];
  /** L1 memory the state uses (its MSR lists): c.scenario.mem's words there, zeros elsewhere. */
  memory: VmxMemoryRange[];
  projected: true;
  expected: VmxReproExpectation[];
  /** Why the image cannot show the bug (every expected verdict is the same), or null. */
  lost: string | null;
}

/** The corpus entry when `file` holds a nested-VMX counterexample, else null (another exporter's). */
export function vmxCorpusEntry(file: string): CorpusEntry | null {
  const json = readJsonFile(file) as { schema?: unknown; case?: { scenario?: { arch?: unknown } } } | null;
  if (!json || typeof json !== 'object' || json.schema === ORACLE_SCHEMA || json.case?.scenario?.arch !== 'vmx') return null;
  return loadCorpusFile(file);
}

export function vmxReproSource(file: string, e: CorpusEntry, cpu: OracleVmxCpu): VmxReproSource {
  const { profiles, bug } = corpusProfiles(file, e);
  const { c, changed, memory } = projectVmxScenario(cpu, e.case.scenario as VmxScenario);
  const expected = profiles.map((p) => ({ label: label(p), verdict: engineVmxVerdict(runVmx(c.scenario, p)) }));
  const same = expected.every((x) => describeVmxVerdict(x.verdict) === describeVmxVerdict(expected[0].verdict));
  return {
    arch: 'vmx', file, hash: hashOf(file), property: e.property, bugProfile: bug.name,
    detail: `${e.verdict.code}: ${e.verdict.message}`, title: corpusTitle(e), c, changed, memory, projected: true, expected,
    lost: same ? `the projection onto this image loses the bug: the engine gives ${profiles.map((p) => p.name).join(' and ')} the same verdict on this state` : null,
  };
}

// What a VMX reproducer is made of: the nested-VMX counterexample, the state the image runs (its
// vmcs12 projected onto the VMX harness, vmx/project.ts), and the verdict of VMLAUNCH on that
// state as the engine computes it on kvm-next and with the bug, for the CPU the image assumes
// (vmxCpu.ts). When both verdicts are the same, the image cannot show the bug and says so.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { loadCorpusFile, type CorpusEntry } from '../../campaign/corpus.ts';
import { runVmx } from '../../engine/vmx/run.ts';
import type { VmxScenario } from '../../engine/vmx/scenario.ts';
import { ORACLE_SCHEMA, parseAnyOracleEntry, readJsonFile, type OracleVmxCorpusEntry } from '../oracleCorpus.ts';
import type { OracleVmxCpu } from '../vmx/cpu.ts';
import { changedFields, projectVmxScenario, type VmxMemoryRange } from '../vmx/project.ts';
import { describeVmxVerdict, engineVmxVerdict, type VmxVerdict } from '../vmx/verdict.ts';
import { corpusProfiles, corpusTitle, hashOf, label, requireKnownProfile, type CorpusReproIdentity } from './source.ts';
import { buildOracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { DEFAULT_PROFILE } from '../../engine/profile_list.ts';

export interface VmxReproExpectation {
  label: string;
  verdict: VmxVerdict;
}

export interface VmxReproSource extends Omit<CorpusReproIdentity, 'property'> {
  arch: 'vmx';
  /** The failing property; null for an oracle counterexample (engine against Bochs). */
  property: string | null;
  /** The state the image runs: the counterexample projected onto the harness, or an oracle state as found. */
  c: OracleVmxCase;
  /** The vmcs12 fields the counterexample changed from its valid base (carried over). */
  changed: string[];
  /** L1 memory the state uses (its MSR lists): c.scenario.mem's words there, zeros elsewhere. */
  memory: VmxMemoryRange[];
  /** Whether c is a project counterexample projected onto the harness (false: an oracle state as found). */
  projected: boolean;
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

/** The entry when `file` holds an oracle counterexample of a VMX adapter, else null. */
export function vmxOracleEntry(file: string): OracleVmxCorpusEntry | null {
  const json = readJsonFile(file) as { schema?: unknown; arch?: unknown } | null;
  if (!json || typeof json !== 'object' || json.schema !== ORACLE_SCHEMA || json.arch !== 'vmx') return null;
  return parseAnyOracleEntry(file, json) as OracleVmxCorpusEntry;
}

/**
 * An oracle counterexample runs as found: it already is a harness state (generated from the
 * harness's valid base, then shrunk), so nothing is projected. The verdicts it expects are the
 * engine's on kvm-next and on the profile it was found with, and the emulator's as found.
 */
export function vmxOracleReproSource(file: string, e: OracleVmxCorpusEntry, cpu: OracleVmxCpu): VmxReproSource {
  const profiles = [DEFAULT_PROFILE, e.profile].filter((n, i, all) => all.indexOf(n) === i).map((n) => requireKnownProfile(file, n));
  const expected: VmxReproExpectation[] = [
    ...profiles.map((p) => ({ label: `expected by the engine on ${p.name}`, verdict: engineVmxVerdict(runVmx(e.case.scenario, p)) })),
    { label: `as ${e.adapter} ran it when found`, verdict: e.emulator },
  ];
  const base = buildOracleVmxCase(cpu, e.case.choice, []).scenario.vmcs12;
  const same = expected.every((x) => describeVmxVerdict(x.verdict) === describeVmxVerdict(expected[0].verdict));
  return {
    arch: 'vmx', file, hash: hashOf(file), property: null, bugProfile: e.profile,
    detail: `the engine (${e.profile}) and ${e.adapter} (${e.model}) differ in ${e.diff.join(', ') || 'nothing any more'}`,
    title: `engine vs ${e.adapter} divergence on ${e.profile} (${e.diff.join(', ')})`,
    c: e.case, changed: changedFields(e.case.scenario.vmcs12, base).map(([f]) => f.name), memory: [], projected: false, expected,
    lost: same ? 'the engine and the emulator verdict as found now agree' : null,
  };
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

// What a reproducer is made of: the counterexample (a corpus file, or an oracle counterexample
// file), the state the image runs (the nested-SVM scenario projected onto the harness, or the
// oracle case as it is), and the verdicts L1 should see after VMRUN, each as the engine computes it
// on that state. A counterexample no guest image can replay is a one-line error saying why.

import { basename } from 'node:path';
import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { loadCorpusFile, type CorpusEntry } from '../../campaign/corpus.ts';
import { NestfuzzError } from '../../campaign/errors.ts';
import { DEFAULT_PROFILE, getProfile } from '../../engine/profile_list.ts';
import type { Profile } from '../../engine/profiles.ts';
import { run } from '../../engine/svm/run.ts';
import type { SvmScenario } from '../../engine/svm/scenario.ts';
import type { OracleCpu } from '../cpu.ts';
import { ORACLE_SCHEMA, parseOracleEntry, readJsonFile } from '../oracleCorpus.ts';
import { projectSvmScenario } from '../svm/project.ts';
import { describeSvmVerdict, engineSvmVerdict, type SvmVerdict } from '../svm/verdict.ts';

/** Which corpus counterexample a reproducer shows and what failed: what every exporter's source starts with. */
export interface CorpusReproIdentity {
  file: string;
  /** The counterexample's content hash (its file name). */
  hash: string;
  /** "<property> fails on <profile> (<verdict code>)". */
  title: string;
  property: string;
  /** The profile with the bug (the bug side of a --compare pair). */
  bugProfile: string;
  /** "<verdict code>: <the property's failure message>". */
  detail: string;
}

export interface ReproExpectation {
  /** "expected on kvm-next", "expected with the bug (linux-6.1)", ... */
  label: string;
  verdict: SvmVerdict;
}

export interface ReproSource {
  file: string;
  /** The counterexample's content hash (its file name). */
  hash: string;
  /** What failed, for the header line: "<property> fails on <profile> (<verdict code>)". */
  title: string;
  property: string | null;
  /** The profile the counterexample fails on (the bug side of a --compare pair). */
  bugProfile: string;
  /** The property's failure message, or the oracle divergence. */
  detail: string;
  /** The state the image runs. */
  c: OracleSvmCase;
  /** Whether c is the corpus scenario projected onto the harness (false: an oracle case as is). */
  projected: boolean;
  expected: ReproExpectation[];
  /** Why the image cannot show the bug (every expected verdict is the same), or null. */
  lost: string | null;
}

function cannot(file: string, why: string, fix: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} cannot be exported: ${why}`, fix);
}

const SVM_FIX = 'only nested-SVM counterexamples entered by VMRUN, nested-VMX counterexamples, and oracle counterexamples have reproducer images';

/** Why a corpus scenario has no reproducer image, or null when it has one. */
export function unexportable(s: { arch?: string; entry?: string }): string | null {
  switch (s.arch) {
    case 'svm':
      if (s.entry === 'vmrun') return null;
      if (s.entry === 'rsm') return 'it is entered by RSM, a KVM-internal path (KVM emulates RSM and re-enters L2 from its SMM state save area), which no guest image can set up';
      if (s.entry === 'set_nested_state') return 'it is entered by KVM_SET_NESTED_STATE, a VMM ioctl, which no guest image can issue';
      return `it is entered by ${s.entry ?? 'an unknown path'}, which the SVM harness does not run`;
    case 'vmx':
      return null; // vmxSource.ts: projected onto the VMX harness
    case 'mmu-pf':
      return "it is a KVM page-fault scenario: what fails is the VMM's side of the fault (memslots, private memory, emulation, SPTE caching), which no guest image can set up";
    case 'mmu-perm':
      return "it is a KVM permission-check scenario: what fails is the MMU state KVM derives for the check (its permission bitmaps and paging context), which no guest image can set up";
    case 'mmu':
      // Under NPT, export/mmu/ builds the walk in the SVM harness; what is left is EPT.
      return 'it is a nested page-walk scenario under EPT: exporting it needs its guest tables and L1\'s EPT built in the VMX harness, which the exporter does not do yet';
    default:
      return `its scenario has arch ${JSON.stringify(s.arch)}, which has no harness`;
  }
}

export function requireKnownProfile(file: string, name: string): Profile {
  const p = getProfile(name);
  if (!p) throw new NestfuzzError('NESTFUZZ_UNKNOWN_PROFILE', `${file} names profile ${JSON.stringify(name)}, which this nestfuzz does not know`, 'run `nestfuzz list` for the profiles, or update nestfuzz');
  return p;
}

export function label(p: Profile): string {
  return p.bug ? `expected with the bug (${p.name})` : `expected on ${p.name}`;
}

function sameVerdicts(xs: readonly ReproExpectation[]): boolean {
  return xs.every((x) => describeSvmVerdict(x.verdict) === describeSvmVerdict(xs[0].verdict));
}

export function hashOf(file: string): string {
  return basename(file).replace(/\.json$/, '');
}

/** kvm-next, the counterexample's profile(s), and which of them has the bug. */
export function corpusProfiles(file: string, e: CorpusEntry): { profiles: Profile[]; bug: Profile } {
  const profiles = [DEFAULT_PROFILE, e.profile, ...(e.other_profile ? [e.other_profile] : [])]
    .filter((n, i, all) => all.indexOf(n) === i)
    .map((n) => requireKnownProfile(file, n));
  // The bug side of a --compare pair (unified vs unified-v4) is the bug profile.
  return { profiles, bug: profiles.slice(1).find((p) => p.bug) ?? profiles[profiles.length - 1] };
}

/** "<property> fails on <profile> (<verdict code>)". */
export function corpusTitle(e: CorpusEntry): string {
  return `${e.property} fails on ${e.other_profile ? `${e.profile} vs ${e.other_profile}` : e.profile} (${e.verdict.code})`;
}

function fromCorpusEntry(file: string, e: CorpusEntry, cpu: OracleCpu): ReproSource {
  const s = e.case.scenario as { arch?: string; entry?: string };
  const why = s.arch === 'vmx' ? 'it is a nested-VMX scenario (export it with exportRepro)' : unexportable(s);
  if (why) throw cannot(file, why, SVM_FIX);
  const { profiles, bug } = corpusProfiles(file, e);
  const c = projectSvmScenario(cpu, s as SvmScenario);
  const expected = profiles.map((p) => ({ label: label(p), verdict: engineSvmVerdict(run(c.scenario, p)) }));
  const lost = sameVerdicts(expected)
    ? `the projection onto this image loses the bug: the engine gives ${profiles.map((p) => p.name).join(' and ')} the same verdict on this state`
    : null;
  return {
    file, hash: hashOf(file), property: e.property, bugProfile: bug.name, detail: `${e.verdict.code}: ${e.verdict.message}`,
    title: corpusTitle(e),
    c, projected: true, expected, lost,
  };
}

function fromOracleEntry(file: string, json: unknown): ReproSource {
  const e = parseOracleEntry(file, json);
  const profiles = [DEFAULT_PROFILE, e.profile].filter((n, i, all) => all.indexOf(n) === i).map((n) => requireKnownProfile(file, n));
  const expected: ReproExpectation[] = [
    ...profiles.map((p) => ({ label: `expected by the engine on ${p.name}`, verdict: engineSvmVerdict(run(e.case.scenario, p)) })),
    { label: `as ${e.adapter} ran it when found`, verdict: e.emulator },
  ];
  return {
    file, hash: hashOf(file), property: null, bugProfile: e.profile,
    detail: `the engine (${e.profile}) and ${e.adapter} (${e.model}) differ in ${e.diff.join(', ') || 'nothing any more'}`,
    title: `engine vs ${e.adapter} divergence on ${e.profile} (${e.diff.join(', ')})`,
    c: e.case, projected: false, expected,
    lost: sameVerdicts(expected) ? 'the engine and the emulator verdict as found now agree' : null,
  };
}

/** Reads a corpus or oracle counterexample file and builds the reproducer's state and verdicts. */
export function reproSource(file: string, cpu: OracleCpu): ReproSource {
  const json = readJsonFile(file) as { schema?: unknown } | null;
  if (json && typeof json === 'object' && json.schema === ORACLE_SCHEMA) return fromOracleEntry(file, json);
  return fromCorpusEntry(file, loadCorpusFile(file), cpu);
}

// `replay <corpus-file>`: re-judge a stored counterexample with today's engine and property, and
// gather what a reviewer needs to read it: the verdict, the vmcb12 (nested SVM) or the vmcs12 and
// L1 summary (nested VMX) as decoded, or for a nested-paging case (arch 'mmu') the walk level by
// level with the exit L0 took and the exit injected into L1 (walkView.ts), what differs from the
// valid base, and the engine trace.
// Pure: the same file gives the same data on every run.

import { getProperty } from '../../properties/index.ts';
import { isNestedFaultCase, isPageFaultCase, isPermissionCase, isVmxCase, type AnyCase, type NestfuzzProperty, type PropertyContext } from '../../properties/types.ts';
import { dumpVmcb } from '../arch/svm/dump.ts';
import { vmxMsrName, vmxMsrValue, MSR_IA32_VMX } from '../arch/vmx/caps.ts';
import { dumpVmcs12 } from '../arch/vmx/dump.ts';
import { vmcs12Namer } from '../arch/vmx/namer.ts';
import type { Profile } from '../engine/profiles.ts';
import { runAny } from '../engine/run_any.ts';
import type { NestedFaultResult } from '../engine/mmu/nested_fault.ts';
import type { Outcome } from '../engine/svm/run.ts';
import type { TraceEvent } from '../engine/trace.ts';
import type { VmxOutcome } from '../engine/vmx/result.ts';
import { VMX_SEGMENTS, type VmxScenario } from '../engine/vmx/scenario.ts';
import { loadCorpusFile, type CorpusEntry } from './corpus.ts';
import { NestfuzzError } from './errors.ts';
import { fieldDiff, type FieldDiff } from './fieldDiff.ts';
import { safeVerdict } from './runner.ts';
import { requireProfile } from './select.ts';
import { buildWalkView, renderWalkView, type WalkView } from './walkView.ts';
import { pageFaultSetup, renderPageFault } from './pageFaultView.ts';
import { renderPermission } from './permissionView.ts';

export interface ReplayTrace {
  profile: string;
  outcome: Outcome | VmxOutcome | NestedFaultResult['outcome'];
  events: TraceEvent[];
}

export interface ReplayResult {
  file: string;
  property: string;
  title: string;
  profile: string;
  otherProfile: string | null;
  /** The verdict stored when the counterexample was found. */
  stored: { code: string; message: string };
  /** Today's verdict. */
  verdict: { ok: true } | { ok: false; code: string; message: string; details?: Record<string, unknown> };
  /** The invariant still fails, as the corpus entry expects. */
  reproduces: boolean;
  seed: number;
  path: string;
  foundAt: string;
  toolVersion: string;
  mutations: string[];
  /** The case flavour: nested entry (svm / vmx) or nested paging and fault synthesis (mmu). */
  arch: 'svm' | 'vmx' | 'mmu';
  /** Heading of `dump`: 'vmcb12' (SVM), 'vmcs12' (VMX) or the nested-paging walk (MMU). */
  dumpTitle: string;
  /**
   * SVM: the vmcb12 as decoded (dumpVmcb). VMX: the vmcs12 (dumpVmcs12 with vmcs12Namer). MMU: the
   * walk level by level, the exit L0 took and the exit injected into L1 (renderWalkView).
   */
  dump: string;
  /** VMX: L1, the entry path, launch state and the capability MSRs. MMU: the access, L2 paging and L1's TDP. */
  l1Summary: string[];
  /** Heading of l1Summary. */
  setupTitle: string;
  /** MMU only: the walk view as data (on the entry's profile); null for SVM / VMX cases. */
  walkView: WalkView | null;
  /** The scenario against its valid base (paths like `vmcb12.control.asid`). */
  diff: FieldDiff[];
  /** One trace per profile: the entry's profile, then other_profile if any. */
  traces: ReplayTrace[];
}

export interface ReplayOptions {
  /** Property lookup (default: properties/index.ts). */
  getProperty?: (id: string) => NestfuzzProperty | undefined;
}

export function replayEntry(file: string, entry: CorpusEntry, opts: ReplayOptions = {}): ReplayResult {
  const prop = (opts.getProperty ?? getProperty)(entry.property);
  if (!prop) {
    throw new NestfuzzError('NESTFUZZ_UNKNOWN_PROPERTY', `unknown property ${JSON.stringify(entry.property)} in ${file}`, 'run `nestfuzz list` to see the property ids');
  }
  const profile = requireProfile(entry.profile);
  const other: Profile | null = entry.other_profile === undefined ? null : requireProfile(entry.other_profile);
  const ctx: PropertyContext = { profile, strictArch: entry.strict_arch === true, ...(other ? { other } : {}) };
  const c = entry.case;
  const verdict = safeVerdict(prop, c, ctx);
  const traces = [profile, ...(other ? [other] : [])].map((p) => {
    const r = runAny(c.scenario, p);
    return { profile: p.name, outcome: r.outcome as ReplayTrace['outcome'], events: r.trace.events };
  });
  return {
    file,
    property: prop.id,
    title: prop.title,
    profile: profile.name,
    otherProfile: other?.name ?? null,
    stored: entry.verdict,
    verdict,
    reproduces: !verdict.ok,
    seed: entry.seed,
    path: entry.path,
    foundAt: entry.found_at,
    toolVersion: entry.tool.version,
    mutations: entry.mutations,
    ...caseDump(c, profile),
    diff: fieldDiff(c.base, c.scenario),
    traces,
  };
}

function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}

/** L1 and the nested setup around vmcs12, one item a line (what a VMX counterexample's vmcs12 dump leaves out). */
export function vmxL1Summary(s: VmxScenario): string[] {
  const l = s.l1;
  const out: string[] = [];
  out.push(`path ${s.path}, launch_state ${s.launch_state}, current_vmptr ${hex(s.current_vmptr)}, revision ${hex(s.vmcs12_revision)}${s.vmcs12_shadow ? ' (shadow)' : ''}`);
  if (s.path === 'set-nested-state') out.push(`nested_state guest_mode=${s.nested_state.guest_mode} run_pending=${s.nested_state.run_pending}`);
  out.push(`l0 enable_ept=${s.l0.enable_ept} enable_unrestricted_guest=${s.l0.enable_unrestricted_guest} warn_on_missed_cc=${s.l0.warn_on_missed_cc}`);
  out.push(`l1 cpl=${l.cpl} cr0=${hex(l.cr0)} cr3=${hex(l.cr3)} cr4=${hex(l.cr4)} efer=${hex(l.efer)} rflags=${hex(l.rflags)}`);
  out.push(`l1 rip=${hex(l.rip)} rsp=${hex(l.rsp)} dr7=${hex(l.dr7)} debugctl=${hex(l.debugctl)} pat=${hex(l.pat)} interruptibility=${l.interruptibility}`);
  out.push(`l1 vmxon=${l.vmxon} vmxon_ptr=${hex(l.vmxon_ptr)} smm=${l.smm} x2apic=${l.x2apic}`);
  out.push(`l1 seg ${VMX_SEGMENTS.map((n) => `${n}=${hex(l.seg[n].selector)}/${hex(l.seg[n].ar)}`).join(' ')}`);
  const msrs = Object.entries(l.msrs);
  if (msrs.length > 0) out.push(`l1 msrs ${msrs.map(([k, v]) => `${k}=${hex(v)}`).join(' ')}`);
  const g = s.guest;
  const cpuid = Object.entries(g.cpuid).filter(([, v]) => v === true).map(([k]) => k);
  out.push(`guest maxphyaddr=${g.maxphyaddr} mpx=${g.mpx} pmu=${g.pmu_gp_counters}+${g.pmu_fixed_counters} cpuid ${cpuid.join(',')}`);
  const caps = Object.values(MSR_IA32_VMX).flatMap((i) => {
    const v = vmxMsrValue(s.caps, i);
    return v === undefined ? [] : [`${vmxMsrName(i)}=${hex(v)}`];
  });
  out.push(`caps ${caps.join(' ')}`);
  const words = Object.entries(s.mem).filter(([, v]) => v !== 0n);
  if (words.length > 0) out.push(`mem ${words.map(([k, v]) => `${k}=${hex(v)}`).join(' ')}`);
  out.push(`l2 ${JSON.stringify(s.l2, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v))}, after ${s.after}`);
  return out;
}

function caseDump(c: AnyCase, profile: Profile): Pick<ReplayResult, 'arch' | 'dumpTitle' | 'dump' | 'l1Summary' | 'setupTitle' | 'walkView'> {
  if (isNestedFaultCase(c)) {
    const view = buildWalkView(c.scenario, profile);
    return { arch: 'mmu', dumpTitle: `nested paging walk on ${profile.name}`, dump: renderWalkView(view).join('\n'), l1Summary: view.setup, setupTitle: 'access, L2 paging and L1\'s TDP', walkView: view };
  }
  if (isPageFaultCase(c)) {
    return { arch: 'mmu', dumpTitle: `MMU page-fault path on ${profile.name}`, dump: renderPageFault(c.scenario, profile).join('\n'), l1Summary: pageFaultSetup(c.scenario), setupTitle: 'VM, memslots and the fault', walkView: null };
  }
  if (isPermissionCase(c)) {
    return { arch: 'mmu', dumpTitle: `permission_fault on ${profile.name}`, dump: renderPermission(c.scenario, profile).join('\n'), l1Summary: [], setupTitle: '', walkView: null };
  }
  if (isVmxCase(c)) {
    return { arch: 'vmx', dumpTitle: 'vmcs12', dump: dumpVmcs12(c.scenario.vmcs12, { names: vmcs12Namer }), l1Summary: vmxL1Summary(c.scenario), setupTitle: 'L1 and nested setup', walkView: null };
  }
  return { arch: 'svm', dumpTitle: 'vmcb12', dump: dumpVmcb(c.scenario.vmcb12), l1Summary: [], setupTitle: 'L1 and nested setup', walkView: null };
}

/** Load (NESTFUZZ_CORPUS_SCHEMA on a bad file) and replay one corpus file. */
export function replayCorpusFile(file: string, opts: ReplayOptions = {}): ReplayResult {
  const lookup = opts.getProperty ?? getProperty;
  const entry = loadCorpusFile(file, { isProperty: (id) => lookup(id) !== undefined });
  return replayEntry(file, entry, opts);
}

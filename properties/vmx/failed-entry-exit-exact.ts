// "A failed VM entry is a VM exit with bit 31 that writes the reason and the qualification and
// nothing else of the exit-information fields, leaves the launch state alone, and loads the host
// state" (SDM vol.3C §27.8 "VM-Entry Failures During or After Loading Guest State", §28.5 "Loading
// Host State"; KVM nested.c nested_vmx_enter_non_root_mode vmentry_fail_vmexit, prepare_vmcs12,
// load_vmcs12_host_state). Qualification: 0 default, 2 PDPTE, 4 VMCS link pointer for exit 33; the
// 1-based index of the failing MSR-load entry for exit 34. A VMX abort while loading the host state
// (KVM: triple fault) only needs the triple fault.

import { VMCS12_FIELDS } from '../../src/arch/vmx/fields.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { exitLoads, expectedHostState, FAILED_VMENTRY, hostStateMismatches, show } from './_lib.ts';

const EXIT_INFO = VMCS12_FIELDS.filter((f) => f.group === 'exit-info').map((f) => f.name);
const WRITTEN = new Set(['vm_exit_reason', 'exit_qualification']);

/** Why a failed-entry result is not the SDM's exit; null when it is. */
export function failedEntryProblem(r: VmxRunResult): { code: string; message: string; details?: Record<string, unknown> } | null {
  const reason = r.exit_reason;
  if (reason === null || ((reason & FAILED_VMENTRY) >>> 0) === 0) return { code: 'exit-reason-bit31', message: `exit reason ${show(reason)} without bit 31` };
  const basic = reason & 0xffff;
  const qual = r.exit_qualification ?? -1n;
  if (basic === 33) {
    if (qual !== 0n && qual !== 2n && qual !== 4n) return { code: 'exit-qualification', message: `exit 33 with qualification ${show(qual)} ∉ {0, 2, 4}` };
  } else if (basic === 34) {
    const n = BigInt(r.before.vmcs12.vm_entry_msr_load_count >>> 0);
    if (qual < 1n || qual > n) return { code: 'exit-qualification', message: `exit 34 with qualification ${show(qual)} outside 1..${n}` };
  } else {
    return { code: 'exit-reason-basic', message: `failed entry with basic exit reason ${basic} (expected 33 or 34)` };
  }
  const a = r.after;
  if (a.triple_fault) return null; // VMX abort: KVM requests a triple fault; nothing else is architectural.
  if (a.vmcs12.vm_exit_reason >>> 0 !== reason >>> 0) return { code: 'vmcs12-exit-reason', message: `vmcs12.vm_exit_reason ${show(a.vmcs12.vm_exit_reason)} ≠ ${show(reason)}` };
  if (a.vmcs12.exit_qualification !== qual) return { code: 'vmcs12-exit-qualification', message: `vmcs12.exit_qualification ${show(a.vmcs12.exit_qualification)} ≠ ${show(qual)}` };
  const b = r.before;
  const changed = EXIT_INFO.filter((f) => !WRITTEN.has(f) && (b.vmcs12 as Record<string, unknown>)[f] !== (a.vmcs12 as Record<string, unknown>)[f]);
  if (changed.length) return { code: 'exit-info-written', message: `a failed entry wrote exit-information field(s) ${changed.join(', ')}`, details: { fields: changed } };
  if (a.launch_state !== b.launch_state) return { code: 'launch-state-changed', message: `launch state ${b.launch_state} → ${a.launch_state} on a failed entry` };
  if (a.guest_mode) return { code: 'guest-mode', message: 'still in guest mode after a failed entry' };
  const want = expectedHostState(b.vmcs12, b.l1, exitLoads(r));
  const bad = hostStateMismatches(want, a.l1);
  if (bad.length) return { code: 'host-state', message: `L1 after the failed entry is not vmcs12's host state: ${bad.map((m) => `${m.path} expected ${m.expected} got ${m.got}`).join('; ')}`, details: { mismatches: bad } };
  return null;
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'failed-entry-exit-exact',
  area: 'vmx',
  title: 'a failed VM entry (exit 33/34) writes only the reason and qualification and loads the host state',
  rationale: 'SDM vol.3C §27.8, §28.5, §28.6; KVM nested.c nested_vmx_enter_non_root_mode (vmentry_fail_vmexit), prepare_vmcs12 (FAILED_VMENTRY: no launch state, no other exit info), load_vmcs12_host_state, nested_vmx_abort',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const r = runVmx(c.scenario, ctx.profile);
    if (r.outcome !== 'entry-failure') return HOLDS;
    const p = failedEntryProblem(r);
    return p ? fail(p.code, p.message, p.details) : HOLDS;
  },
};

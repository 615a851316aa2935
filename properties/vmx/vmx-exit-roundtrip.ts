// "An exit from L2 reaches L1 exactly": after a successful entry whose L2 exits to L1, vmcs12 holds
// the exit reason (no bit 31) and qualification of what L2 did, the instruction length (VMCALL 3,
// CPUID 2, HLT 1, RDMSR/WRMSR 2; 0 for the preemption timer), guest RIP still at the exiting
// instruction, no event left to inject and no IDT-vectoring information, the launch state launched,
// L1 out of guest mode with the preemption timer cancelled, running on vmcs12's host state.

import { PIN_BASED } from '../../src/arch/vmx/controls.ts';
import { INTR_INFO } from '../../src/arch/vmx/intr_info.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import type { VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { exitLoads, expectedHostState, FAILED_VMENTRY, hostStateMismatches, show } from './_lib.ts';

/** The exit (basic reason, instruction length) the SDM gives for L2's action; null: no fixed expectation. */
function expectedExit(s: VmxScenario, reason: number): { reason: number; len: number } | null {
  const timer = (s.vmcs12.pin_based_vm_exec_control & PIN_BASED.VMX_PREEMPTION_TIMER) !== 0;
  if (reason === 52) return timer ? { reason: 52, len: 0 } : null;
  switch (s.l2.kind) {
    case 'vmcall': return { reason: 18, len: 3 };
    case 'cpuid': return { reason: 10, len: 2 };
    case 'hlt': return { reason: 12, len: 1 };
    case 'rdmsr': return { reason: 31, len: 2 };
    case 'wrmsr': return { reason: 32, len: 2 };
    default: return null;
  }
}

/** Why an L2 exit result is not the exact round trip; null when it is. */
export function roundtripProblem(s: VmxScenario, r: VmxRunResult): { code: string; message: string; details?: Record<string, unknown> } | null {
  const e = r.l2_exit;
  if (e === null) return null;
  const a = r.after, b = r.before;
  if ((e.reason & FAILED_VMENTRY) !== 0) return { code: 'exit-reason-bit31', message: `L2 exit reason ${show(e.reason)} has bit 31` };
  if (a.vmcs12.vm_exit_reason >>> 0 !== e.reason >>> 0) return { code: 'vmcs12-exit-reason', message: `vmcs12.vm_exit_reason ${show(a.vmcs12.vm_exit_reason)} ≠ L2 exit ${show(e.reason)}` };
  if (a.vmcs12.exit_qualification !== e.qualification) return { code: 'vmcs12-exit-qualification', message: `vmcs12.exit_qualification ${show(a.vmcs12.exit_qualification)} ≠ ${show(e.qualification)}` };
  const want = expectedExit(s, e.reason & 0xffff);
  if (want === null) return { code: 'unexpected-exit', message: `L2 action ${s.l2.kind} exited with reason ${e.reason}` };
  if (want.reason !== (e.reason & 0xffff)) return { code: 'exit-reason', message: `L2 ${s.l2.kind} exited with reason ${e.reason & 0xffff}, expected ${want.reason}` };
  if (a.vmcs12.vm_exit_instruction_len >>> 0 !== want.len) return { code: 'instruction-len', message: `vm_exit_instruction_len ${a.vmcs12.vm_exit_instruction_len} ≠ ${want.len} for ${s.l2.kind}` };
  if (a.vmcs12.guest_rip !== b.vmcs12.guest_rip) return { code: 'guest-rip', message: `guest_rip ${show(b.vmcs12.guest_rip)} → ${show(a.vmcs12.guest_rip)} on a fault-like exit` };
  if ((a.vmcs12.vm_entry_intr_info_field & INTR_INFO.VALID) !== 0) return { code: 'injection-left-valid', message: 'vm_entry_intr_info_field still valid after the exit' };
  if (a.vmcs12.idt_vectoring_info_field >>> 0 !== 0) return { code: 'idt-vectoring', message: `idt_vectoring_info_field ${show(a.vmcs12.idt_vectoring_info_field)} ≠ 0` };
  if (a.launch_state !== 'launched') return { code: 'launch-state', message: `launch state ${a.launch_state} after an exit from L2` };
  if (a.guest_mode) return { code: 'guest-mode', message: 'still in guest mode after the exit' };
  if (a.timer_armed) return { code: 'timer-armed', message: 'preemption timer still armed after the exit' };
  if (a.triple_fault) return null; // VMX abort (MSR store/load list): KVM's triple fault; no host state to compare.
  // L1 continues on vmcs12's host state; a VMXOFF afterwards moves RIP and RFLAGS again.
  const skip = s.after === 'vmxoff' ? ['rip', 'rflags'] : [];
  const bad = hostStateMismatches(expectedHostState(b.vmcs12, b.l1, exitLoads(r)), a.l1, skip);
  if (bad.length) return { code: 'host-state', message: `L1 after the exit is not vmcs12's host state: ${bad.map((m) => `${m.path} expected ${m.expected} got ${m.got}`).join('; ')}`, details: { mismatches: bad } };
  return null;
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmx-exit-roundtrip',
  area: 'vmx',
  title: 'an exit from L2 gives L1 the exact exit information and vmcs12\'s host state',
  rationale: 'SDM vol.3C §28.2 (exit reason, qualification, instruction length), §28.3 (guest RIP of fault-like exits), §28.5 (host state); KVM nested.c nested_vmx_vmexit, prepare_vmcs12 (launch_state = 1, vm_entry_intr_info_field valid bit cleared, idt_vectoring_info), load_vmcs12_host_state, hrtimer_cancel of the preemption timer',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const r = runVmx(c.scenario, ctx.profile);
    if (r.outcome !== 'entered' || r.l2_exit === null) return HOLDS;
    const p = roundtripProblem(c.scenario, r);
    return p ? fail(p.code, p.message, p.details) : HOLDS;
  },
};

// runVmx(scenario, profile): the engine's entry point for nested VMX. Pure and deterministic — the
// scenario is copied, nothing reads a clock or randomness — and total: a state KVM rejects is an
// outcome, never an exception.

import { cloneVmcs12, type Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import { has, profileDropped, type Profile } from '../profiles.ts';
import { Trace } from '../trace.ts';
import { handle_vmxoff } from './instructions.ts';
import { run_l2 } from './l2.ts';
import { newVmxMachine, syncFromInsn, type VmxMachine } from './machine.ts';
import { vmx_set_nested_state } from './nested_state.ts';
import { nested_vmx_run, vmx_vcpu_run_vmcs02, type NestedVmxRunResult } from './nested/run.ts';
import type { VmxL1View, VmxRunResult } from './result.ts';
import { cloneVmxL1, type VmxL1, type VmxScenario } from './scenario.ts';

/**
 * L1 as the run saw it. The "before" view shares the caller's scenario objects (l1, vmcs12, mem),
 * which the engine never writes (it works on copies); the "after" view is the machine's own state,
 * which nothing changes once the run returns. Neither is copied: copies of the 150-field vmcs12
 * were most of a run's cost.
 */
function view(m: VmxMachine, src: { l1: VmxL1; vmcs12: Vmcs12; mem: Record<string, bigint> }): VmxL1View {
  return {
    l1: src.l1,
    vmcs12: src.vmcs12,
    launch_state: m.launch_state,
    current_vmptr: m.v.vmx.current_vmptr,
    vmxon: m.l1.vmxon,
    guest_mode: m.guest_mode,
    timer_armed: m.timer_armed,
    exception: m.v.exception ? { ...m.v.exception } : null,
    triple_fault: m.triple_fault,
    freed: m.freed,
    mem: src.mem,
  };
}

/** Copies an entry attempt's verdict into the result; L2's EFER when L2 now runs, else null. */
function record(res: VmxRunResult, r: NestedVmxRunResult): bigint | null {
  switch (r.kind) {
    case 'fault':
      res.outcome = r.outcome;
      return null;
    case 'vmfail-valid':
      res.outcome = 'vmfail-valid';
      res.vm_instruction_error = r.error;
      res.late_vmfail = r.late;
      res.hardware = r.hardware;
      res.rejected_by = r.late ? 'hardware' : null;
      return null;
    case 'entry-failure':
      res.outcome = 'entry-failure';
      res.exit_reason = r.reason;
      res.exit_qualification = r.qual;
      res.rejected_by = r.layer;
      res.hardware = r.hardware;
      return null;
    case 'entered':
      res.outcome = 'entered';
      return r.l2_efer;
    default:
      res.outcome = r.kind;
      return null;
  }
}

export function runVmx(scenario: VmxScenario, profile: Profile): VmxRunResult {
  // The run mutates L1, vmcs12 and memory only; caps, guest facts and L0 are shared read-only (the
  // per-object caches of reserved-bit masks and decoded MSRs then hit across runs).
  const s: VmxScenario = { ...scenario, l1: cloneVmxL1(scenario.l1), vmcs12: cloneVmcs12(scenario.vmcs12), mem: { ...scenario.mem } };
  const t = new Trace(profileDropped(profile));
  const m = newVmxMachine(s, t, profile);
  const before = view(m, scenario);
  const res: VmxRunResult = {
    trace: t, outcome: 'entered', vm_instruction_error: null, exit_reason: null, exit_qualification: null,
    rejected_by: null, hardware: null, late_vmfail: false, msr_writes: m.msr_writes, vmcs02: null,
    l2_exit: null, l2_event: null, before, after: before,
  };
  let l2_efer: bigint | null = null;

  if (s.path === 'set-nested-state') {
    const r = vmx_set_nested_state(m);
    res.outcome = r.kind;
    // The first KVM_RUN after a restore into guest mode enters vmcs02 on the CPU.
    if (r.kind === 'entered') l2_efer = record(res, vmx_vcpu_run_vmcs02(m, r.l2_efer, before.l1) ?? r);
  } else {
    l2_efer = record(res, nested_vmx_run(m, s.path === 'vmlaunch', before.l1));
  }
  res.vmcs02 = m.vmcs02;

  if (l2_efer !== null) {
    const o = run_l2(m, l2_efer);
    res.l2_exit = o.exit;
    res.l2_event = o.event;
    if (o.exit !== null && s.after === 'vmxoff' && !m.triple_fault) {
      handle_vmxoff(m.insn);
      syncFromInsn(m);
      m.l1.vmxon = m.v.vmx.vmxon;
      // free_nested cancels the emulated preemption timer (CVE-2019-7221 fix).
      if (!m.l1.vmxon && has(profile, 'vmx-free-nested-cancels-timer')) m.timer_armed = false;
    }
  }
  res.after = view(m, { l1: m.l1, vmcs12: m.vmcs12, mem: m.mem.words });
  return res;
}

// nested_vmx_vmexit (vmx/nested.c) and prepare_vmcs12: leaving L2 for L1. The exit-information
// fields are written only for a real VM exit; a failed VM entry (bit 31 of the reason) writes the
// reason and qualification and nothing else (SDM §27.8: "the VM-exit interruption-information and
// instruction fields are not written"), leaves the launch state alone and stores no MSRs. A late
// VMfail (the CPU refused vmcs02's controls) restores L1 instead: nested_vmx_restore_host_state.

import { INTR_INFO } from '../../../arch/vmx/intr_info.ts';
import { EXIT_REASON_FLAGS } from '../../../arch/vmx/exit_reasons.ts';
import { VMXERR } from '../../../arch/vmx/errors.ts';
import { VM_EXIT } from '../../../arch/vmx/controls.ts';
import { nested_vmx_fail } from '../instructions.ts';
import { syncFromInsn, syncToInsn, type VmxMachine } from '../machine.ts';
import { cloneVmxL1, type VmxL1 } from '../scenario.ts';
import { kvm_emulate_msr_write } from '../msrs.ts';
import { load_vmcs12_host_state, nested_vmx_abort, VMX_ABORT } from './host_state.ts';
import { nested_vmx_store_msr } from './msr_list.ts';

export interface VmexitInfo {
  /** Full exit reason; -1 = leave guest mode without a VM exit L1 sees (vmx_leave_nested). */
  reason: number;
  qualification: bigint;
  intr_info: number;
  instruction_len: number;
}

/** prepare_vmcs12's exit-information part. */
function prepare_vmcs12(m: VmxMachine, e: VmexitInfo, l2_efer: bigint): void {
  const v = m.vmcs12;
  if ((v.vm_exit_controls & VM_EXIT.SAVE_IA32_EFER) !== 0) v.guest_ia32_efer = l2_efer;
  v.vm_exit_reason = e.reason >>> 0;
  v.exit_qualification = BigInt.asUintN(64, e.qualification);
  if ((e.reason & EXIT_REASON_FLAGS.FAILED_VMENTRY) !== 0) return;
  m.launch_state = 'launched';
  // The injected event was delivered when L2 started: the valid bit is cleared on exit, nothing is left to re-inject.
  v.vm_entry_intr_info_field = (v.vm_entry_intr_info_field & ~INTR_INFO.VALID) >>> 0;
  v.idt_vectoring_info_field = 0;
  v.vm_exit_intr_info = e.intr_info >>> 0;
  v.vm_exit_instruction_len = e.instruction_len >>> 0;
  // §28.4: the VM-exit MSR-store list; a failure is a VMX abort (indicator 1).
  if (!nested_vmx_store_msr(m, BigInt.asUintN(64, v.vm_exit_msr_store_addr), v.vm_exit_msr_store_count)) nested_vmx_abort(m, VMX_ABORT.SAVE_GUEST_MSR_FAIL);
}

/**
 * nested_vmx_vmexit: L2 is left, the emulated preemption timer is cancelled (hrtimer_cancel), vmcs12
 * gets the exit, and L1 continues with vmcs12's host state.
 */
export function nested_vmx_vmexit(m: VmxMachine, e: VmexitInfo, l2_efer: bigint): void {
  m.t.emit('nested_vmx_vmexit', { reason: e.reason, qualification: e.qualification });
  m.guest_mode = false;
  m.nested_run_pending = false;
  m.timer_armed = false;
  if (e.reason !== -1) prepare_vmcs12(m, e, l2_efer);
  load_vmcs12_host_state(m);
  syncToInsn(m);
}

/**
 * The late-VMfail arm of nested_vmx_vmexit: the CPU refused vmcs02 after KVM had switched to L2's
 * state and processed the VM-entry MSR-load list. L1 gets VMfailValid(7) and its registers back
 * (nested_vmx_restore_host_state); an MSR the entry list wrote is restored only when the VM-exit
 * MSR-load list names it too (the rest keep the entry list's value).
 */
export function nested_vmx_late_vmfail(m: VmxMachine, pre: VmxL1): void {
  m.t.emit('nested_vmx_late_vmfail', {});
  m.guest_mode = false;
  m.nested_run_pending = false;
  m.timer_armed = false;
  const l1 = m.l1;
  for (const k of ['cpl', 'cr0', 'cr3', 'cr4', 'efer', 'pat', 'bndcfgs', 'perf_global_ctrl', 'rflags', 'rip', 'rsp', 'dr7', 'interruptibility'] as const) (l1 as unknown as Record<string, unknown>)[k] = pre[k];
  const copy = cloneVmxL1(pre);
  l1.seg = copy.seg;
  l1.gdtr = copy.gdtr;
  l1.idtr = copy.idtr;
  restore_entry_msrs(m);
  syncToInsn(m);
  nested_vmx_fail(m.insn, { insn_len: 3 }, VMXERR.ENTRY_INVALID_CONTROL_FIELD);
  syncFromInsn(m);
}

function restore_entry_msrs(m: VmxMachine): void {
  const v = m.vmcs12;
  const n = Math.min(v.vm_entry_msr_load_count >>> 0, 512);
  const k = Math.min(v.vm_exit_msr_load_count >>> 0, 512);
  for (let i = 0; i < n; i++) {
    const g = m.mem.read64(BigInt.asUintN(64, v.vm_entry_msr_load_addr) + BigInt(i) * 16n);
    if (g === null) return nested_vmx_abort(m, VMX_ABORT.LOAD_HOST_MSR_FAIL);
    for (let j = 0; j < k; j++) {
      const at = BigInt.asUintN(64, v.vm_exit_msr_load_addr) + BigInt(j) * 16n;
      const h = m.mem.read64(at);
      const hv = m.mem.read64(at + 8n);
      if (h === null || hv === null || (h & 0xffffffffn) !== (g & 0xffffffffn)) continue;
      if (!kvm_emulate_msr_write(m.l1, m.msrEnv, Number(h & 0xffffffffn), hv)) return nested_vmx_abort(m, VMX_ABORT.LOAD_HOST_MSR_FAIL);
      m.msr_writes.push({ list: 'restore', index: Number(h & 0xffffffffn), value: hv });
      break;
    }
  }
}

// L2 after a successful entry: one action, routed as KVM routes it (nested_vmx_reflect_vmexit →
// nested_vmx_l1_wants_exit): VMCALL and CPUID always exit to L1; HLT only with HLT exiting (else L0
// halts L2); RDMSR/WRMSR exit to L1 unless L1's MSR bitmap passes the MSR, and an x2APIC MSR that
// vmcs02's merged bitmap passes through never reaches L0 at all. A zero preemption-timer value makes
// the timer fire before L2 executes anything, and an open NMI or interrupt window L1 asked to exit
// on comes next. Userspace may also destroy the vCPU while L2 runs.

import { RFLAGS } from '../../arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY } from '../../arch/vmx/controls.ts';
import { INTR_INFO } from '../../arch/vmx/intr_info.ts';
import { INTR_STATE } from '../../arch/vmx/intr_state.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import { has } from '../profiles.ts';
import { free_nested } from './instructions.ts';
import type { VmxMachine } from './machine.ts';
import { nested_vmx_vmexit, type VmexitInfo } from './nested/vmexit.ts';
import type { VmxL2Exit } from './result.ts';

export interface L2Outcome {
  exit: VmxL2Exit | null;
  event: string | null;
}

/** nested_vmx_exit_handled_msr: without MSR bitmaps every RDMSR/WRMSR exits; ranges outside the bitmap always exit. */
function l1WantsMsrExit(m: VmxMachine, msr: number, write: boolean): boolean {
  const v = m.vmcs12;
  if ((v.cpu_based_vm_exec_control & CPU_BASED.USE_MSR_BITMAPS) === 0) return true;
  let bit: number;
  if (msr >= 0 && msr <= 0x1fff) bit = msr;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) bit = 0x400 * 8 + (msr - 0xc0000000);
  else return true;
  const b = m.mem.bit(v.msr_bitmap, (write ? 0x800 * 8 : 0) + bit);
  return b !== false;
}

function exitToL1(m: VmxMachine, l2_efer: bigint, e: VmexitInfo): L2Outcome {
  nested_vmx_vmexit(m, e, l2_efer);
  return { exit: { reason: e.reason, qualification: e.qualification }, event: null };
}

export function run_l2(m: VmxMachine, l2_efer: bigint): L2Outcome {
  const a = m.s.l2;
  const v = m.vmcs12;
  if (a.kind === 'vcpu-destroy') {
    m.freed = true;
    if (has(m.p, 'vmx-free-nested-cancels-timer')) {
      // nested_vmx_free_vcpu → vmx_leave_nested: a VM exit L1 never sees (reason -1), then free_nested.
      nested_vmx_vmexit(m, { reason: -1, qualification: 0n, intr_info: 0, instruction_len: 0 }, l2_efer);
      m.timer_armed = false;
    } else {
      // Before CVE-2019-7221's fix (v4.20 vmx_free_vcpu_nested): switch to vmcs01 and free_nested,
      // which left the emulated preemption timer's hrtimer armed on freed memory.
      m.guest_mode = false;
      m.nested_run_pending = false;
    }
    free_nested(m.insn);
    m.l1.vmxon = false;
    if (has(m.p, 'vmx-free-nested-cancels-timer')) m.timer_armed = false;
    return { exit: null, event: 'vcpu-destroyed' };
  }
  m.nested_run_pending = false;
  // vmx_start_preemption_timer: a zero value expires at once, before L2 runs an instruction.
  if ((v.pin_based_vm_exec_control & PIN_BASED.VMX_PREEMPTION_TIMER) !== 0 && v.vmx_preemption_timer_value >>> 0 === 0) {
    return exitToL1(m, l2_efer, { reason: EXIT_REASON.PREEMPTION_TIMER, qualification: 0n, intr_info: 0, instruction_len: 0 });
  }
  // The window exits come right after VM entry too, before L2's first instruction and after the
  // timer's (SDM 26.7.5 interrupt-window, 26.7.6 NMI-window exiting). KVM runs L2 with vmcs12's
  // window controls in vmcs02 (prepare_vmcs02_early) and reflects both exits to L1
  // (nested_vmx_l1_wants_exit), so L1 sees them before anything L2 does. MOV-SS or STI blocking
  // holds both back (the SDM: MOV SS always, STI the interrupt window and "may" the NMI window;
  // the model holds it, as Bochs 2.7 does). With an event injected, L2 first delivers it and the
  // window opens at the handler, which this one-action model does not run: no window exit then.
  const intr = v.guest_interruptibility_info;
  if ((v.vm_entry_intr_info_field & INTR_INFO.VALID) === 0 && (intr & (INTR_STATE.STI | INTR_STATE.MOV_SS)) === 0) {
    // Virtual-NMI blocking is bit 3 once "virtual NMIs" is set (SDM 25.4.2, table 25-3).
    if ((v.pin_based_vm_exec_control & PIN_BASED.VIRTUAL_NMIS) !== 0 && (v.cpu_based_vm_exec_control & CPU_BASED.NMI_WINDOW_EXITING) !== 0 && (intr & INTR_STATE.NMI) === 0) {
      return exitToL1(m, l2_efer, { reason: EXIT_REASON.NMI_WINDOW, qualification: 0n, intr_info: 0, instruction_len: 0 });
    }
    if ((v.cpu_based_vm_exec_control & CPU_BASED.INTR_WINDOW_EXITING) !== 0 && (v.guest_rflags & RFLAGS.IF) !== 0n) {
      return exitToL1(m, l2_efer, { reason: EXIT_REASON.INTERRUPT_WINDOW, qualification: 0n, intr_info: 0, instruction_len: 0 });
    }
  }
  switch (a.kind) {
    case 'vmcall':
      return exitToL1(m, l2_efer, { reason: EXIT_REASON.VMCALL, qualification: 0n, intr_info: 0, instruction_len: 3 });
    case 'cpuid':
      return exitToL1(m, l2_efer, { reason: EXIT_REASON.CPUID, qualification: 0n, intr_info: 0, instruction_len: 2 });
    case 'hlt':
      if ((v.cpu_based_vm_exec_control & CPU_BASED.HLT_EXITING) !== 0) {
        return exitToL1(m, l2_efer, { reason: EXIT_REASON.HLT, qualification: 0n, intr_info: 0, instruction_len: 1 });
      }
      return { exit: null, event: 'halted' };
    case 'rdmsr':
    case 'wrmsr': {
      const write = a.kind === 'wrmsr';
      const msr = a.msr >>> 0;
      const token = `${write ? 'w' : 'r'}:0x${msr.toString(16)}`;
      if (m.vmcs02?.x2apic_passthrough.includes(token)) {
        // No VM exit: with virtualize-x2APIC-mode in vmcs02 the CPU serves the access from the virtual-APIC
        // page; without it the access reaches the physical (L0's) x2APIC.
        const virt = ((m.vmcs02.secondary & SECONDARY.VIRTUALIZE_X2APIC_MODE) !== 0);
        m.t.emit('l2_msr_no_exit', { msr, write, virtualized: virt });
        return { exit: null, event: virt ? 'x2apic-virtualized' : 'l0-x2apic-accessed' };
      }
      if (l1WantsMsrExit(m, msr, write)) {
        return exitToL1(m, l2_efer, { reason: write ? EXIT_REASON.MSR_WRITE : EXIT_REASON.MSR_READ, qualification: 0n, intr_info: 0, instruction_len: 2 });
      }
      return { exit: null, event: 'handled-by-l0' };
    }
  }
}

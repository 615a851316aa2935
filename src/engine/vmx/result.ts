// What runVmx returns: the verdict of the entry path in the vocabulary of `check --vmcs12 --json`,
// who rejected a state (KVM's software checks or the CPU's VM entry of vmcs02), and the L1 view
// before and after, so invariants can compare them. Pure data.

import type { Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import type { Trace } from '../trace.ts';
import type { VmxL1 } from './scenario.ts';

export type VmxOutcome =
  | '#UD'
  | '#GP'
  | 'vmfail-invalid'
  | 'vmfail-valid'
  /** VM exit 33 or 34 with bit 31 set (a failed VM entry reflected to L1). */
  | 'entry-failure'
  /** L2 ran (and possibly exited back to L1). */
  | 'entered'
  /** KVM_EXIT_INTERNAL_ERROR to userspace (not architectural). */
  | 'internal-error'
  /** KVM_SET_NESTED_STATE returned -EINVAL. */
  | 'einval'
  /** KVM_SET_NESTED_STATE succeeded without entering guest mode. */
  | 'state-set';

/** Which layer rejected an entry: KVM's software checks, or the CPU entering vmcs02. */
export type VmxRejectLayer = 'kvm' | 'hardware';

export interface VmxHardwareVerdict {
  ok: boolean;
  /** 'exit-33': invalid guest state; 'vmfail-7': a control-field check the CPU made (a "late" VMfail). */
  kind?: 'exit-33' | 'vmfail-7';
  /** The failing hardware rule's id ('hw-…'). */
  rule?: string;
  /** Exit-33 qualification: 0 default, 2 PDPTE, 4 VMCS link pointer. */
  qual?: number;
  /**
   * 'hardware' for a rule KVM leaves to the CPU (spec §2.6); 'kvm' for one KVM's software checks are
   * meant to catch first (a hit means KVM missed a consistency check: nested.c warn_on_missed_cc).
   */
  owner?: 'kvm' | 'hardware';
}

/** The effective state KVM builds in vmcs02 and the CPU checks on entry. */
export interface Vmcs02State {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** VM_ENTRY_IA32E_MODE in vmcs02 = L2 EFER.LMA (prepare_vmcs02_early). */
  ia32e: boolean;
  pin: number;
  proc: number;
  secondary: number;
  entry: number;
  exit: number;
  /** VIRTUAL_APIC_PAGE_ADDR as written (INVALID_GPA when the page could not be mapped). */
  virtual_apic_page_addr: bigint;
  /**
   * x2APIC MSRs (0x800-0x8ff) vmcs02's merged MSR bitmap lets L2 access without a VM exit, as
   * "r:0x808" / "w:0x80b" tokens (nested_vmx_prepare_msr_bitmap).
   */
  x2apic_passthrough: string[];
}

/** An MSR write done by an MSR-load list (in order). */
export interface VmxMsrWrite {
  list: 'entry-load' | 'exit-load' | 'restore';
  index: number;
  value: bigint;
}

export interface VmxL1View {
  l1: VmxL1;
  vmcs12: Vmcs12;
  launch_state: 'clear' | 'launched';
  current_vmptr: bigint;
  vmxon: boolean;
  guest_mode: boolean;
  /** The emulated VMX-preemption timer's hrtimer is armed. */
  timer_armed: boolean;
  /** An exception queued for L1 (the single-step #DB of a trapped VMX instruction). */
  exception: { vector: number; payload?: bigint } | null;
  triple_fault: boolean;
  /** The vCPU was destroyed (userspace freed it while L2 ran). */
  freed: boolean;
  /** L1 memory words after the run (the exit MSR-store list writes here). */
  mem: Record<string, bigint>;
}

export interface VmxL2Exit {
  /** Full exit reason as written to vmcs12.vm_exit_reason. */
  reason: number;
  qualification: bigint;
}

export interface VmxRunResult {
  trace: Trace;
  outcome: VmxOutcome;
  /** VM-instruction error of a VMfailValid (early or late). */
  vm_instruction_error: number | null;
  /** Exit reason (bit 31 set) and qualification of a failed entry. */
  exit_reason: number | null;
  exit_qualification: bigint | null;
  /** For 'entry-failure' and late VMfails: which layer rejected the state. */
  rejected_by: VmxRejectLayer | null;
  /** The failing hardware rule, when the CPU rejected vmcs02. */
  hardware: VmxHardwareVerdict | null;
  /** A VMfail that came from the CPU after KVM had loaded L2 state (nested_vmx_vmexit with vmx->fail). */
  late_vmfail: boolean;
  /** MSR writes the entry/exit MSR-load lists performed, in order. */
  msr_writes: VmxMsrWrite[];
  vmcs02: Vmcs02State | null;
  /** L2's exit to L1 after a successful entry (null: no entry, or L2 did not exit to L1). */
  l2_exit: VmxL2Exit | null;
  /** What L2's action did when it did not exit to L1 ('halted', 'msr-passthrough', 'handled-by-l0', 'vcpu-destroyed'). */
  l2_event: string | null;
  before: VmxL1View;
  after: VmxL1View;
}

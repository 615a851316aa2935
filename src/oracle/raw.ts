// What an emulator reports for one state, before any interpretation.

export type RawOutcome =
  /**
   * VMRUN returned to L1 (#VMEXIT or VMEXIT_INVALID): the VMCB fields L1 reads, copied by the
   * harness into the state's record.
   */
  | { kind: 'exit'; exit: SvmExitFields }
  /** VMRUN itself (or the harness around it) took a host exception. */
  | { kind: 'host-exception'; vector: number; error_code: bigint }
  /** The emulator died, reset or hung on this state; the batch resumed at the next one. */
  | { kind: 'crash'; detail: string };

export interface BatchRun {
  outcomes: RawOutcome[];
  /** Emulator processes started (one per instance, plus one per crash). */
  boots: number;
  /** The CPU model's CPUID leaves (layout.ts CPUID_LEAVES), [eax, ebx, ecx, edx] each. */
  cpuid: number[][];
}

/** The VMCB fields after VMRUN returned (APM 15.7 / appendix B offsets 0x70–0x88, 0xA8, 0xC8, 0x578). */
export interface SvmExitFields {
  exit_code: bigint;
  exit_info_1: bigint;
  exit_info_2: bigint;
  exit_int_info: number;
  exit_int_info_err: number;
  /** save.rip, NextRIP and EVENTINJ as the CPU left them (for the report). */
  rip: bigint;
  next_rip: bigint;
  event_inj: bigint;
}

/** What Bochs's VMX harness (harness/vmx.asm) reports for one VMCS state, before any interpretation. */
export type VmxRawOutcome =
  /** VMLAUNCH (or a VMCLEAR/VMPTRLD/VMWRITE before it) failed: VMfailInvalid or VMfailValid. */
  | { kind: 'vmfail-invalid'; failed: VmxFailedInsn }
  | { kind: 'vmfail-valid'; error: number; failed: VmxFailedInsn }
  /** A VM exit (a VM-entry failure is one too: reason bit 31): the fields the harness read back. */
  | { kind: 'exit'; exit: VmxExitFields }
  /** A VMX instruction (or the harness around it) took a host exception. */
  | { kind: 'host-exception'; vector: number; error_code: bigint }
  | { kind: 'crash'; detail: string };

/** The instruction that failed: a VMWRITE (with its encoding), or VMLAUNCH / VMCLEAR / VMPTRLD. */
export type VmxFailedInsn = { insn: 'vmwrite'; encoding: number } | { insn: 'vmlaunch' | 'vmclear' | 'vmptrld' };

/** SDM App. B encodings 0x4402, 0x6400, 0x2400, 0x4404, 0x681E, 0x440C, 0x4408 as VMREAD returned them. */
export interface VmxExitFields {
  exit_reason: number;
  exit_qualification: bigint;
  /** Meaningful for EPT violations and misconfigurations (SDM 28.2.1). */
  guest_physical_address: bigint;
  exit_intr_info: number;
  guest_rip: bigint;
  instruction_len: number;
  idt_vectoring_info: number;
}

export interface VmxBatchRun {
  outcomes: VmxRawOutcome[];
  boots: number;
  cpuid: number[][];
  /** IA32_VMX_BASIC .. IA32_VMX_TRUE_ENTRY_CTLS (0x480..0x490) as the harness read them (all-ones: #GP). */
  vmxCaps: bigint[];
}

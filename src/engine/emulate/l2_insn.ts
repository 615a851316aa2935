// The L2 instruction streams nested-paging scenarios run (issue #5 §4), and the controls of L1 that
// decide which of them exit to L1. Instructions are abstract (no encodings in guest memory): what
// matters is the access each makes and the exit each can cause. Addresses are L2 linear addresses.

export type L2Op =
  /** MOV load/store of 1/2/4/8 bytes at gva; crosses a page when gva + size passes a 4K boundary. */
  | { op: 'mov'; store: boolean; size: 1 | 2 | 4 | 8; gva: bigint }
  /** PUSH / POP of the stack width (8 in long mode, 4 in 32-bit modes) at RSP. */
  | { op: 'push' }
  | { op: 'pop' }
  /** IN / OUT with the port in DX. */
  | { op: 'in'; port: number; size: 1 | 2 | 4 }
  | { op: 'out'; port: number; size: 1 | 2 | 4 }
  /** INS (stores to ES:RDI) / OUTS (loads from DS:RSI) with a REP count and EFLAGS.DF. */
  | { op: 'ins'; port: number; size: 1 | 2 | 4; rep: number; df: boolean; gva: bigint }
  | { op: 'outs'; port: number; size: 1 | 2 | 4; rep: number; df: boolean; gva: bigint }
  | { op: 'cpuid' }
  | { op: 'hlt' }
  /** VMMCALL on SVM, VMCALL on VMX. */
  | { op: 'hypercall' }
  | { op: 'invlpg'; gva: bigint }
  /** MOV to CR3 of L2's current CR3 (a reload: TLB flush; PAE PDPTEs re-read). */
  | { op: 'mov-cr3' }
  | { op: 'rdmsr'; msr: number }
  | { op: 'wrmsr'; msr: number };

export type L2OpName = L2Op['op'];

/** Instruction lengths (next RIP for NRIPS / IOIO exit_info_2, and for VMX's instruction length). */
export const L2_INSN_LEN: Record<L2OpName, number> = {
  mov: 3, push: 1, pop: 1, in: 1, out: 1, ins: 2, outs: 2, cpuid: 2, hlt: 1, hypercall: 3, invlpg: 3, 'mov-cr3': 3, rdmsr: 2, wrmsr: 2,
};

/**
 * What L1 asked to intercept. SVM: vmcb12 intercept bits, the IOPM and the MSRPM; VMX: vmcs12's
 * execution controls, the I/O bitmaps and the MSR bitmaps (both in use), the exception bitmap and
 * the #PF error-code mask / match.
 */
export interface L1Controls {
  /**
   * Port I/O: 'bitmap' = SVM IOIO_PROT with L1's IOPM / VMX "use I/O bitmaps" (bitmaps A and B);
   * 'all' = VMX unconditional I/O exiting without bitmaps; 'none' = no I/O exits to L1.
   */
  io: 'bitmap' | 'all' | 'none';
  /** L1 GPA of the IOPM (SVM, 12 KiB) or of I/O bitmap A (VMX; B follows at +4 KiB). */
  iopm_base: bigint;
  /** MSRs: 'bitmap' = SVM MSR_PROT with L1's MSRPM / VMX "use MSR bitmaps"; 'all' = VMX without bitmaps (every access exits); 'none' = SVM without MSR_PROT. */
  msr: 'bitmap' | 'all' | 'none';
  /** L1 GPA of the MSRPM (SVM, 8 KiB) or of the MSR bitmap (VMX, 4 KiB). */
  msrpm_base: bigint;
  /** SVM CPUID intercept (VMX: CPUID always exits). */
  cpuid: boolean;
  /** SVM HLT intercept / VMX HLT exiting. */
  hlt: boolean;
  /** SVM VMMCALL intercept (VMX: VMCALL always exits). */
  hypercall: boolean;
  /** SVM INVLPG intercept / VMX INVLPG exiting. */
  invlpg: boolean;
  /** SVM CR3-write intercept / VMX CR3-load exiting (with no CR3-target values). */
  cr3_load: boolean;
  /** Exception vectors L1 intercepts (SVM exception intercepts / VMX exception bitmap), bit n = vector n. */
  exception_bitmap: number;
  /** VMX PAGE_FAULT_ERROR_CODE_MASK / _MATCH (SDM §25.2). */
  pfec_mask: number;
  pfec_match: number;
}

export interface L2Program {
  ops: readonly L2Op[];
  l1: L1Controls;
  /** L2's RIP at the first instruction, and RSP. */
  rip: bigint;
  rsp: bigint;
}

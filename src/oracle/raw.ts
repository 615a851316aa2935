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

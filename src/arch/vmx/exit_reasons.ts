// VMX basic exit reasons (SDM vol. 3D Appendix C; KVM uapi asm/vmx.h EXIT_REASON_*) and the flag
// bits of the 32-bit exit-reason field (SDM §28.2.1; KVM vmx.h union vmx_exit_reason). Spec §1.4.

/** Basic exit reasons (bits 15:0), KVM EXIT_REASON_<name>. */
export const EXIT_REASON = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT_SIGNAL: 3,
  /** SDM App. C names (start-up IPI); the uapi vmx.h read has no EXIT_REASON_ for 4, 5, 6, 11, 17. */
  SIPI_SIGNAL: 4,
  IO_SMI: 5,
  OTHER_SMI: 6,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  GETSEC: 11,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  RSM: 17,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMPTRST: 22,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMOFF: 26,
  VMON: 27,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  /** VM-entry failure due to invalid guest state (always with FAILED_VMENTRY). */
  INVALID_STATE: 33,
  /** VM-entry failure due to MSR loading (always with FAILED_VMENTRY). */
  MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR_INSTRUCTION: 39,
  PAUSE_INSTRUCTION: 40,
  /** VM-entry failure due to machine-check event (always with FAILED_VMENTRY). */
  MCE_DURING_VMENTRY: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  GDTR_IDTR: 46,
  LDTR_TR: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIG: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
  VMFUNC: 59,
  ENCLS: 60,
  RDSEED: 61,
  PML_FULL: 62,
  XSAVES: 63,
  XRSTORS: 64,
  UMWAIT: 67,
  TPAUSE: 68,
  BUS_LOCK: 74,
  NOTIFY: 75,
  SEAMCALL: 76,
  TDCALL: 77,
  MSR_READ_IMM: 84,
  MSR_WRITE_IMM: 85,
} as const;

export type ExitReasonName = keyof typeof EXIT_REASON;

/** Flag bits of the exit-reason field (KVM union vmx_exit_reason; VMX_EXIT_REASONS_FAILED_VMENTRY). */
export const EXIT_REASON_FLAGS = {
  BASIC_MASK: 0xffff,
  /** The VM exit was caused by a bus lock (with BUS_LOCK_DETECTION; KVM bus_lock_detected). */
  BUS_LOCK_DETECTED: 1 << 26,
  /** The VM exit was incident to enclave mode (KVM enclave_mode). */
  ENCLAVE_MODE: 1 << 27,
  /** Pending MTF VM exit (SMM dual-monitor treatment; KVM smi_pending_mtf). */
  SMI_PENDING_MTF: 1 << 28,
  /** VM exit from VMX root operation (SMM dual-monitor treatment; KVM smi_from_vmx_root). */
  SMI_FROM_VMX_ROOT: 1 << 29,
  /** VM-entry failure (exits 33, 34, 41): SDM "bit 31 is set to 1". */
  FAILED_VMENTRY: 0x80000000,
} as const;

/** KVM's VMX_EXIT_REASONS_FAILED_VMENTRY. */
export const VMX_EXIT_REASONS_FAILED_VMENTRY = EXIT_REASON_FLAGS.FAILED_VMENTRY;

export const EXIT_REASON_FLAG_NAMES: Record<number, string> = {
  26: 'BUS_LOCK_DETECTED', 27: 'ENCLAVE_MODE', 28: 'SMI_PENDING_MTF', 29: 'SMI_FROM_VMX_ROOT', 31: 'FAILED_VMENTRY',
};

const NAMES: Map<number, string> = new Map(Object.entries(EXIT_REASON).map(([k, v]) => [v, k]));

/** KVM-style name of a basic exit reason (EXIT_REASON_<name>); flag bits are ignored. */
export function exitReasonName(n: number): string {
  const basic = n & EXIT_REASON_FLAGS.BASIC_MASK;
  return NAMES.get(basic) ?? `UNKNOWN_${basic}`;
}

/** Basic reason plus set flag names, e.g. `INVALID_STATE|FAILED_VMENTRY`. */
export function describeExitReason(full: number): string {
  const parts = [exitReasonName(full)];
  for (let b = 16; b < 32; b++) {
    if (((full >>> b) & 1) === 0) continue;
    parts.push(EXIT_REASON_FLAG_NAMES[b] ?? `BIT_${b}`);
  }
  return parts.join('|');
}

/** The exit-reason value written on a failed VM entry (SDM §27.8): basic | bit 31. */
export function failedVmentryReason(basic: number): number {
  return ((basic & EXIT_REASON_FLAGS.BASIC_MASK) | EXIT_REASON_FLAGS.FAILED_VMENTRY) >>> 0;
}

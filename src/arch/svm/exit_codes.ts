// SVM exit codes (APM vol. 2 Appendix C; KVM uapi asm/svm.h SVM_EXIT_*).

export const SVM_EXIT = {
  READ_CR0: 0x000, READ_CR3: 0x003, READ_CR4: 0x004, READ_CR8: 0x008,
  WRITE_CR0: 0x010, WRITE_CR3: 0x013, WRITE_CR4: 0x014, WRITE_CR8: 0x018,
  READ_DR0: 0x020, WRITE_DR0: 0x030,
  EXCP_BASE: 0x040,
  INTR: 0x060, NMI: 0x061, SMI: 0x062, INIT: 0x063, VINTR: 0x064, CR0_SEL_WRITE: 0x065,
  IDTR_READ: 0x066, GDTR_READ: 0x067, LDTR_READ: 0x068, TR_READ: 0x069,
  IDTR_WRITE: 0x06a, GDTR_WRITE: 0x06b, LDTR_WRITE: 0x06c, TR_WRITE: 0x06d,
  RDTSC: 0x06e, RDPMC: 0x06f, PUSHF: 0x070, POPF: 0x071, CPUID: 0x072, RSM: 0x073, IRET: 0x074,
  SWINT: 0x075, INVD: 0x076, PAUSE: 0x077, HLT: 0x078, INVLPG: 0x079, INVLPGA: 0x07a, IOIO: 0x07b,
  MSR: 0x07c, TASK_SWITCH: 0x07d, FERR_FREEZE: 0x07e, SHUTDOWN: 0x07f,
  VMRUN: 0x080, VMMCALL: 0x081, VMLOAD: 0x082, VMSAVE: 0x083, STGI: 0x084, CLGI: 0x085, SKINIT: 0x086,
  RDTSCP: 0x087, ICEBP: 0x088, WBINVD: 0x089, MONITOR: 0x08a, MWAIT: 0x08b, MWAIT_COND: 0x08c,
  XSETBV: 0x08d, RDPRU: 0x08e, EFER_WRITE_TRAP: 0x08f,
  INVLPGB: 0x0a0, INVLPGB_ILLEGAL: 0x0a1, INVPCID: 0x0a2, MCOMMIT: 0x0a3, TLBSYNC: 0x0a4,
  BUS_LOCK: 0x0a5, IDLE_HLT: 0x0a6,
  NPF: 0x400, AVIC_INCOMPLETE_IPI: 0x401, AVIC_UNACCELERATED_ACCESS: 0x402, VMGEXIT: 0x403,
  /** KVM software-only code used by svm_enter_smm. */
  SW: 0xf0000000,
} as const;

/** VMEXIT_INVALID: architecturally the 64-bit value -1 (APM 15.5.1). */
export const SVM_EXIT_ERR = 0xffffffffffffffffn;
/** What trees before the u64 exit_code series left in the VMCB: exit_code = -1u, exit_code_hi = 0. */
export const SVM_EXIT_ERR_LOW32 = 0xffffffffn;

const NAMES: Map<number, string> = new Map();
for (const [k, v] of Object.entries(SVM_EXIT)) if (k !== 'EXCP_BASE') NAMES.set(v, k);

const EXCP_NAMES = ['DE', 'DB', 'NMI', 'BP', 'OF', 'BR', 'UD', 'NM', 'DF', 'CSO', 'TS', 'NP', 'SS', 'GP', 'PF', '15', 'MF', 'AC', 'MC', 'XM', 'VE', 'CP'];

/** KVM-style name of an exit code (SVM_EXIT_<name>), for traces and decoders. */
export function svmExitName(code: bigint): string {
  if (code === SVM_EXIT_ERR) return 'ERR';
  if (code === SVM_EXIT_ERR_LOW32) return 'ERR(low32)';
  if (code > 0xffffffffn) return `0x${code.toString(16)}`;
  const c = Number(code);
  if (c >= 0x040 && c < 0x060) return `EXCP_${EXCP_NAMES[c - 0x40] ?? c - 0x40}`;
  if (c >= 0x000 && c < 0x010) return `READ_CR${c}`;
  if (c >= 0x010 && c < 0x020) return `WRITE_CR${c - 0x10}`;
  if (c >= 0x020 && c < 0x030) return `READ_DR${c - 0x20}`;
  if (c >= 0x030 && c < 0x040) return `WRITE_DR${c - 0x30}`;
  if (c >= 0x090 && c < 0x0a0) return `CR${c - 0x90}_WRITE_TRAP`;
  return NAMES.get(c) ?? `0x${c.toString(16)}`;
}

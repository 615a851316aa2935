// Architectural bit definitions for nested SVM. Sources: AMD APM vol. 2 §15 (Appendix B for the
// VMCB layout), KVM arch/x86/include/asm/svm.h and msr-index.h. Numbers only, no behaviour.

/** int_ctl (VMCB 0x060), APM 15.21 / KVM V_*_MASK. */
export const INT_CTL = {
  V_TPR_MASK: 0x0f,
  V_IRQ: 1 << 8,
  V_GIF: 1 << 9,
  V_NMI_PENDING: 1 << 11,
  V_NMI_BLOCKING: 1 << 12,
  V_INTR_PRIO_MASK: 0xf << 16,
  V_IGN_TPR: 1 << 20,
  V_INTR_MASKING: 1 << 24,
  V_GIF_ENABLE: 1 << 25,
  V_NMI_ENABLE: 1 << 26,
  X2APIC_MODE: 1 << 30,
  AVIC_ENABLE: 0x80000000,
} as const;

/** Single-bit names of int_ctl for decoders, in bit order. */
export const INT_CTL_BIT_NAMES: Record<number, string> = {
  8: 'V_IRQ', 9: 'V_GIF', 11: 'V_NMI_PENDING', 12: 'V_NMI_BLOCKING', 20: 'V_IGN_TPR',
  24: 'V_INTR_MASKING', 25: 'V_GIF_ENABLE', 26: 'V_NMI_ENABLE', 30: 'X2APIC_MODE', 31: 'AVIC_ENABLE',
};

/** EVENTINJ / EXITINTINFO (APM 15.20): vector 7:0, type 10:8, EV 11, V 31; 12..30 reserved. */
export const EVTINJ = {
  VEC_MASK: 0xff,
  TYPE_SHIFT: 8,
  TYPE_MASK: 7 << 8,
  TYPE_INTR: 0 << 8,
  TYPE_NMI: 2 << 8,
  TYPE_EXEPT: 3 << 8,
  TYPE_SOFT: 4 << 8,
  VALID_ERR: 1 << 11,
  VALID: 0x80000000,
  RESERVED_BITS: 0x7ffff000,
} as const;

export const EVTINJ_TYPE_NAMES: Record<number, string> = { 0: 'INTR', 2: 'NMI', 3: 'EXEPT', 4: 'SOFT' };

/** Exception vectors by mnemonic (SDM/APM table of exceptions). */
export const VEC = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7, DF: 8, TS: 10, NP: 11, SS: 12, GP: 13,
  PF: 14, MF: 16, AC: 17, MC: 18, XM: 19, VE: 20, CP: 21, HV: 28, VC: 29, SX: 30,
} as const;

/** misc_ctl (old nested_ctl, VMCB 0x090). GMET is APM bit 3. */
export const MISC_CTL = { NP_ENABLE: 1n << 0n, SEV_ENABLE: 1n << 1n, SEV_ES_ENABLE: 1n << 2n, GMET: 1n << 3n } as const;
export const MISC_CTL_BIT_NAMES: Record<number, string> = { 0: 'NP_ENABLE', 1: 'SEV_ENABLE', 2: 'SEV_ES_ENABLE', 3: 'GMET' };

/** misc_ctl2 (old virt_ext, VMCB 0x0B8). */
export const MISC_CTL2 = { V_LBR: 1n << 0n, V_VMLOAD_VMSAVE: 1n << 1n } as const;
export const MISC_CTL2_BIT_NAMES: Record<number, string> = { 0: 'V_LBR', 1: 'V_VMLOAD_VMSAVE' };

/** tlb_ctl (VMCB 0x05C), APM 15.16.1. Only 0 and 1 are defined by older APMs; 3/7 by later ones. */
export const TLB_CONTROL = { DO_NOTHING: 0, FLUSH_ALL_ASID: 1, FLUSH_ASID: 3, FLUSH_ASID_LOCAL: 7, MASK: 7 } as const;
export const TLB_CONTROL_NAMES: Record<number, string> = { 0: 'DO_NOTHING', 1: 'FLUSH_ALL_ASID', 3: 'FLUSH_ASID', 7: 'FLUSH_ASID_LOCAL' };

/** int_state (VMCB 0x068). */
export const INT_STATE = { INTERRUPT_SHADOW: 1, GUEST_INTERRUPT_MASK: 2 } as const;

/** EFER (MSR C000_0080), APM 3.1.7. */
export const EFER = {
  SCE: 1n << 0n, LME: 1n << 8n, LMA: 1n << 10n, NX: 1n << 11n, SVME: 1n << 12n, LMSLE: 1n << 13n,
  FFXSR: 1n << 14n, TCE: 1n << 15n, AUTOIBRS: 1n << 21n,
} as const;
export const EFER_BIT_NAMES: Record<number, string> = {
  0: 'SCE', 8: 'LME', 10: 'LMA', 11: 'NX', 12: 'SVME', 13: 'LMSLE', 14: 'FFXSR', 15: 'TCE', 21: 'AUTOIBRS',
};

/** CR0, APM 3.1.1. */
export const CR0 = {
  PE: 1n << 0n, MP: 1n << 1n, EM: 1n << 2n, TS: 1n << 3n, ET: 1n << 4n, NE: 1n << 5n, WP: 1n << 16n,
  AM: 1n << 18n, NW: 1n << 29n, CD: 1n << 30n, PG: 1n << 31n,
} as const;
export const CR0_BIT_NAMES: Record<number, string> = {
  0: 'PE', 1: 'MP', 2: 'EM', 3: 'TS', 4: 'ET', 5: 'NE', 16: 'WP', 18: 'AM', 29: 'NW', 30: 'CD', 31: 'PG',
};

/** CR4, APM 3.1.3 / SDM 2.5. */
export const CR4 = {
  VME: 1n << 0n, PVI: 1n << 1n, TSD: 1n << 2n, DE: 1n << 3n, PSE: 1n << 4n, PAE: 1n << 5n, MCE: 1n << 6n,
  PGE: 1n << 7n, PCE: 1n << 8n, OSFXSR: 1n << 9n, OSXMMEXCPT: 1n << 10n, UMIP: 1n << 11n, LA57: 1n << 12n,
  VMXE: 1n << 13n, SMXE: 1n << 14n, FSGSBASE: 1n << 16n, PCIDE: 1n << 17n, OSXSAVE: 1n << 18n,
  SMEP: 1n << 20n, SMAP: 1n << 21n, PKE: 1n << 22n, CET: 1n << 23n, PKS: 1n << 24n, LAM_SUP: 1n << 28n,
} as const;
export const CR4_BIT_NAMES: Record<number, string> = {
  0: 'VME', 1: 'PVI', 2: 'TSD', 3: 'DE', 4: 'PSE', 5: 'PAE', 6: 'MCE', 7: 'PGE', 8: 'PCE', 9: 'OSFXSR',
  10: 'OSXMMEXCPT', 11: 'UMIP', 12: 'LA57', 13: 'VMXE', 14: 'SMXE', 16: 'FSGSBASE', 17: 'PCIDE',
  18: 'OSXSAVE', 20: 'SMEP', 21: 'SMAP', 22: 'PKE', 23: 'CET', 24: 'PKS', 28: 'LAM_SUP',
};

/** RFLAGS bits used here. */
export const RFLAGS = { FIXED_1: 1n << 1n, TF: 1n << 8n, IF: 1n << 9n, VM: 1n << 17n, AC: 1n << 18n } as const;

/** DR6/DR7 fixed bits (KVM x86.h: DR6_ACTIVE_LOW, DR7_FIXED_1). */
export const DR6_ACTIVE_LOW = 0xffff0ff0n;
export const DR7_FIXED_1 = 0x400n;

/** Segment attribute bits in the VMCB's packed 12-bit form (APM 15.5 / KVM SVM_SELECTOR_*). */
export const SEG_ATTR = { S: 1 << 4, P: 1 << 7, AVL: 1 << 8, L: 1 << 9, DB: 1 << 10, G: 1 << 11 } as const;

/** PAT MSR reset value. */
export const PAT_DEFAULT = 0x0007040600070406n;

/** Hardware ignores bits 11:0 of the bitmap bases; sizes per KVM svm.h IOPM_SIZE / MSRPM_SIZE. */
export const IOPM_SIZE = 3 * 4096;
export const MSRPM_SIZE = 2 * 4096;

/**
 * Intercept bit numbers (KVM enum in asm/svm.h): bit n lives in intercepts[n >> 5], bit n & 31.
 * For exit codes 0x000..0x0A6 the intercept bit number equals the exit code (spec §1.3).
 */
export const INTERCEPT = {
  CR0_READ: 0, CR3_READ: 3, CR4_READ: 4, CR8_READ: 8,
  CR0_WRITE: 16, CR3_WRITE: 19, CR4_WRITE: 20, CR8_WRITE: 24,
  DR0_READ: 32, DR7_READ: 39, DR0_WRITE: 48, DR7_WRITE: 55,
  EXCEPTION_OFFSET: 64,
  INTR: 96, NMI: 97, SMI: 98, INIT: 99, VINTR: 100, SELECTIVE_CR0: 101,
  STORE_IDTR: 102, STORE_GDTR: 103, STORE_LDTR: 104, STORE_TR: 105,
  LOAD_IDTR: 106, LOAD_GDTR: 107, LOAD_LDTR: 108, LOAD_TR: 109,
  RDTSC: 110, RDPMC: 111, PUSHF: 112, POPF: 113, CPUID: 114, RSM: 115, IRET: 116, INTN: 117,
  INVD: 118, PAUSE: 119, HLT: 120, INVLPG: 121, INVLPGA: 122, IOIO_PROT: 123, MSR_PROT: 124,
  TASK_SWITCH: 125, FERR_FREEZE: 126, SHUTDOWN: 127,
  VMRUN: 128, VMMCALL: 129, VMLOAD: 130, VMSAVE: 131, STGI: 132, CLGI: 133, SKINIT: 134, RDTSCP: 135,
  ICEBP: 136, WBINVD: 137, MONITOR: 138, MWAIT: 139, MWAIT_COND: 140, XSETBV: 141, RDPRU: 142,
  TRAP_EFER_WRITE: 143, TRAP_CR0_WRITE: 144, TRAP_CR8_WRITE: 152,
  INVLPGB: 160, INVLPGB_ILLEGAL: 161, INVPCID: 162, MCOMMIT: 163, TLBSYNC: 164, BUSLOCK: 165, IDLE_HLT: 166,
} as const;

/** Name of every intercept bit, for decoders ("CR3_WRITE", "EXCP_PF", "VMRUN", ...). */
export function interceptName(bit: number): string {
  if (bit < 16) return `CR${bit}_READ`;
  if (bit < 32) return `CR${bit - 16}_WRITE`;
  if (bit < 48) return `DR${bit - 32}_READ`;
  if (bit < 64) return `DR${bit - 48}_WRITE`;
  if (bit < 96) return `EXCP_${bit - 64}`;
  for (const [k, v] of Object.entries(INTERCEPT)) {
    if (v === bit && !k.endsWith('_OFFSET') && !/^(CR|DR)\d/.test(k)) return k;
  }
  if (bit > 144 && bit < 152) return `TRAP_CR${bit - 144}_WRITE`;
  return `BIT_${bit}`;
}

export function isIntercept(intercepts: readonly number[], bit: number): boolean {
  return ((intercepts[bit >>> 5] >>> (bit & 31)) & 1) === 1;
}

export function setIntercept(intercepts: number[], bit: number): void {
  intercepts[bit >>> 5] = (intercepts[bit >>> 5] | (1 << (bit & 31))) >>> 0;
}

export function clrIntercept(intercepts: number[], bit: number): void {
  intercepts[bit >>> 5] = (intercepts[bit >>> 5] & ~(1 << (bit & 31))) >>> 0;
}

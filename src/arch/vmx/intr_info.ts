// Interruption-information format of the VM-entry interruption-information field (SDM vol. 3C
// §25.8.3, Table 25-17), VM-exit interruption information and IDT-vectoring information (§28.2.2,
// §28.2.4). KVM asm/vmx.h INTR_INFO_*, INTR_TYPE_*. Spec §1.4.

export const INTR_INFO = {
  VECTOR_MASK: 0xff, // 7:0
  TYPE_SHIFT: 8,
  TYPE_MASK: 0x700, // 10:8
  DELIVER_CODE: 0x800, // 11: deliver / valid error code
  /** 12: NMI unblocking due to IRET (exit and IDT-vectoring info only; reserved on entry). */
  UNBLOCK_NMI: 0x1000,
  /** 30:12 must be 0 in the VM-entry field (KVM INTR_INFO_RESVD_BITS_MASK). */
  RESVD_BITS_MASK: 0x7ffff000,
  VALID: 0x80000000, // 31
} as const;

/** Event types, bits 10:8 unshifted (KVM INTR_TYPE_<name> >> 8, EVENT_TYPE_*). */
export const INTR_TYPE = {
  EXT_INTR: 0,
  RESERVED: 1,
  NMI: 2,
  HARD_EXCEPTION: 3,
  SOFT_INTR: 4,
  /** Privileged software exception (INT1 / ICEBP). */
  PRIV_SW_EXCEPTION: 5,
  /** Software exception (INT3, INTO). */
  SOFT_EXCEPTION: 6,
  /** Other event; vector 0 = pending MTF VM exit. */
  OTHER_EVENT: 7,
} as const;

export const INTR_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(INTR_TYPE).map(([k, v]) => [v, k]),
);

/** Exception mnemonics by vector (SDM vol. 3A Table 6-1). */
const EXCEPTION_NAMES: Record<number, string> = {
  0: 'DE', 1: 'DB', 2: 'NMI', 3: 'BP', 4: 'OF', 5: 'BR', 6: 'UD', 7: 'NM', 8: 'DF', 9: 'CSO', 10: 'TS',
  11: 'NP', 12: 'SS', 13: 'GP', 14: 'PF', 16: 'MF', 17: 'AC', 18: 'MC', 19: 'XM', 20: 'VE', 21: 'CP',
};

export interface IntrInfo {
  vector: number;
  type: number;
  deliverErrorCode: boolean;
  nmiUnblocking: boolean;
  /** Bits 30:13 (bit 12 is reported as nmiUnblocking). */
  reserved: number;
  valid: boolean;
}

export function decodeIntrInfo(v: number): IntrInfo {
  const x = v >>> 0;
  return {
    vector: x & INTR_INFO.VECTOR_MASK,
    type: (x & INTR_INFO.TYPE_MASK) >>> INTR_INFO.TYPE_SHIFT,
    deliverErrorCode: (x & INTR_INFO.DELIVER_CODE) !== 0,
    nmiUnblocking: (x & INTR_INFO.UNBLOCK_NMI) !== 0,
    reserved: ((x & INTR_INFO.RESVD_BITS_MASK) >>> 13),
    valid: (x & INTR_INFO.VALID) !== 0,
  };
}

export function encodeIntrInfo(i: IntrInfo): number {
  return ((i.vector & 0xff) | ((i.type & 7) << INTR_INFO.TYPE_SHIFT)
    | (i.deliverErrorCode ? INTR_INFO.DELIVER_CODE : 0) | (i.nmiUnblocking ? INTR_INFO.UNBLOCK_NMI : 0)
    | ((i.reserved << 13) & INTR_INFO.RESVD_BITS_MASK) | (i.valid ? INTR_INFO.VALID : 0)) >>> 0;
}

/**
 * One-line description for traces and dumps, e.g. `HARD_EXCEPTION #PF(14) +errcode` or `invalid`.
 * An invalid value with other bits set shows them: `invalid (0x30e)`. Bits 30:13 show as `+rsvd(0x..)`.
 */
export function describeIntrInfo(v: number): string {
  const x = v >>> 0;
  const i = decodeIntrInfo(x);
  if (!i.valid) return x === 0 ? 'invalid' : `invalid (0x${x.toString(16)})`;
  const parts = [INTR_TYPE_NAMES[i.type] ?? `TYPE_${i.type}`];
  const isException = i.type === INTR_TYPE.HARD_EXCEPTION || i.type === INTR_TYPE.PRIV_SW_EXCEPTION
    || i.type === INTR_TYPE.SOFT_EXCEPTION;
  const mnemonic = EXCEPTION_NAMES[i.vector];
  parts.push(isException && mnemonic !== undefined ? `#${mnemonic}(${i.vector})` : `vector=${i.vector}`);
  if (i.deliverErrorCode) parts.push('+errcode');
  if (i.nmiUnblocking) parts.push('+unblock_nmi');
  if (i.reserved !== 0) parts.push(`+rsvd(0x${(i.reserved << 13 >>> 0).toString(16)})`);
  return parts.join(' ');
}

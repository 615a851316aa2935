// EPT pointer layout (SDM vol. 3C §25.6.11 "Extended-Page-Table Pointer (EPTP)"; KVM asm/vmx.h
// VMX_EPTP_*) and EPT-violation exit-qualification bits (SDM Table 28-7; KVM EPT_VIOLATION_*). Spec §2.4
// item 15, §3.2. Layout only: which values KVM accepts is nested_vmx_check_eptp's business.

export const EPTP = {
  MT_MASK: 0x7n, // 2:0 memory type of the paging structures: 0 UC, 6 WB
  MT_UC: 0n,
  MT_WB: 6n,
  PWL_SHIFT: 3n,
  PWL_MASK: 0x38n, // 5:3 page-walk length minus 1
  PWL_4: 0x18n,
  PWL_5: 0x20n,
  AD_ENABLE: 1n << 6n, // accessed/dirty flags for EPT
  SSS_ENABLE: 1n << 7n, // enforcement of access rights for supervisor shadow-stack pages
  RESERVED_11_8: 0xf00n,
  ADDR_MASK: 0x000ffffffffff000n, // 51:12 PML4/PML5 table address (bits >= MAXPHYADDR must be 0)
  HIGH_SHIFT: 52n, // 63:52 always reserved
} as const;

export interface Eptp {
  /** Bits 2:0. */
  memType: number;
  /** Page-walk length, i.e. bits 5:3 plus 1 (1..8; 4 and 5 are the architectural ones). */
  pageWalkLength: number;
  adEnabled: boolean;
  supervisorShadowStack: boolean;
  /** Bits 11:8 as a 4-bit number (reserved). */
  reserved11_8: number;
  /** Bits 51:12 in place (4K aligned). */
  address: bigint;
  /** Bits 63:52 as a 12-bit number (reserved). */
  reservedHigh: number;
}

export function decodeEptp(v: bigint): Eptp {
  const x = BigInt.asUintN(64, v);
  return {
    memType: Number(x & EPTP.MT_MASK),
    pageWalkLength: Number((x & EPTP.PWL_MASK) >> EPTP.PWL_SHIFT) + 1,
    adEnabled: (x & EPTP.AD_ENABLE) !== 0n,
    supervisorShadowStack: (x & EPTP.SSS_ENABLE) !== 0n,
    reserved11_8: Number((x & EPTP.RESERVED_11_8) >> 8n),
    address: x & EPTP.ADDR_MASK,
    reservedHigh: Number(x >> EPTP.HIGH_SHIFT),
  };
}

/** Inverse of decodeEptp; out-of-range fields are truncated to their width. */
export function encodeEptp(e: Eptp): bigint {
  let v = (BigInt(e.memType) & EPTP.MT_MASK)
    | ((BigInt(e.pageWalkLength - 1) << EPTP.PWL_SHIFT) & EPTP.PWL_MASK)
    | ((BigInt(e.reserved11_8) << 8n) & EPTP.RESERVED_11_8)
    | (e.address & EPTP.ADDR_MASK)
    | ((BigInt(e.reservedHigh) & 0xfffn) << EPTP.HIGH_SHIFT);
  if (e.adEnabled) v |= EPTP.AD_ENABLE;
  if (e.supervisorShadowStack) v |= EPTP.SSS_ENABLE;
  return v;
}

/** KVM vmx_eptp_page_walk_level: 5 for PWL_5, else 4 (the caller has validated the EPTP). */
export function eptpPageWalkLevel(eptp: bigint): 4 | 5 {
  return (eptp & EPTP.PWL_MASK) === EPTP.PWL_5 ? 5 : 4;
}

/**
 * EPT-violation exit qualification, bits 0..12 (SDM Table 28-7; KVM EPT_VIOLATION_*). Bits 3..5 are
 * the AND of the R/W/X bits over the walk (KVM RWX_TO_PROT), 9..11 need ADVANCED_VMEXIT_INFO.
 * Bits 13 and 16 are architectural but never synthesized by KVM: they are in EPT_VIOLATION_ARCH
 * (kept apart so EPT_VIOLATION stays the set KVM builds).
 */
export const EPT_VIOLATION = {
  ACC_READ: 1 << 0,
  ACC_WRITE: 1 << 1,
  ACC_INSTR: 1 << 2,
  PROT_READ: 1 << 3,
  PROT_WRITE: 1 << 4,
  /** Executable; supervisor-executable when mode-based execute control is on. */
  PROT_EXEC: 1 << 5,
  /** User-mode executable (MBEC); older KVM name EXEC_FOR_RING3_LIN. */
  PROT_USER_EXEC: 1 << 6,
  GVA_IS_VALID: 1 << 7,
  /** If GVA_IS_VALID: 1 = access to the translated address, 0 = to a paging-structure entry. */
  GVA_TRANSLATED: 1 << 8,
  GVA_USER: 1 << 9,
  GVA_WRITABLE: 1 << 10,
  GVA_NX: 1 << 11,
  /** NMI unblocking due to IRET (KVM INTR_INFO_UNBLOCK_NMI). */
  NMI_UNBLOCK_IRET: 1 << 12,
} as const;

/** Qualification bits the SDM defines beyond KVM's set (SDM Table 28-7; spec §3.2 [mem]). */
export const EPT_VIOLATION_ARCH = {
  /** The access was a shadow-stack access. */
  SHADOW_STACK: 1 << 13,
  /** The access was asynchronous to instruction execution (e.g. a trace-output write). */
  ASYNC_TO_INSTR: 1 << 16,
} as const;

export const EPT_VIOLATION_RWX_SHIFT = 3;
export const EPT_VIOLATION_PROT_MASK = 0x7 << EPT_VIOLATION_RWX_SHIFT;

export const EPT_VIOLATION_BIT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries({ ...EPT_VIOLATION, ...EPT_VIOLATION_ARCH }).map(([k, v]) => [31 - Math.clz32(v), k]),
);

/** Names of the set qualification bits in bit order; unnamed bits as `BIT_<n>`. */
export function describeEptViolationQual(q: bigint | number): string[] {
  const x = BigInt.asUintN(64, BigInt(q));
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (((x >> BigInt(b)) & 1n) === 0n) continue;
    out.push(EPT_VIOLATION_BIT_NAMES[b] ?? `BIT_${b}`);
  }
  return out;
}

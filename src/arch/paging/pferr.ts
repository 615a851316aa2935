// Page-fault error-code bits (SDM vol. 3A §4.7 "Page-Fault Exceptions", Figure 4-12; APM vol. 2 §8.4.2
// "#PF error code" and §15.25.6 "Nested versus Guest Page Faults" for the #NPF EXITINFO1 bits 31–36)
// plus KVM's two synthetic bits (48, 49), which never reach a guest. Name → bit position.

export const PFERR_BITS = {
  /** 0: not-present page; 1: protection or reserved-bit violation. */
  P: 0,
  /** The access was a write. */
  W: 1,
  /** The access was a user-mode access. */
  U: 2,
  /** A reserved bit was set in some paging-structure entry. */
  RSVD: 3,
  /** Instruction fetch (reported only with SMEP or with PAE/long paging and EFER.NXE). */
  FETCH: 4,
  /** Protection-key violation. */
  PK: 5,
  /** Shadow-stack access. */
  SS: 6,
  /** HLAT paging (Intel). */
  HLAT: 7,
  /** SGX-specific access-control violation. */
  SGX: 15,
  /** AMD SEV-SNP: RMP check failed (#NPF). */
  GUEST_RMP: 31,
  /** #NPF on the final guest-physical translation. */
  GUEST_FINAL: 32,
  /** #NPF while translating a guest paging-structure access. */
  GUEST_PAGE: 33,
  /** AMD SEV-SNP: encrypted (C-bit) access (#NPF). */
  GUEST_ENC: 34,
  /** AMD SEV-SNP: page-size mismatch against the RMP (#NPF). */
  GUEST_SIZEM: 35,
  /** AMD SEV-SNP: VMPL permission violation (#NPF). */
  GUEST_VMPL: 36,
  /** KVM-synthetic: implicit supervisor access (SMAP ignores EFLAGS.AC). */
  IMPLICIT_ACCESS: 48,
  /** KVM-synthetic: guest_memfd private access. */
  PRIVATE_ACCESS: 49,
} as const;

export type PferrBitName = keyof typeof PFERR_BITS;

/** The masks, for arithmetic. */
export const PFERR_MASK: Record<PferrBitName, bigint> = Object.fromEntries(
  Object.entries(PFERR_BITS).map(([k, b]) => [k, 1n << BigInt(b)]),
) as Record<PferrBitName, bigint>;

const NAME_OF_BIT: Record<number, string> = Object.fromEntries(Object.entries(PFERR_BITS).map(([k, b]) => [b, k]));

/** Bits an architectural #PF error code can carry (Intel's highest is SGX, bit 15). */
export const PFERR_ARCH_PF_MASK = (1n << 16n) - 1n;
/** The AMD #NPF bits 31–36. */
export const PFERR_NPF_MASK = (1n << 31n) | (((1n << 6n) - 1n) << 32n);
/** KVM-synthetic bits (must never reach a guest). */
export const PFERR_KVM_SYNTHETIC_MASK = PFERR_MASK.IMPLICIT_ACCESS | PFERR_MASK.PRIVATE_ACCESS;

/** Names of the set bits in bit order; unnamed bits as "bit N". */
export function describePferr(code: bigint): string[] {
  const x = BigInt.asUintN(64, code);
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (((x >> BigInt(b)) & 1n) === 0n) continue;
    out.push(NAME_OF_BIT[b] ?? `bit ${b}`);
  }
  return out;
}

// What the page-fault invariants expect, derived from the scenario alone (the series' rules as the
// spec states them, vmx-mmu.md §5), without the engine's code.

import type { PageFaultScenario } from '../../../src/engine/mmu/page_fault/scenario.ts';

export const BIT = (n: number): bigint => 1n << BigInt(n);
export const P = BIT(0), W = BIT(1), U = BIT(2), RSVD = BIT(3), F = BIT(4);
export const GUEST_FINAL = BIT(32), GUEST_PAGE = BIT(33), GUEST_ENC = BIT(34);
export const IMPLICIT_ACCESS = BIT(48), PRIVATE_ACCESS = BIT(49);
export const SYNTHETIC = IMPLICIT_ACCESS | PRIVATE_ACCESS;

/**
 * The error code each entry point must hand to kvm_mmu_page_fault: a legacy #PF code is 32 bits; an
 * #NPF code is the hardware's 64 bits minus KVM's synthetic bits, plus PRIVATE_ACCESS for an SNP
 * C-bit access; an EPT violation's is built from the qualification (SDM Table 28-7 → PFERR).
 */
export function expectedEntryErrorCode(s: PageFaultScenario): bigint {
  const hw = BigInt.asUintN(64, s.hw_error_code);
  if (s.entry === 'pf-intercept') return hw & 0xffffffffn;
  if (s.entry === 'npf') {
    const ec = hw & ~SYNTHETIC;
    return s.vm_type === 'snp' && (ec & GUEST_ENC) !== 0n ? ec | PRIVATE_ACCESS : ec;
  }
  const q = BigInt.asUintN(64, s.ept_qual);
  let ec = 0n;
  if (q & 2n) ec |= W;
  if (q & 4n) ec |= F;
  if (q & 0x38n) ec |= P;
  if (q & 0x80n) ec |= q & 0x100n ? GUEST_FINAL : GUEST_PAGE;
  return ec;
}

/** gfn attribute: private (only VMs with private memory have private gfns). */
export function gfnIsPrivate(s: PageFaultScenario): boolean {
  const gfn = BigInt.asUintN(64, s.address) >> 12n;
  return s.vm_type !== 'default' && s.private_gfns.includes(gfn);
}

/** Whether the access is private: SNP C-bit, or a software-protected VM's non-reserved fault on a private gfn. */
export function expectedPrivate(s: PageFaultScenario): boolean {
  const ec = expectedEntryErrorCode(s);
  if ((ec & PRIVATE_ACCESS) !== 0n) return true;
  return s.vm_type === 'sw-protected' && (ec & RSVD) === 0n && gfnIsPrivate(s);
}

/** The error code the fault is handled with: the entry's plus KVM's own PRIVATE_ACCESS. */
export function expectedHandledErrorCode(s: PageFaultScenario): bigint {
  return expectedEntryErrorCode(s) | (expectedPrivate(s) ? PRIVATE_ACCESS : 0n);
}

export const hex = (v: bigint | number): string => '0x' + BigInt.asUintN(64, BigInt(v)).toString(16);

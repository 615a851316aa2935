// Generic x86 validity rules KVM applies to nested state (arch/x86/kvm/x86.c, x86.h, cpuid.h).
// Guest-CPUID gating follows __kvm_is_valid_cr4 / __kvm_valid_efer.

import { CR4, EFER } from '../arch/svm/defs.ts';
import type { GuestCpuid } from './svm/scenario.ts';

/** kvm_vcpu_is_legal_gpa: no bit at or above MAXPHYADDR. */
/** 2^MAXPHYADDR for every width: a legal GPA is below it (comparing allocates nothing). */
const LIMITS: bigint[] = Array.from({ length: 65 }, (_, i) => 1n << BigInt(i));

export function kvm_vcpu_is_legal_gpa(gpa: bigint, maxphyaddr: number): boolean {
  const limit = LIMITS[maxphyaddr] ?? 1n << BigInt(maxphyaddr);
  return gpa >= 0n && gpa < limit;
}

/** page_address_valid: page aligned and legal. */
export function page_address_valid(gpa: bigint, maxphyaddr: number): boolean {
  return (gpa & 0xfffn) === 0n && kvm_vcpu_is_legal_gpa(gpa, maxphyaddr);
}

/** LAM_U57 (bit 61) and LAM_U48 (bit 62) of CR3 are legal when the guest has LAM. */
const CR3_LAM_BITS = (1n << 61n) | (1n << 62n);

/** kvm_vcpu_is_legal_cr3: CR3 is a legal GPA once the LAM control bits are set aside. */
export function kvm_vcpu_is_legal_cr3(cr3: bigint, maxphyaddr: number, g: GuestCpuid): boolean {
  const v = g.lam ? cr3 & ~CR3_LAM_BITS : cr3;
  return kvm_vcpu_is_legal_gpa(v, maxphyaddr);
}

const CR4_KNOWN =
  CR4.VME | CR4.PVI | CR4.TSD | CR4.DE | CR4.PSE | CR4.PAE | CR4.MCE | CR4.PGE | CR4.PCE | CR4.OSFXSR |
  CR4.OSXMMEXCPT | CR4.UMIP | CR4.LA57 | CR4.VMXE | CR4.SMXE | CR4.FSGSBASE | CR4.PCIDE | CR4.OSXSAVE |
  CR4.SMEP | CR4.SMAP | CR4.PKE | CR4.CET | CR4.PKS | CR4.LAM_SUP;

/**
 * cr4_guest_rsvd_bits: CR4_RESERVED_BITS plus the bits of features absent from guest CPUID
 * (__cr4_reserved_bits). VMXE needs guest VMX (never on an SVM guest); SMXE is never exposed by
 * KVM; PKS is modelled as unavailable.
 */
const rsvdCache = new WeakMap<GuestCpuid, bigint>();

export function cr4_guest_rsvd_bits(g: GuestCpuid): bigint {
  const hit = rsvdCache.get(g);
  if (hit !== undefined) return hit;
  const r = compute_cr4_guest_rsvd_bits(g);
  rsvdCache.set(g, r);
  return r;
}

function compute_cr4_guest_rsvd_bits(g: GuestCpuid): bigint {
  let r = ~CR4_KNOWN & 0xffffffffffffffffn;
  r |= CR4.SMXE | CR4.PKS;
  if (!g.vmx) r |= CR4.VMXE;
  if (!g.xsave) r |= CR4.OSXSAVE;
  if (!g.smep) r |= CR4.SMEP;
  if (!g.smap) r |= CR4.SMAP;
  if (!g.fsgsbase) r |= CR4.FSGSBASE;
  if (!g.pku) r |= CR4.PKE;
  if (!g.la57) r |= CR4.LA57;
  if (!g.umip) r |= CR4.UMIP;
  if (!g.pcid) r |= CR4.PCIDE;
  if (!g.shstk) r |= CR4.CET;
  if (!g.lam) r |= CR4.LAM_SUP;
  return r;
}

/** __kvm_is_valid_cr4: "SVM doesn't have any additional restrictions on CR4". */
export function __kvm_is_valid_cr4(cr4: bigint, g: GuestCpuid): boolean {
  return (cr4 & cr4_guest_rsvd_bits(g)) === 0n;
}

/**
 * kvm_valid_efer: no bit outside efer_reserved_bits' complement (SCE, LME, LMA, NX, SVME, FFXSR),
 * and each feature bit only when guest CPUID has the feature (__kvm_valid_efer).
 * Note: AUTOIBRS, TCE and LMSLE are modelled as reserved (no guest CPUID bit in this model).
 */
export function kvm_valid_efer(efer: bigint, g: GuestCpuid): boolean {
  const allowed = EFER.SCE | EFER.LME | EFER.LMA | EFER.NX | EFER.SVME | EFER.FFXSR;
  if (efer & ~allowed) return false;
  if (!g.lm && efer & (EFER.LME | EFER.LMA)) return false;
  if (!g.nx && efer & EFER.NX) return false;
  if (!g.svm && efer & EFER.SVME) return false;
  if (!g.ffxsr && efer & EFER.FFXSR) return false;
  return true;
}

/** kvm_pat_valid: every byte a defined memory type (0, 1, 4, 5, 6, 7). */
export function kvm_pat_valid(pat: bigint): boolean {
  if (pat & 0xf8f8f8f8f8f8f8f8n) return false;
  // Every byte is now 0..7: split into two 32-bit halves and test the bytes as numbers.
  for (const half of [Number(pat & 0xffffffffn), Number(pat >> 32n)]) {
    for (let i = 0; i < 32; i += 8) {
      const t = (half >>> i) & 0xff;
      if (t === 2 || t === 3) return false;
    }
  }
  return true;
}

/** kvm_dr6_valid / kvm_dr7_valid: bits 63:32 are reserved (must be zero). */
export function kvm_dr6_valid(dr6: bigint): boolean {
  return dr6 >> 32n === 0n;
}
export function kvm_dr7_valid(dr7: bigint): boolean {
  return dr7 >> 32n === 0n;
}

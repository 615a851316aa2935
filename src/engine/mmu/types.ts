// The MMU model's shared vocabulary: page-fault error-code bits (PFERR_*), struct x86_exception, the
// paging mode of the walked guest, the nested TDP (L1's NPT or EPT) that translates its
// paging-structure and final GPAs, and L1 physical memory. Spec: vmx-mmu.md §4–5, svm.md §5.

/** PFERR_* (arch/x86/include/asm/kvm_host.h, v6.10+): #PF bits, #NPF bits, KVM-synthetic bits. */
export const PFERR = {
  PRESENT: 1n << 0n,
  WRITE: 1n << 1n,
  USER: 1n << 2n,
  RSVD: 1n << 3n,
  FETCH: 1n << 4n,
  PK: 1n << 5n,
  SS: 1n << 6n,
  SGX: 1n << 15n,
  GUEST_RMP: 1n << 31n,
  /** #NPF on the final GPA translation. */
  GUEST_FINAL: 1n << 32n,
  /** #NPF while translating a guest paging-structure GPA. */
  GUEST_PAGE: 1n << 33n,
  GUEST_ENC: 1n << 34n,
  GUEST_SIZEM: 1n << 35n,
  GUEST_VMPL: 1n << 36n,
  /** KVM-internal: an implicit supervisor access (SMAP ignores EFLAGS.AC). */
  IMPLICIT_ACCESS: 1n << 48n,
  /** KVM-internal: a guest_memfd private access. */
  PRIVATE_ACCESS: 1n << 49n,
} as const;

export const PFERR_GUEST_FAULT_STAGE_MASK = PFERR.GUEST_FINAL | PFERR.GUEST_PAGE;
export const PFERR_SYNTHETIC_MASK = PFERR.IMPLICIT_ACCESS | PFERR.PRIVATE_ACCESS;

/** struct x86_exception (kvm_emulate.h). error_code is u64 since 297c2fe249db (bits 32/33 survive). */
export interface X86Exception {
  vector: number;
  error_code_valid: boolean;
  error_code: bigint;
  /** The fault is in L1's TDP tables (a nested #NPF / EPT violation), not an L2 #PF. */
  nested_page_fault: boolean;
  /** GVA for an L2 #PF; the L2 GPA handed to the nested walk for a nested fault. */
  address: bigint;
  /** EPT walks only: the exit qualification the walker built (bits 0–8). */
  exit_qualification: bigint;
  /** The walk failed because L1's PML buffer was full (KVM keeps this in vmx->nested.pml_full). */
  pml_full?: boolean;
}

/** The walked guest's (L2's) paging state, as KVM's cpu_role sees it. */
export interface GuestPaging {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** PAE paging: the four PDPTE registers (loaded at CR3 write / VM entry, not re-walked). */
  pdptrs: readonly bigint[];
  /** Current privilege level and RFLAGS (SMAP's EFLAGS.AC). */
  cpl: number;
  rflags: bigint;
  /** PKRU (CR4.PKE in long mode). */
  pkru: number;
  /** Guest CPUID bits the walk consults. */
  pse36: boolean;
  maxphyaddr: number;
}

/**
 * L1's nested TDP for L2 — the MMU that translates every L2 GPA the L2 walk touches. NPT: nCR3 with
 * L1's own paging format (4- or 5-level in long mode); EPT: the EPTP with its walk length and A/D.
 */
export type NestedTdp =
  | {
      kind: 'npt';
      ncr3: bigint;
      /** 3 = PAE (PDPTEs read from nCR3's page), 4, 5. */
      levels: 3 | 4 | 5;
      /** L1's EFER.NXE governs the NX bit of NPT entries (nested NPT uses L1's paging rules). */
      nx: boolean;
      /** Guest-mode execute trap (GMET): without it every nested walk is a user walk. */
      gmet: boolean;
      maxphyaddr: number;
    }
  | {
      kind: 'ept';
      eptp: bigint;
      /** IA32_VMX_EPT_VPID_CAP.EXECUTE_ONLY (X-only entries are legal). */
      execonly: boolean;
      /** Mode-based execute control (vmcs12 MODE_BASED_EPT_EXEC). */
      mbec: boolean;
      /** ADVANCED_VMEXIT_INFO advertised to L1 (qualification bits 9–11 reported). */
      advanced_exit_info: boolean;
      maxphyaddr: number;
      /**
       * vmcs12 ENABLE_PML (needs EPT A/D): guest_pml_index and pml_address. Setting an EPT dirty bit
       * logs the GPA; index ≥ 512 means the buffer is full (nested_vmx_write_pml_buffer).
       */
      pml?: { index: number; address: bigint } | null;
    };

/** L1 physical memory: 8-byte little-endian words keyed by 8-aligned GPA ("0x1000"), inside [0, ram_top). */
export interface PhysMem {
  words: Record<string, bigint>;
  ram_top: bigint;
}

export function memWordKey(gpa: bigint): string {
  return '0x' + (gpa & ~7n).toString(16);
}

/** A read of the naturally aligned u64 at gpa; null outside memory (no memslot). */
export function readPhys64(m: PhysMem, gpa: bigint): bigint | null {
  if (gpa < 0n || gpa + 8n > m.ram_top) return null;
  return BigInt.asUintN(64, m.words[memWordKey(gpa)] ?? 0n);
}

/** The byte at gpa (kvm_vcpu_read_guest of one byte); null outside memory. */
export function readPhys8(m: PhysMem, gpa: bigint): number | null {
  const w = readPhys64(m, gpa & ~7n);
  if (w === null) return null;
  return Number((w >> ((gpa & 7n) * 8n)) & 0xffn);
}

/** The u32 at a 4-aligned gpa (32-bit paging entries). */
export function readPhys32(m: PhysMem, gpa: bigint): number | null {
  const w = readPhys64(m, gpa & ~7n);
  if (w === null) return null;
  return Number((gpa & 4n) === 0n ? w & 0xffffffffn : w >> 32n);
}

export function writePhys64(m: PhysMem, gpa: bigint, value: bigint): boolean {
  if (gpa < 0n || gpa + 8n > m.ram_top) return false;
  m.words[memWordKey(gpa)] = BigInt.asUintN(64, value);
  return true;
}

export function writePhys32(m: PhysMem, gpa: bigint, value: number): boolean {
  const base = gpa & ~7n;
  const w = readPhys64(m, base);
  if (w === null) return false;
  const v = BigInt(value >>> 0);
  return writePhys64(m, base, (gpa & 4n) === 0n ? (w & ~0xffffffffn) | v : (w & 0xffffffffn) | (v << 32n));
}

/**
 * What an access asks for, as PFERR bits: WRITE, USER (CPL 3 or a user walk), FETCH, IMPLICIT_ACCESS,
 * and for nested translations GUEST_PAGE / GUEST_FINAL.
 */
export type AccessBits = bigint;

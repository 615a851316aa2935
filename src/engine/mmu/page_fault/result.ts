// What one fault through KVM's MMU page-fault path ends in (issue #6 §2 "Outcomes"): the RET_PF_*
// value, an error returned to userspace (-EFAULT with a prepared KVM_EXIT_MEMORY_FAULT), the SPTE
// installed (a pfn or an MMIO SPTE), the MMIO info cached, emulation, an async page fault queued,
// and the kvm_page_fault as it ended (pfn, hva, slot), with the path taken step by step.

import type { Trace } from '../../trace.ts';

export type RetPf = 'RET_PF_CONTINUE' | 'RET_PF_RETRY' | 'RET_PF_EMULATE' | 'RET_PF_WRITE_PROTECTED' | 'RET_PF_INVALID' | 'RET_PF_FIXED' | 'RET_PF_SPURIOUS';

/** include/linux/kvm_host.h: error pfns live above bit 52; the noslot pfn is bit 63. */
export const KVM_PFN_ERR_MASK = 0x7ffn << 52n;
export const KVM_PFN_ERR_FAULT = KVM_PFN_ERR_MASK;
export const KVM_PFN_ERR_HWPOISON = KVM_PFN_ERR_MASK + 1n;
export const KVM_PFN_NOSLOT = 1n << 63n;
/** KVM_HVA_ERR_BAD = PAGE_OFFSET (x86-64, 4-level): a kernel address no userspace hva can be. */
export const KVM_HVA_ERR_BAD = 0xffff888000000000n;

export const is_error_pfn = (pfn: bigint): boolean => (pfn & KVM_PFN_ERR_MASK) !== 0n && pfn !== KVM_PFN_NOSLOT;
export const is_noslot_pfn = (pfn: bigint): boolean => pfn === KVM_PFN_NOSLOT;

/** uapi KVM_MEMORY_EXIT_FLAG_PRIVATE. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1n << 3n;
export const EFAULT = -14;
export const EIO = -5;

/** struct kvm_page_fault, as the fault left it. */
export interface KvmPageFault {
  addr: bigint;
  error_code: bigint;
  gfn: bigint;
  write: boolean;
  exec: boolean;
  present: boolean;
  rsvd: boolean;
  user: boolean;
  is_private: boolean;
  /** The memslot id, or null (no slot, or the noslot path). */
  slot: number | null;
  pfn: bigint;
  hva: bigint;
  map_writable: boolean;
}

/** run->memory_fault of a KVM_EXIT_MEMORY_FAULT (kvm_prepare_memory_fault_exit). */
export interface MemoryFaultExit {
  gpa: bigint;
  size: bigint;
  flags: bigint;
}

export interface PageFaultResult {
  trace: Trace;
  outcome: string;
  /** The 64-bit error code kvm_mmu_page_fault received from the entry point. */
  error_code_in: bigint | null;
  /** The error code kvm_mmu_do_page_fault built the kvm_page_fault from (after KVM's own additions). */
  error_code_handled: bigint | null;
  fault: KvmPageFault | null;
  ret: RetPf | null;
  /** 0, or the -errno the vCPU ioctl returns (-EFAULT, -EIO). */
  errno: number;
  exit: MemoryFaultExit | null;
  /** The SPTE installed for the gfn. */
  spte: { gfn: bigint; kind: 'pfn' | 'mmio'; pfn: bigint; writable: boolean } | null;
  /** vcpu_cache_mmio_info: the gfn (and gva, 0 for TDP) now treated as MMIO. */
  mmio_cached: { gfn: bigint; gva: bigint } | null;
  /** x86_emulate_instruction ran. */
  emulated: boolean;
  /** kvm_arch_setup_async_pf queued work for the gfn, with the error code it stored. */
  async_pf: { gfn: bigint; error_code: bigint } | null;
  /** The path taken, one line per decision (for the replay view). */
  path: string[];
}

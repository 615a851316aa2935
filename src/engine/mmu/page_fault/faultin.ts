// kvm_faultin_pfn in the order of the "Page fault and MMIO cleanups" series (spec vmx-mmu.md §5.5),
// with kvm_handle_noslot_fault, __kvm_faultin_pfn (kvm_faultin_pfn_private for private faults) and
// kvm_handle_error_pfn. Each older behaviour the series changed is a profile patch.

import { has } from '../../profiles.ts';
import { gfn_to_memslot, kvm_mem_is_private, slotHva, slotPfn, step, type PfCtx } from './ctx.ts';
import {
  EFAULT, KVM_HVA_ERR_BAD, KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_PFN_ERR_FAULT, KVM_PFN_ERR_HWPOISON, KVM_PFN_NOSLOT,
  is_error_pfn, is_noslot_pfn, type KvmPageFault, type RetPf,
} from './result.ts';

/** A return from the fault path: a RET_PF_* value, or a negative errno for the ioctl. */
export type FaultRet = RetPf | number;

/**
 * kvm_mmu_prepare_memory_fault_exit → kvm_prepare_memory_fault_exit: KVM_EXIT_MEMORY_FAULT for the
 * faulting page (gpa = gfn << 12, size = PAGE_SIZE, flags = PRIVATE for a private access; the
 * write/exec arguments are not reported by the uapi).
 */
export function kvm_mmu_prepare_memory_fault_exit(ctx: PfCtx, f: KvmPageFault): void {
  ctx.res.exit = { gpa: f.gfn << 12n, size: 0x1000n, flags: f.is_private ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0n };
  ctx.t.emit('kvm_memory_fault_exit', { gpa: f.gfn << 12n, private: f.is_private });
  step(ctx, `KVM_EXIT_MEMORY_FAULT gpa ${hex(f.gfn << 12n)} size 0x1000 flags ${f.is_private ? 'PRIVATE' : '0'}`);
}

const hex = (v: bigint): string => '0x' + v.toString(16);

/** kvm_handle_noslot_fault: emulated MMIO, never for a private access. */
function kvm_handle_noslot_fault(ctx: PfCtx, f: KvmPageFault): FaultRet {
  const { s, p } = ctx;
  // "Explicitly disallow private accesses to emulated MMIO".
  if (f.is_private && has(p, 'mmu-noslot-private-efault')) {
    step(ctx, 'no slot: a private access to emulated MMIO is refused');
    kvm_mmu_prepare_memory_fault_exit(ctx, f);
    return EFAULT;
  }
  // vcpu_cache_mmio_info: TDP caches no gva.
  ctx.res.mmio_cached = { gfn: f.gfn, gva: 0n };
  f.slot = null;
  f.pfn = KVM_PFN_NOSLOT;
  f.map_writable = false;
  // "Set kvm_page_fault.hva to KVM_HVA_ERR_BAD for 'no slot' faults".
  if (has(p, 'mmu-pf-error-pfn-hva')) f.hva = KVM_HVA_ERR_BAD;
  if (!s.mmio_caching) {
    step(ctx, 'no slot: MMIO caching is off, emulate');
    return 'RET_PF_EMULATE';
  }
  if (f.gfn > s.max_gfn) {
    step(ctx, `no slot: gfn ${hex(f.gfn)} beyond kvm_mmu_max_gfn, emulate`);
    return 'RET_PF_EMULATE';
  }
  step(ctx, 'no slot: install an MMIO SPTE');
  return 'RET_PF_CONTINUE';
}

/** kvm_handle_error_pfn: a poisoned page retries after SIGBUS; any other error exits with -EFAULT. */
function kvm_handle_error_pfn(ctx: PfCtx, f: KvmPageFault): FaultRet {
  if (f.pfn === KVM_PFN_ERR_HWPOISON) {
    step(ctx, 'hwpoison pfn: SIGBUS to the VMM, retry');
    return 'RET_PF_RETRY';
  }
  step(ctx, 'error pfn');
  kvm_mmu_prepare_memory_fault_exit(ctx, f);
  return EFAULT;
}

/**
 * __kvm_faultin_pfn: a private fault is served by guest_memfd only (kvm_faultin_pfn_private: never
 * async); a shared one by the slot's backing, going async when the page is not resident.
 */
function __kvm_faultin_pfn(ctx: PfCtx, f: KvmPageFault): FaultRet {
  const { s, p } = ctx;
  const slot = gfn_to_memslot(s, f.gfn);
  if (!slot) return 'RET_PF_CONTINUE'; // unreachable: kvm_faultin_pfn handled no-slot faults
  if (f.is_private) {
    if (!slot.guest_memfd) {
      step(ctx, 'private fault to a slot without guest_memfd');
      kvm_mmu_prepare_memory_fault_exit(ctx, f);
      return EFAULT;
    }
    if (slot.backing !== 'ok') {
      step(ctx, 'guest_memfd could not provide the page');
      kvm_mmu_prepare_memory_fault_exit(ctx, f);
      return EFAULT;
    }
    // The mutant without 'mmu-async-pf-not-private' lets a private fault take the async path too.
    if (!has(p, 'mmu-async-pf-not-private') && slot.swapped_out && s.async_pf) return asyncPf(ctx, f);
    f.pfn = slotPfn(slot, f.gfn);
    f.map_writable = true;
    step(ctx, `guest_memfd pfn ${hex(f.pfn)}`);
    return 'RET_PF_CONTINUE';
  }
  if (slot.backing === 'ok' && slot.swapped_out && s.async_pf) return asyncPf(ctx, f);
  f.hva = slotHva(slot, f.gfn);
  f.pfn = slot.backing === 'ok' ? slotPfn(slot, f.gfn) : slot.backing === 'hwpoison' ? KVM_PFN_ERR_HWPOISON : KVM_PFN_ERR_FAULT;
  f.map_writable = !slot.readonly;
  step(ctx, `shared pfn ${is_error_pfn(f.pfn) ? 'error' : hex(f.pfn)} (hva ${hex(f.hva)})`);
  return 'RET_PF_CONTINUE';
}

/** kvm_arch_setup_async_pf, or APF_HALT when the gfn already has one pending. */
function asyncPf(ctx: PfCtx, f: KvmPageFault): FaultRet {
  if (ctx.s.async_pf_pending.includes(f.gfn)) {
    step(ctx, 'async PF already pending for the gfn: halt until it is ready, retry');
    return 'RET_PF_RETRY';
  }
  ctx.res.async_pf = { gfn: f.gfn, error_code: f.error_code };
  ctx.t.emit('kvm_arch_setup_async_pf', { gfn: f.gfn, error_code: f.error_code });
  step(ctx, 'page not resident: async PF queued, retry');
  return 'RET_PF_RETRY';
}

/**
 * The private vs. shared check: EFAULT with a memory-fault exit when the fault and the gfn's
 * attribute differ. (A function, not a closure in kvm_faultin_pfn: that runs on every case.)
 */
function private_mismatch(ctx: PfCtx, f: KvmPageFault): FaultRet | null {
  if (f.is_private === kvm_mem_is_private(ctx.s, f.gfn)) return null;
  step(ctx, `${f.is_private ? 'private' : 'shared'} fault, but the gfn is ${f.is_private ? 'shared' : 'private'}`);
  kvm_mmu_prepare_memory_fault_exit(ctx, f);
  return EFAULT;
}

/** kvm_faultin_pfn: the checks in the series' order (spec §5.5). */
export function kvm_faultin_pfn(ctx: PfCtx, f: KvmPageFault): FaultRet {
  const { s, p, t } = ctx;
  // "Move private vs. shared check above slot validity checks".
  const early = has(p, 'mmu-private-check-before-slot');
  if (early) {
    const r = private_mismatch(ctx, f);
    if (r !== null) return r;
  }
  const slot = gfn_to_memslot(s, f.gfn);
  f.slot = slot?.id ?? null;
  // With the slot checks still inside __kvm_faultin_pfn (the mutant), the APIC page in guest mode
  // comes out as a noslot pfn with CONTINUE, and nothing later notices.
  const slotChecksHere = has(p, 'mmu-faultin-no-noslot-pfn');
  if (!slot) {
    const r = early ? null : private_mismatch(ctx, f);
    if (r !== null) return r;
    return kvm_handle_noslot_fault(ctx, f);
  }
  if (slot.invalid) {
    step(ctx, 'memslot being deleted or moved: retry');
    return 'RET_PF_RETRY';
  }
  if (slot.internal === 'apic-access' || (slot.internal !== null && s.guest_mode && !has(p, 'mmu-l2-internal-slots-mapped'))) {
    // L1's APIC-access page is never mapped into L2: L2's access is emulated MMIO. Before
    // "Don't force emulation of L2 accesses to non-APIC internal slots" every internal slot was.
    if (s.guest_mode) {
      if (!slotChecksHere) {
        step(ctx, `internal ${slot.internal} slot in guest mode: noslot pfn left by __kvm_faultin_pfn`);
        f.pfn = KVM_PFN_NOSLOT;
        return 'RET_PF_CONTINUE';
      }
      step(ctx, `internal ${slot.internal} slot in guest mode: handled as no slot`);
      const r = early ? null : private_mismatch(ctx, f);
      if (r !== null) return r;
      f.slot = null;
      return kvm_handle_noslot_fault(ctx, f);
    }
    if (!s.apicv_active) {
      step(ctx, 'APIC-access page with APICv inactive: emulate');
      return 'RET_PF_EMULATE';
    }
  }
  if (!early) {
    const r = private_mismatch(ctx, f);
    if (r !== null) return r;
  }
  if (s.invalidation_race) {
    step(ctx, 'mmu_notifier invalidation in progress for the gfn: retry');
    return 'RET_PF_RETRY';
  }
  const r = __kvm_faultin_pfn(ctx, f);
  if (r !== 'RET_PF_CONTINUE') return r;
  // "Sanity check that __kvm_faultin_pfn() doesn't create noslot pfns".
  if (slotChecksHere && is_noslot_pfn(f.pfn)) {
    t.warn('__kvm_faultin_pfn-noslot-pfn', { gfn: f.gfn });
    return EFAULT;
  }
  if (is_error_pfn(f.pfn)) return kvm_handle_error_pfn(ctx, f);
  return 'RET_PF_CONTINUE';
}

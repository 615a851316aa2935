// The MMU fault path above kvm_faultin_pfn (spec vmx-mmu.md §5.2–5.4): the three entry points that
// turn a hardware exit into a 64-bit error code (kvm_handle_page_fault for the #PF intercept,
// npf_interception for SVM's #NPF, handle_ept_violation for VMX), kvm_mmu_page_fault with its
// private-fault and MMIO-cache handling, kvm_mmu_do_page_fault building struct kvm_page_fault, and
// the direct (TDP) fault's mapping step.

import { has } from '../../profiles.ts';
import { hwErrorCode } from '../hardware_exit.ts';
import { PFERR, PFERR_SYNTHETIC_MASK } from '../types.ts';
import { gfn_to_memslot, kvm_mem_is_private, step, type PfCtx } from './ctx.ts';
import { kvm_faultin_pfn, kvm_mmu_prepare_memory_fault_exit, type FaultRet } from './faultin.ts';
import { EFAULT, EIO, KVM_HVA_ERR_BAD, KVM_PFN_ERR_FAULT, is_noslot_pfn, type KvmPageFault } from './result.ts';

const hex = (v: bigint): string => '0x' + v.toString(16);
const LOW32 = 0xffffffffn;

/**
 * The error code the entry point hands to kvm_mmu_page_fault.
 *  - #PF intercept (kvm_handle_page_fault): a legacy #PF error code is 32 bits; upper bits mean a
 *    KVM or hardware bug: WARN and drop them ("WARN if upper 32 bits of legacy #PF error code are
 *    non-zero").
 *  - SVM #NPF (npf_interception): KVM's synthetic bits never come from hardware: WARN and clear
 *    them ("Move synthetic PFERR_* sanity checks to SVM's #NPF handler"); on SEV-SNP the C-bit
 *    access (GUEST_ENC) is a private access.
 *  - EPT violation (handle_ept_violation → __vmx_handle_ept_violation): built from the
 *    qualification, so it holds no synthetic bit.
 */
export function entryErrorCode(ctx: PfCtx): bigint {
  const { s, p, t } = ctx;
  if (s.entry === 'pf-intercept') {
    let ec = BigInt.asUintN(64, s.hw_error_code);
    if (ec >> 32n !== 0n && has(p, 'mmu-legacy-pf-upper-bits')) {
      t.warn('kvm_handle_page_fault-upper-bits', { error_code: ec });
      ec &= LOW32;
      step(ctx, 'kvm_handle_page_fault: upper 32 bits of a legacy #PF error code dropped (WARN)');
    }
    return ec;
  }
  if (s.entry === 'npf') {
    let ec = BigInt.asUintN(64, s.hw_error_code);
    if ((ec & PFERR_SYNTHETIC_MASK) !== 0n && has(p, 'mmu-npf-synthetic-sanity')) {
      t.warn('npf_interception-synthetic-bits', { error_code: ec });
      ec &= ~PFERR_SYNTHETIC_MASK;
      step(ctx, 'npf_interception: synthetic PFERR bits from hardware cleared (WARN)');
    }
    if (s.vm_type === 'snp' && (ec & PFERR.GUEST_ENC) !== 0n) {
      ec |= PFERR.PRIVATE_ACCESS;
      step(ctx, 'npf_interception: SNP C-bit access is PRIVATE_ACCESS');
    }
    return ec;
  }
  return hwErrorCode('vmx', null, { reason: 48, qual: BigInt.asUintN(64, s.ept_qual), gpa: s.address, gla: 0n });
}

/** The mapping step of a direct fault (kvm_tdp_mmu_map): an MMIO SPTE for a noslot pfn, else the pfn. */
function direct_map(ctx: PfCtx, f: KvmPageFault): FaultRet {
  const { res } = ctx;
  if (is_noslot_pfn(f.pfn)) {
    res.spte = { gfn: f.gfn, kind: 'mmio', pfn: f.pfn, writable: false };
    step(ctx, `MMIO SPTE for gfn ${hex(f.gfn)}`);
    // The next access to it faults with RSVD and is emulated through the MMIO cache.
    return 'RET_PF_EMULATE';
  }
  if (f.write && !f.map_writable) {
    // A write to a read-only memslot is emulated (userspace sees KVM_EXIT_MMIO).
    step(ctx, 'write to a read-only memslot: emulate');
    return 'RET_PF_EMULATE';
  }
  res.spte = { gfn: f.gfn, kind: 'pfn', pfn: f.pfn, writable: f.map_writable };
  step(ctx, `SPTE gfn ${hex(f.gfn)} -> pfn ${hex(f.pfn)}${f.map_writable ? '' : ' (read-only)'}`);
  return 'RET_PF_FIXED';
}

/**
 * kvm_mmu_do_page_fault: struct kvm_page_fault with pfn and hva starting as error values
 * ("Initialize kvm_page_fault's pfn and hva to error values"), is_private from PRIVATE_ACCESS; then
 * the direct fault (kvm_tdp_page_fault): faultin, then map. A private fault that ends in emulation
 * exits to userspace instead ("Exit to userspace with -EFAULT if private fault hits emulation").
 */
function kvm_mmu_do_page_fault(ctx: PfCtx, gpa: bigint, error_code: bigint): FaultRet {
  const { p, s } = ctx;
  const errInit = has(p, 'mmu-pf-error-pfn-hva');
  const f: KvmPageFault = {
    addr: gpa, error_code, gfn: gpa >> 12n,
    write: (error_code & PFERR.WRITE) !== 0n, exec: (error_code & PFERR.FETCH) !== 0n, present: (error_code & PFERR.PRESENT) !== 0n,
    rsvd: (error_code & PFERR.RSVD) !== 0n, user: (error_code & PFERR.USER) !== 0n, is_private: (error_code & PFERR.PRIVATE_ACCESS) !== 0n,
    slot: gfn_to_memslot(s, gpa >> 12n)?.id ?? null,
    pfn: errInit ? KVM_PFN_ERR_FAULT : 0n, hva: errInit ? KVM_HVA_ERR_BAD : 0n, map_writable: false,
  };
  ctx.res.fault = f;
  ctx.res.error_code_handled = error_code;
  ctx.t.emit('kvm_mmu_do_page_fault', { gpa, error_code, private: f.is_private });
  step(ctx, `kvm_page_fault: gfn ${hex(f.gfn)}${f.is_private ? ' private' : ''}${f.write ? ' write' : ''}${f.exec ? ' exec' : ''}`);
  let r = kvm_faultin_pfn(ctx, f);
  if (r === 'RET_PF_CONTINUE') r = direct_map(ctx, f);
  if (r === 'RET_PF_EMULATE' && f.is_private && has(p, 'mmu-private-emulate-efault')) {
    step(ctx, 'a private fault would be emulated: exit to userspace instead');
    kvm_mmu_prepare_memory_fault_exit(ctx, f);
    return EFAULT;
  }
  return r;
}

/**
 * kvm_mmu_page_fault: PRIVATE_ACCESS added for a software-protected VM's private gfn; a reserved-bit
 * fault goes to the MMIO cache first, except a private one (WARN, -EFAULT: "WARN and skip MMIO cache
 * on private, reserved page faults"); then kvm_mmu_do_page_fault; EMULATE runs the emulator.
 */
export function kvm_mmu_page_fault(ctx: PfCtx, gpa: bigint, errorCodeIn: bigint): FaultRet {
  const { s, p, t, res } = ctx;
  // Before "Pass full 64-bit error code when handling page faults" the parameter was a u32.
  let error_code = has(p, 'mmu-pf-error-code-u64') ? BigInt.asUintN(64, errorCodeIn) : errorCodeIn & LOW32;
  res.error_code_in = error_code;
  const gfn = gpa >> 12n;
  if ((error_code & PFERR.RSVD) === 0n && s.vm_type === 'sw-protected' && kvm_mem_is_private(s, gfn)) {
    error_code |= PFERR.PRIVATE_ACCESS;
    step(ctx, 'software-protected VM, private gfn: PRIVATE_ACCESS');
  }
  let r: FaultRet = 'RET_PF_INVALID';
  if ((error_code & PFERR.RSVD) !== 0n) {
    if ((error_code & PFERR.PRIVATE_ACCESS) !== 0n && has(p, 'mmu-private-rsvd-no-mmio-cache')) {
      t.warn('kvm_mmu_page_fault-private-rsvd', { gpa, error_code });
      step(ctx, 'reserved-bit fault on a private access: no MMIO cache (WARN), -EFAULT');
      return EFAULT;
    }
    // handle_mmio_page_fault: an MMIO SPTE for the gfn means emulated MMIO.
    if (s.mmio_sptes.includes(gfn)) {
      res.mmio_cached = { gfn, gva: 0n };
      step(ctx, 'handle_mmio_page_fault: MMIO SPTE hit, emulate');
      r = 'RET_PF_EMULATE';
    } else {
      step(ctx, 'handle_mmio_page_fault: not an MMIO SPTE');
    }
  }
  if (r === 'RET_PF_INVALID') {
    r = kvm_mmu_do_page_fault(ctx, gpa, error_code);
    if (r === 'RET_PF_INVALID') {
      t.warn('kvm_mmu_page_fault-invalid', { gpa });
      return EIO;
    }
  } else {
    res.error_code_handled = error_code;
  }
  return r;
}


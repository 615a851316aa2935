// KVM_SET_NESTED_STATE for SVM: svm_set_nested_state with its own checks (nested.c, spec §6.4),
// svm_leave_nested, and the deferred svm_get_nested_state_pages.

import { CR0, EFER, RFLAGS } from '../../arch/svm/defs.ts';
import type { VmcbControl, VmcbSave } from '../../arch/svm/vmcb.ts';
import { cloneSave } from '../../arch/svm/vmcb.ts';
import { has } from '../profiles.ts';
import { cc } from '../trace.ts';
import { kvm_pat_valid, page_address_valid } from '../x86.ts';
import type { Ctx } from './ctx.ts';
import { svm_set_gif } from './gif.ts';
import { __nested_copy_vmcb_control_to_cache } from './nested/cache.ts';
import { l2_has_separate_pat, nested_vmcb_check_controls, nested_vmcb_check_save } from './nested/checks.ts';
import { is_pae_paging, load_pdptrs, nested_svm_load_cr3 } from './nested/cr3.ts';
import { nested_svm_merge_msrpm } from './nested/msrpm.ts';
import { nested_npt_enabled, nested_svm_uninit_mmu_context, nested_vmcb02_prepare_control } from './nested/prepare.ts';
import { svm_switch_vmcb } from './nested/vmexit.ts';
import { trace_nested_vmcb_checks_passed } from './nested/approved.ts';
import { KVM_STATE_NESTED } from './scenario.ts';
import { svm_copy_vmrun_state } from './smm.ts';

export interface KvmNestedStateSvm {
  flags: number;
  vmcb_pa: bigint;
  gpat: bigint;
  /** The data area: vmcb12's control (as GET_NESTED_STATE exports the cache) and L1's save area. */
  control: VmcbControl;
  save: VmcbSave;
}

/** svm_leave_nested: forced exit, nothing written to vmcb12, L1 registers not restored. */
export function svm_leave_nested(ctx: Ctx): void {
  const { v } = ctx;
  if (v.guest_mode) {
    v.nested_run_pending = false;
    v.nested.vmcb12_gpa = 0xffffffffffffffffn;
    v.guest_mode = false;
    svm_switch_vmcb(ctx, '01');
    nested_svm_uninit_mmu_context(ctx);
    svm_set_gif(ctx, true);
  }
  v.pending.requests.delete('KVM_REQ_GET_NESTED_STATE_PAGES');
}

/** Returns 0 or a negative errno (-22 = -EINVAL). */
export function svm_set_nested_state(ctx: Ctx, st: KvmNestedStateSvm): number {
  const { v, t, p } = ctx;
  const F = KVM_STATE_NESTED;
  // svm_set_nested_state: only GUEST_MODE, RUN_PENDING and GIF_SET are defined flags (spec §6.4 step 1).
  if (cc(t, 'nested-state-flags-invalid', (st.flags & ~(F.GUEST_MODE | F.RUN_PENDING | F.GIF_SET)) !== 0)) return -22;
  if ((v.regs.efer & EFER.SVME) === 0n) {
    // "clearing SVME does NOT set GIF, i.e. GIF=0 is allowed"
    if (cc(t, 'nested-state-svme-clear-with-flags', st.flags !== 0 && st.flags !== F.GIF_SET)) return -22;
  }
  // "SMM temporarily disables SVM, so we cannot be in guest mode" (svm_set_nested_state, §6.4 step 3).
  if (cc(t, 'nested-state-smm-guest-mode', v.smm && (st.flags & F.GUEST_MODE) !== 0)) return -22;
  if (!(st.flags & F.GUEST_MODE)) {
    svm_leave_nested(ctx);
    svm_set_gif(ctx, (st.flags & F.GIF_SET) !== 0);
    return 0;
  }
  // hdr.svm.vmcb_pa must be a page-aligned legal GPA (page_address_valid, §6.4 step 5).
  if (cc(t, 'nested-state-vmcb-pa-invalid', !page_address_valid(st.vmcb_pa, v.maxphyaddr))) return -22;
  // The control area goes through the same cache + nested_vmcb_check_controls as VMRUN (§6.4 step 6).
  const ctl = __nested_copy_vmcb_control_to_cache(ctx, st.control);
  if (!nested_vmcb_check_controls(ctx, ctl, st.save.cr0)) return -22;
  // L2's CR0 as userspace set it with KVM_SET_SREGS: APM 15.5.1 CD/NW rule (§6.4 step 7).
  if (cc(t, 'nested-state-l2-cr0-cd-clear-nw-set', (v.regs.cr0 & CR0.CD) === 0n && (v.regs.cr0 & CR0.NW) !== 0n)) return -22;
  // L1's host state must be a paged protected-mode, non-V86 state that passes nested_vmcb_check_save
  // without the gPAT check, which "may have been clobbered by SMM" (§6.4 step 8).
  if (cc(t, 'nested-state-l1-cr0-pg-clear', (st.save.cr0 & CR0.PG) === 0n)) return -22;
  if (cc(t, 'nested-state-l1-cr0-pe-clear', (st.save.cr0 & CR0.PE) === 0n)) return -22;
  if (cc(t, 'nested-state-l1-rflags-vm', (st.save.rflags & RFLAGS.VM) !== 0n)) return -22;
  if (!nested_vmcb_check_save(ctx, st.save, false)) return -22;
  // A separate L2 PAT (NP_ENABLE, shared-PAT quirk off) must be valid (kvm_pat_valid, §6.4 step 9).
  if (l2_has_separate_pat(ctx, ctl)) {
    if (cc(t, 'nested-state-gpat-invalid', !kvm_pat_valid(st.gpat))) return -22;
  }
  trace_nested_vmcb_checks_passed(ctx, ctl, { efer: v.regs.efer, cr0: v.regs.cr0, cr3: v.regs.cr3, cr4: v.regs.cr4 }, { path: 'set_nested_state' });
  // Commit.
  if (v.guest_mode) svm_leave_nested(ctx);
  else v.vmcb02.save = cloneSave(v.vmcb01.save); // L2's registers (from SET_SREGS) move to vmcb02
  svm_set_gif(ctx, (st.flags & F.GIF_SET) !== 0);
  v.nested_run_pending = (st.flags & F.RUN_PENDING) !== 0;
  v.nested.vmcb12_gpa = st.vmcb_pa;
  svm_copy_vmrun_state(v.vmcb01.save, st.save);
  v.nested.ctl = ctl;
  svm_switch_vmcb(ctx, '02');
  if (l2_has_separate_pat(ctx, ctl)) v.vmcb02.save.g_pat = st.gpat;
  nested_vmcb02_prepare_control(ctx);
  if (has(p, 'svm-set-nested-state-dirty')) v.vmcb02.control.clean = 0;
  const r = nested_svm_load_cr3(ctx, v.regs.cr3, nested_npt_enabled(ctx), false, v.regs);
  if (r) return r; // guest mode already entered (kvm-next)
  v.nested.force_msr_bitmap_recalc = true;
  if (has(p, 'svm-set-nested-state-avic-inhibit') && v.host.avic) v.avic_inhibited = true;
  v.pending.requests.add('KVM_REQ_GET_NESTED_STATE_PAGES');
  t.emit('kvm_set_nested_state', { flags: st.flags, vmcb_pa: st.vmcb_pa, vmcb02_clean: v.vmcb02.control.clean, avic_inhibited: v.avic_inhibited, host_avic: v.host.avic });
  return 0;
}

/** svm_get_nested_state_pages: deferred to the next KVM_RUN; false → KVM_EXIT_INTERNAL_ERROR. */
export function svm_get_nested_state_pages(ctx: Ctx): boolean {
  const { v, t } = ctx;
  if (!v.guest_mode) {
    t.warn('svm_get_nested_state_pages: !is_guest_mode');
    return false;
  }
  v.pending.requests.delete('KVM_REQ_GET_NESTED_STATE_PAGES');
  if (is_pae_paging(v.regs)) {
    if (nested_npt_enabled(ctx)) v.pdptrs_lazy = true;
    else if (!load_pdptrs(ctx, v.regs.cr3)) return false;
  }
  if (!nested_svm_merge_msrpm(ctx)) return false;
  return true;
}

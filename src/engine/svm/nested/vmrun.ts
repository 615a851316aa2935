// VMRUN emulation: nested_svm_check_permissions, nested_svm_vmrun, nested_svm_copy_vmcb12_to_cache
// and enter_svm_guest_mode — kvm-next's (spec §2.2) and the unified series' (spec §2.5).

import { CR0, EFER, SEG_ATTR } from '../../../arch/svm/defs.ts';
import { SVM_EXIT_ERR } from '../../../arch/svm/exit_codes.ts';
import { cloneSave } from '../../../arch/svm/vmcb.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { page_address_valid } from '../../x86.ts';
import type { Ctx } from '../ctx.ts';
import { svm_set_gif } from '../gif.ts';
import type { RaceWrite } from '../scenario.ts';
import { __nested_copy_vmcb_control_to_cache, __nested_copy_vmcb_save_to_cache } from './cache.ts';
import { nested_svm_check_cached_vmcb12 } from './checks.ts';
import { nested_svm_load_cr3 } from './cr3.ts';
import { nested_svm_merge_msrpm } from './msrpm.ts';
import { nested_npt_enabled, nested_svm_init_mmu_context, nested_svm_uninit_mmu_context, nested_vmcb02_prepare_control, nested_vmcb02_prepare_save, prepare_save_source } from './prepare.ts';
import { nested_svm_vmexit, nested_svm_vmrun_error_vmexit, svm_switch_vmcb, vmexit_code_as_written } from './vmexit.ts';
import { applyRace } from './race.ts';
import { saveOf, trace_nested_vmcb_checks_passed } from './approved.ts';

/** VMRUN is 0F 01 D8. */
export const VMRUN_INSN_LEN = 3n;

export type VmrunResult =
  | { outcome: '#UD' | '#GP' }
  | { outcome: 'userspace-exit'; reason: string }
  | { outcome: 'silent-noop' }
  | { outcome: 'vmexit-invalid'; stage: 'early' | 'late' }
  | { outcome: 'entered' };

/** Long mode and CS.L: rAX is used whole; otherwise its low 32 bits (kvm_rax_read). */
function is_64_bit_mode(ctx: Ctx): boolean {
  const { v } = ctx;
  return (v.regs.efer & EFER.LMA) !== 0n && (v.vmcb01.save.cs.attrib & SEG_ATTR.L) !== 0;
}

/** nested_svm_check_permissions: APM 15.5 "VMRUN is a privileged SVM instruction". */
export function nested_svm_check_permissions(ctx: Ctx): '#UD' | '#GP' | null {
  const { v, t } = ctx;
  if (cc(t, 'vmrun-efer-svme-clear', (v.regs.efer & EFER.SVME) === 0n)) return '#UD';
  if (cc(t, 'vmrun-cr0-pg-clear', (v.regs.cr0 & CR0.PG) === 0n)) return '#UD';
  if (cc(t, 'vmrun-cpl-nonzero', v.cpl !== 0)) return '#GP';
  return null;
}

function kvm_skip_emulated_instruction(ctx: Ctx): void {
  ctx.v.regs.rip += VMRUN_INSN_LEN;
  if (!is_64_bit_mode(ctx)) ctx.v.regs.rip &= 0xffffffffn;
}

/**
 * nested_svm_copy_vmcb12_to_cache (kvm-next): map vmcb12 once, cache and sanitise it, run the
 * checks on the cache, and on failure write VMEXIT_INVALID into vmcb12 and clear GIF.
 * Returns 0, -EINVAL (-22) or -EFAULT (-14).
 */
function nested_svm_copy_vmcb12_to_cache(ctx: Ctx, gpa: bigint, race: RaceWrite | null, checkHere: boolean): number {
  const { v, t, p } = ctx;
  const vmcb12 = v.mem.mapVmcb(gpa);
  if (!vmcb12) return -14;
  let ok = true;
  if (has(p, 'svm-vmcb12-cache-before-check')) {
    v.nested.ctl = __nested_copy_vmcb_control_to_cache(ctx, vmcb12.control);
    v.nested.save = __nested_copy_vmcb_save_to_cache(vmcb12.save);
    if (race) applyRace(ctx, vmcb12, race);
    if (checkHere) ok = nested_svm_check_cached_vmcb12(ctx, v.nested.ctl, v.nested.save, v.regs.cr0);
  } else {
    // CVE-2021-29657: the checks read vmcb12 in guest memory, then the cache is a second read,
    // and another vCPU's write can land in between.
    const first = __nested_copy_vmcb_control_to_cache(ctx, vmcb12.control);
    const firstSave = cloneSave(vmcb12.save);
    if (checkHere) ok = nested_svm_check_cached_vmcb12(ctx, first, firstSave, v.regs.cr0);
    if (ok && checkHere) trace_nested_vmcb_checks_passed(ctx, first, saveOf(firstSave));
    if (race) applyRace(ctx, vmcb12, race);
    v.nested.ctl = __nested_copy_vmcb_control_to_cache(ctx, vmcb12.control);
    v.nested.save = __nested_copy_vmcb_save_to_cache(vmcb12.save);
  }
  if (!checkHere) return 0;
  if (!ok) {
    t.emit('kvm_nested_vmenter_failed', { stage: 'checks' });
    vmcb12.control.exit_code = vmexit_code_as_written(ctx, SVM_EXIT_ERR);
    vmcb12.control.exit_info_1 = 0n;
    vmcb12.control.exit_info_2 = 0n;
    if (has(p, 'svm-clear-eventinj-on-vmexit')) {
      vmcb12.control.event_inj = 0;
      vmcb12.control.event_inj_err = 0;
    }
    if (has(p, 'svm-gif-clear-on-invalid')) svm_set_gif(ctx, false);
    t.emit('kvm_nested_vmexit_inject', { exit_code: SVM_EXIT_ERR, exit: 'ERR', exit_info_1: 0n, exit_info_2: 0n });
    return -22;
  }
  if (has(p, 'svm-vmcb12-cache-before-check')) trace_nested_vmcb_checks_passed(ctx, v.nested.ctl, saveOf(v.nested.save));
  return 0;
}

/** enter_svm_guest_mode (kvm-next): switch to vmcb02, build it, then load L2's CR3. */
export function enter_svm_guest_mode(ctx: Ctx, gpa: bigint, from_vmrun: boolean): number {
  const { v, t } = ctx;
  t.emit('kvm_nested_vmenter', { vmcb12_gpa: gpa, rip: v.nested.save.rip, nested_cr3: v.nested.ctl.nested_cr3, npt: nested_npt_enabled(ctx) });
  v.nested.vmcb12_gpa = gpa;
  if (v.current === '02') t.warn('enter_svm_guest_mode: svm->vmcb == vmcb02');
  v.vmcb02.save.spec_ctrl = v.vmcb01.save.spec_ctrl; // nested_svm_copy_common_state
  svm_switch_vmcb(ctx, '02');
  nested_vmcb02_prepare_control(ctx);
  nested_vmcb02_prepare_save(ctx);
  const cr3 = prepare_save_source(ctx).arch.cr3;
  const r = nested_svm_load_cr3(ctx, cr3, nested_npt_enabled(ctx), from_vmrun, { efer: v.regs.efer, cr0: v.regs.cr0, cr4: v.regs.cr4 });
  if (r) return r;
  if (!from_vmrun) v.pending.requests.add('KVM_REQ_GET_NESTED_STATE_PAGES');
  svm_set_gif(ctx, true);
  if (v.host.avic) v.avic_inhibited = true; // APICv inhibited while L2 runs
  return 0;
}

/**
 * enter_svm_guest_mode as the unified series writes it: enter guest mode, check the cache, init the
 * nested MMU and load L2's CR3 while vmcb01 is still current ("Any VMRUN failure needs to happen
 * before this point"), then switch and build vmcb02, then merge the MSRPM.
 */
export function enter_svm_guest_mode_unified(ctx: Ctx, gpa: bigint, from_vmrun: boolean): number {
  const { v, t, p } = ctx;
  t.emit('kvm_nested_vmenter', { vmcb12_gpa: gpa, rip: v.nested.save.rip, nested_cr3: v.nested.ctl.nested_cr3, npt: nested_npt_enabled(ctx) });
  v.nested.vmcb12_gpa = gpa;
  if (v.current === '02') t.warn('enter_svm_guest_mode: svm->vmcb == vmcb02');
  v.guest_mode = true; // enter_guest_mode before the switch
  if (!nested_svm_check_cached_vmcb12(ctx, v.nested.ctl, v.nested.save, v.vmcb01.save.cr0)) {
    t.emit('kvm_nested_vmenter_failed', { stage: 'checks' });
    v.guest_mode = false; // leave_guest_mode: nothing was switched yet
    return -22;
  }
  trace_nested_vmcb_checks_passed(ctx, v.nested.ctl, saveOf(v.nested.save));
  if (nested_npt_enabled(ctx)) nested_svm_init_mmu_context(ctx);
  // v5+: the paging mode is L2's (from the cache); v4 judged it on L1's still-loaded registers.
  const mode = has(p, 'svm-l2-paging-mode-for-cr3')
    ? { efer: v.nested.save.efer, cr0: v.nested.save.cr0, cr4: v.nested.save.cr4 }
    : { efer: v.regs.efer, cr0: v.regs.cr0, cr4: v.regs.cr4 };
  const l1cr3 = v.regs.cr3;
  const r = nested_svm_load_cr3(ctx, v.nested.save.cr3, nested_npt_enabled(ctx), from_vmrun, mode);
  if (r) {
    t.emit('kvm_nested_vmenter_failed', { stage: 'load_cr3' });
    v.guest_mode = false;
    if (nested_npt_enabled(ctx)) nested_svm_uninit_mmu_context(ctx);
    return r;
  }
  // The CR3 load above only validated L2's CR3; L1's stays live until the switch.
  v.regs.cr3 = l1cr3;
  v.vmcb01.save.cr3 = l1cr3;
  if (from_vmrun && !nested_svm_merge_msrpm(ctx)) {
    t.emit('kvm_nested_vmenter_failed', { stage: 'merge_msrpm' });
    v.guest_mode = false;
    if (nested_npt_enabled(ctx)) nested_svm_uninit_mmu_context(ctx);
    return -22;
  }
  v.vmcb02.save.spec_ctrl = v.vmcb01.save.spec_ctrl;
  svm_switch_vmcb(ctx, '02');
  v.guest_mode = false; // prepare_control re-enters (idempotent)
  nested_vmcb02_prepare_control(ctx);
  nested_vmcb02_prepare_save(ctx);
  v.regs.cr3 = v.nested.save.cr3;
  v.vmcb02.save.cr3 = v.nested.save.cr3;
  if (!from_vmrun) v.pending.requests.add('KVM_REQ_GET_NESTED_STATE_PAGES');
  svm_set_gif(ctx, true);
  if (v.host.avic) v.avic_inhibited = true;
  return 0;
}

function lastVmenterFailure(ctx: Ctx): unknown {
  const ev = ctx.t.events;
  for (let i = ev.length - 1; i >= 0; i--) if (ev[i].ev === 'kvm_nested_vmenter_failed') return ev[i].stage;
  return undefined;
}

/** nested_svm_vmrun, with the VMRUN gates of vmrun_interception before it. */
export function nested_svm_vmrun(ctx: Ctx, race: RaceWrite | null): VmrunResult {
  const { v, t, p } = ctx;
  const gate = nested_svm_check_permissions(ctx);
  if (gate) return { outcome: gate };
  if (has(p, 'svm-check-hsave')) {
    // fb79f566e4c9: VMRUN #GPs when L1 never set MSR_VM_HSAVE_PA (spec §2.2 step 1).
    if (cc(t, 'vmrun-hsave-unset', v.nested.hsave_msr === 0n)) return { outcome: '#GP' };
  }
  // nested_svm_vmrun: VMRUN in SMM is #UD (spec §2.2 step 2).
  if (cc(t, 'vmrun-in-smm', v.smm)) return { outcome: '#UD' };
  if (!v.nested.initialized) {
    t.warn('nested_svm_vmrun: !svm->nested.initialized');
    return { outcome: 'userspace-exit', reason: '-EINVAL' };
  }
  let gpa = v.regs.rax;
  if (!is_64_bit_mode(ctx)) gpa &= 0xffffffffn;
  if (has(p, 'svm-vmcb12-map-gp')) {
    // APM VMRUN: "#GP if rAX is not page aligned or beyond the physical address limit" (page_address_valid).
    if (cc(t, 'vmrun-vmcb12-gpa-invalid', !page_address_valid(gpa, v.maxphyaddr))) return { outcome: '#GP' };
  } else {
    // Older trees mapped the GPA's page (low bits dropped); an illegal GFN was -EINVAL → #GP and
    // any other map failure skipped VMRUN as a silent no-op.
    gpa &= ~0xfffn;
    if (cc(t, 'vmrun-vmcb12-gpa-invalid', gpa >> BigInt(v.maxphyaddr) !== 0n)) return { outcome: '#GP' };
    if (!v.mem.backed(gpa)) {
      t.emit('kvm_vcpu_map_failed', { gpa });
      kvm_skip_emulated_instruction(ctx);
      return { outcome: 'silent-noop' };
    }
  }
  const unified = has(p, 'svm-unified-vmrun-failure');
  const r = nested_svm_copy_vmcb12_to_cache(ctx, gpa, race, !unified);
  // A vmcb12 outside every memslot cannot be mapped: -EFAULT (spec §2.2 step 6).
  if (cc(t, 'vmrun-vmcb12-unmappable', r === -14)) {
    // kvm_handle_memory_failure: exit to userspace, RIP not advanced.
    return { outcome: 'userspace-exit', reason: 'KVM_EXIT_INTERNAL_ERROR (vmcb12 unmappable)' };
  }
  kvm_skip_emulated_instruction(ctx);
  if (r) return { outcome: 'vmexit-invalid', stage: 'early' };

  // Save L1's state into vmcb01 (RSP, RAX and the segments already live there).
  const s01 = v.vmcb01.save;
  s01.efer = v.regs.efer;
  s01.cr0 = v.regs.cr0;
  s01.cr4 = v.regs.cr4;
  s01.rflags = v.regs.rflags;
  s01.rip = v.regs.rip;
  s01.rax = v.regs.rax;
  s01.rsp = v.regs.rsp;
  if (!v.host.npt) s01.cr3 = v.regs.cr3;
  v.nested_run_pending = true;

  if (unified) {
    if (enter_svm_guest_mode_unified(ctx, gpa, true)) {
      // Consistency checks now run inside enter_svm_guest_mode; they are still the early stage.
      const stage = lastVmenterFailure(ctx) === 'checks' ? 'early' : 'late';
      nested_svm_vmrun_error_vmexit(ctx);
      return { outcome: 'vmexit-invalid', stage };
    }
    return { outcome: 'entered' };
  }
  if (enter_svm_guest_mode(ctx, gpa, true) || !nested_svm_merge_msrpm(ctx)) {
    t.emit('kvm_nested_vmenter_failed', { stage: 'late' });
    v.nested_run_pending = false;
    if (has(p, 'svm-clear-l1-l2-nmi-softirq')) {
      v.nmi_l1_to_l2 = false;
      v.soft_int_injected = false;
    }
    const c02 = v.vmcb02.control;
    c02.exit_code = SVM_EXIT_ERR;
    c02.exit_info_1 = 0n;
    c02.exit_info_2 = 0n;
    nested_svm_vmexit(ctx);
    return { outcome: 'vmexit-invalid', stage: 'late' };
  }
  return { outcome: 'entered' };
}

// SMM while L2 runs: svm_enter_smm / svm_leave_smm (svm.c), spec §6.1–6.2. On SMI, KVM emulates a
// #VMEXIT(SW) to L1 and stashes L1's VMRUN state in HSAVE + 0x400 because vmcb01 is about to be
// used (and clobbered) by the SMM handler; RSM re-enters L2 from vmcb12 as it is then in memory.

import { CR0, EFER, RFLAGS } from '../../arch/svm/defs.ts';
import { SVM_EXIT } from '../../arch/svm/exit_codes.ts';
import type { VmcbSave } from '../../arch/svm/vmcb.ts';
import { has } from '../profiles.ts';
import { newNested } from '../vcpu.ts';
import type { Ctx } from './ctx.ts';
import { __nested_copy_vmcb_control_to_cache, __nested_copy_vmcb_save_to_cache } from './nested/cache.ts';
import { nested_svm_check_cached_vmcb12 } from './nested/checks.ts';
import { nested_svm_simple_vmexit } from './nested/vmexit.ts';
import { saveOf, trace_nested_vmcb_checks_passed } from './nested/approved.ts';
import { enter_svm_guest_mode, enter_svm_guest_mode_unified } from './nested/vmrun.ts';

/** svm_copy_vmrun_state: the state VMRUN saves and #VMEXIT restores (cpl forced 0, RFLAGS bit 1). */
export function svm_copy_vmrun_state(to: VmcbSave, from: VmcbSave): void {
  for (const k of ['es', 'cs', 'ss', 'ds', 'gdtr', 'idtr'] as const) to[k] = { ...from[k] };
  to.rflags = from.rflags | RFLAGS.FIXED_1;
  to.efer = from.efer;
  to.cr0 = from.cr0;
  to.cr3 = from.cr3;
  to.cr4 = from.cr4;
  to.rax = from.rax;
  to.rsp = from.rsp;
  to.rip = from.rip;
  to.cpl = 0;
}

/** svm_enter_smm: returns 0 on success, 1 on failure (the SMI then shuts the VM down). */
export function svm_enter_smm(ctx: Ctx): number {
  const { v, t, p } = ctx;
  if (!v.guest_mode) return 0;
  if (!v.guest.lm) return 1; // "32-bit SMRAM format doesn't preserve EFER and SVM state"
  v.smram = { svm_guest_flag: true, svm_guest_vmcb_gpa: v.nested.vmcb12_gpa, efer: v.vmcb01.save.efer, regs: { ...v.regs } };
  t.emit('svm_enter_smm', { vmcb12_gpa: v.nested.vmcb12_gpa });
  nested_svm_simple_vmexit(ctx, BigInt(SVM_EXIT.SW));
  const hsave = v.mem.mapVmcb(v.nested.hsave_msr);
  if (!hsave) return 1;
  if (has(p, 'svm-smm-l1-state-in-hsave')) svm_copy_vmrun_state(hsave.save, v.vmcb01.save);
  // The SMM handler now runs on vmcb01 with SMM entry state (SDM 34.5.1 / APM 10.3.4).
  v.smm = true;
  const s01 = v.vmcb01.save;
  s01.cr0 = v.regs.cr0 & ~(CR0.PE | CR0.EM | CR0.TS | CR0.PG);
  s01.cr4 = 0n;
  s01.efer = 0n;
  s01.rflags = RFLAGS.FIXED_1;
  s01.rip = 0x8000n;
  s01.cr3 = 0n;
  s01.rsp = 0n;
  s01.rax = 0n;
  v.regs = { ...v.regs, cr0: s01.cr0, cr4: 0n, efer: 0n, rflags: s01.rflags, rip: s01.rip };
  return 0;
}

/** Userspace saves and restores the vCPU while it is in SMM: no nested state is carried. */
export function migrate_in_smm(ctx: Ctx): void {
  const { v, t } = ctx;
  const hsave = v.nested.hsave_msr;
  v.nested = newNested(hsave);
  t.emit('kvm_set_nested_state', { flags: 0, in_smm: true });
}

/** svm_leave_smm: returns 0 on success, 1 on failure (RSM is then unhandleable: shutdown). */
export function svm_leave_smm(ctx: Ctx): number {
  const { v, t, p } = ctx;
  const smram = v.smram;
  if (!v.guest.lm) return 0;
  if (!smram || !smram.svm_guest_flag) return 0; // the SMI came from L1
  if (!v.guest.svm) return 1;
  if ((smram.efer & EFER.SVME) === 0n) return 1;
  const gpa = smram.svm_guest_vmcb_gpa;
  const vmcb12 = v.mem.mapVmcb(gpa);
  if (!vmcb12) return 1;
  const hsave = v.mem.mapVmcb(v.nested.hsave_msr);
  if (!hsave) return 1;
  if (has(p, 'svm-smm-l1-state-in-hsave')) svm_copy_vmrun_state(v.vmcb01.save, hsave.save);
  if (has(p, 'svm-smm-restore-nested-ctl')) v.nested.ctl = __nested_copy_vmcb_control_to_cache(ctx, vmcb12.control);
  v.nested.save = __nested_copy_vmcb_save_to_cache(vmcb12.save);
  const unified = has(p, 'svm-unified-vmrun-failure');
  if (!unified && has(p, 'svm-rsm-checks')) {
    if (!nested_svm_check_cached_vmcb12(ctx, v.nested.ctl, v.nested.save, v.vmcb01.save.cr0)) {
      t.emit('kvm_nested_vmenter_failed', { stage: 'rsm-checks' });
      return 1;
    }
  }
  if (!unified) {
    trace_nested_vmcb_checks_passed(ctx, v.nested.ctl, saveOf(v.nested.save), { checked: has(p, 'svm-rsm-checks') });
  }
  v.smm = false;
  const r = unified ? enter_svm_guest_mode_unified(ctx, gpa, false) : enter_svm_guest_mode(ctx, gpa, false);
  if (r) return 1;
  v.nested_run_pending = true;
  return 0;
}

/** emulator_leave_smm: the vendor hook, then the interrupted context's registers from SMRAM. */
export function emulator_leave_smm(ctx: Ctx): 'ok' | 'shutdown' {
  const { v, t } = ctx;
  if (svm_leave_smm(ctx)) {
    t.emit('kvm_smm_transition', { entering: false, result: 'X86EMUL_UNHANDLEABLE' });
    v.pending.triple_fault = true;
    return 'shutdown';
  }
  v.smm = false;
  if (v.smram && v.guest_mode) {
    const r = v.smram.regs;
    v.regs.rip = r.rip;
    v.regs.rsp = r.rsp;
    v.regs.rax = r.rax;
    v.vmcb02.save.rip = r.rip;
  }
  t.emit('kvm_smm_transition', { entering: false, result: 'ok', guest_mode: v.guest_mode });
  return 'ok';
}

// L2 runs until its first exit to L1 (APM 15.9 "Instruction Intercepts"). Each instruction exits
// to L0 when vmcb02 intercepts it; L0 reflects it to L1 (nested_svm_exit_handled) when vmcb12
// intercepts it, else handles it for L2 (spec §5.3). Exceptions go to L1 when vmcb12 intercepts the
// vector. Later issues replace this with full instruction streams.

import { EVTINJ, INTERCEPT, VEC, isIntercept } from '../../arch/svm/defs.ts';
import { SVM_EXIT } from '../../arch/svm/exit_codes.ts';
import type { Ctx } from './ctx.ts';
import { svm_set_gif } from './gif.ts';
import { nested_svm_vmexit } from './nested/vmexit.ts';
import { EMULATED_PF_ADDR, type L2Insn } from './scenario.ts';

export type L2Result =
  | { outcome: 'exit'; exit_code: bigint }
  | { outcome: 'l2-running'; why: string }
  | { outcome: 'l2-halted' }
  | { outcome: 'l2-vmrun-emulated' }
  | { outcome: 'not-in-guest-mode' };

const INSN_LEN: Record<L2Insn['op'], bigint> = {
  vmmcall: 3n, hlt: 1n, cpuid: 2n, vmrun: 3n, clgi: 3n, stgi: 3n, ud2: 2n, int3: 1n, nop: 1n,
  'emulated-pf': 0n, intr: 0n, 'userspace-delete-vmcb12-memslot': 0n,
};

/** #PF error code of the emulated access: a write (W) to a non-present page. */
const EMULATED_PF_ERROR_CODE = 0x2;

/**
 * A VM entry into L2 (svm_vcpu_run): arch.cr2 is synced into vmcb02 and an injected event is
 * delivered by the CPU (APM 15.20: EVENTINJ.V is cleared once the event is taken).
 */
function l2_vmentry(ctx: Ctx): void {
  const { v, t } = ctx;
  v.nested_run_pending = false;
  v.vmcb02.save.cr2 = v.regs.cr2;
  const c02 = v.vmcb02.control;
  if (c02.event_inj & EVTINJ.VALID) {
    t.emit('l2_event_delivered', { event_inj: c02.event_inj });
    c02.event_inj = 0;
    c02.event_inj_err = 0;
    v.nmi_l1_to_l2 = false;
    v.soft_int_injected = false;
  }
  nested_sync_control_from_vmcb02(ctx);
}

/** nested_sync_control_from_vmcb02: processor-written fields back into the vmcb12 cache. */
export function nested_sync_control_from_vmcb02(ctx: Ctx): void {
  const { v } = ctx;
  const c = v.nested.ctl;
  const c02 = v.vmcb02.control;
  c.event_inj = c02.event_inj;
  c.event_inj_err = c02.event_inj_err;
  c.int_state = c02.int_state;
  const mask = 0x10f; // V_IRQ | V_TPR
  c.int_ctl = ((c.int_ctl & ~mask) | (c02.int_ctl & mask)) >>> 0;
}

function reflect(ctx: Ctx, code: number, info1: bigint, info2: bigint, insnLen: bigint): L2Result {
  const { v, t } = ctx;
  const c02 = v.vmcb02.control;
  c02.exit_code = BigInt(code);
  c02.exit_info_1 = info1;
  c02.exit_info_2 = info2;
  // nested_save_pending_event_to_vmcb12: an event injected but not yet delivered is in flight.
  c02.exit_int_info = c02.event_inj;
  c02.exit_int_info_err = c02.event_inj & EVTINJ.VALID ? c02.event_inj_err : 0;
  c02.event_inj = 0;
  c02.event_inj_err = 0;
  t.emit('l2_state_at_exit', { rip: v.regs.rip, cr2: v.regs.cr2, exit_int_info: c02.exit_int_info });
  if (v.host.nrips) c02.next_rip = v.regs.rip + insnLen;
  v.vmcb02.save.rip = v.regs.rip;
  nested_sync_control_from_vmcb02(ctx);
  nested_svm_vmexit(ctx);
  return { outcome: 'exit', exit_code: BigInt(code) };
}

/** An exception raised in L2: #VMEXIT(0x40+vector) iff vmcb12 intercepts it. */
function l2_exception(ctx: Ctx, vector: number, len: bigint): L2Result | null {
  const { v, t } = ctx;
  if (isIntercept(v.nested.ctl.intercepts, INTERCEPT.EXCEPTION_OFFSET + vector)) {
    // exit_info_1 carries the error code only for vectors that have one; #UD/#BP have none.
    return reflect(ctx, SVM_EXIT.EXCP_BASE + vector, v.vmcb02.control.exit_info_1, 0n, len);
  }
  t.emit('kvm_inj_exception_l2', { vector });
  return { outcome: 'l2-running', why: `L2 handles its own vector ${vector}` };
}

export function run_l2(ctx: Ctx, program: readonly L2Insn[]): L2Result {
  const { v, t } = ctx;
  if (!v.guest_mode || v.current !== '02') return { outcome: 'not-in-guest-mode' };
  const c = v.nested.ctl;
  const i02 = v.vmcb02.control.intercepts;
  const prog = program.length ? program : [{ op: 'vmmcall' } as L2Insn];
  let entered = false;
  for (const insn of prog) {
    const len = INSN_LEN[insn.op];
    // An interrupt is recognised before the next VM entry (svm_check_nested_events); everything
    // else runs in L2, so L0 enters L2 first.
    if (insn.op !== 'intr' || !entered) {
      if (!entered || v.vmcb02.control.event_inj & EVTINJ.VALID || v.vmcb02.save.cr2 !== v.regs.cr2) l2_vmentry(ctx);
      entered = true;
    }
    t.emit('l2_insn', { op: insn.op, rip: v.regs.rip });
    switch (insn.op) {
      case 'userspace-delete-vmcb12-memslot':
        t.emit('kvm_set_user_memory_region', { deleted: v.mem.deleteMemslotAt(v.nested.vmcb12_gpa), gpa: v.nested.vmcb12_gpa });
        continue;
      case 'intr':
        if (isIntercept(c.intercepts, INTERCEPT.INTR)) return reflect(ctx, SVM_EXIT.INTR, 0n, 0n, 0n);
        l2_vmentry(ctx);
        t.emit('l2_interrupt_delivered', {});
        continue;
      case 'emulated-pf':
        if (isIntercept(c.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.PF)) {
          return reflect(ctx, SVM_EXIT.EXCP_BASE + VEC.PF, BigInt(EMULATED_PF_ERROR_CODE), EMULATED_PF_ADDR, 0n);
        }
        // kvm_inject_emulated_page_fault → the payload (CR2) is delivered as the #PF is injected.
        v.regs.cr2 = EMULATED_PF_ADDR;
        v.vmcb02.control.event_inj = (EVTINJ.VALID | EVTINJ.TYPE_EXEPT | EVTINJ.VALID_ERR | VEC.PF) >>> 0;
        v.vmcb02.control.event_inj_err = EMULATED_PF_ERROR_CODE;
        t.emit('kvm_inj_exception_l2', { vector: VEC.PF, cr2: EMULATED_PF_ADDR });
        continue;
      case 'nop':
        v.regs.rip += len;
        continue;
      case 'vmmcall':
        if (isIntercept(c.intercepts, INTERCEPT.VMMCALL)) return reflect(ctx, SVM_EXIT.VMMCALL, 0n, 0n, len);
        // "Raise #UD if unhandled VMMCALL isn't intercepted by L1".
        {
          const r = l2_exception(ctx, VEC.UD, len);
          if (r) return r;
        }
        continue;
      case 'hlt':
        if (isIntercept(c.intercepts, INTERCEPT.HLT)) return reflect(ctx, SVM_EXIT.HLT, 0n, 0n, len);
        return { outcome: 'l2-halted' };
      case 'cpuid':
        if (isIntercept(c.intercepts, INTERCEPT.CPUID)) return reflect(ctx, SVM_EXIT.CPUID, 0n, 0n, len);
        v.regs.rip += len; // L0 emulates CPUID for L2
        continue;
      case 'vmrun':
        if (isIntercept(c.intercepts, INTERCEPT.VMRUN)) return reflect(ctx, SVM_EXIT.VMRUN, 0n, 0n, len);
        // Only reachable when L2 runs without the VMRUN intercept (CVE-2021-29657): L0 would emulate
        // L2's VMRUN as if L1 executed it.
        t.warn('nested_svm_vmrun reached from L2: vmcb12 VMRUN intercept missing in guest mode');
        return { outcome: 'l2-vmrun-emulated' };
      case 'clgi':
      case 'stgi': {
        const bit = insn.op === 'clgi' ? INTERCEPT.CLGI : INTERCEPT.STGI;
        if (isIntercept(c.intercepts, bit)) return reflect(ctx, insn.op === 'clgi' ? SVM_EXIT.CLGI : SVM_EXIT.STGI, 0n, 0n, len);
        if (isIntercept(i02, bit)) svm_set_gif(ctx, insn.op === 'stgi'); // L0 emulates for L2
        v.regs.rip += len;
        continue;
      }
      case 'ud2': {
        const r = l2_exception(ctx, VEC.UD, len);
        if (r) return r;
        continue;
      }
      case 'int3': {
        const r = l2_exception(ctx, VEC.BP, len);
        if (r) return r;
        continue;
      }
    }
  }
  return { outcome: 'l2-running', why: 'program ended without an exit to L1' };
}

// L2 runs until its first exit to L1 (APM 15.9 "Instruction Intercepts"). Each instruction exits
// to L0 when vmcb02 intercepts it; L0 reflects it to L1 (nested_svm_exit_handled) when vmcb12
// intercepts it, else handles it for L2 (spec §5.3). Exceptions go to L1 when vmcb12 intercepts the
// vector. Memory-accessing L2 streams (MOV, string I/O, MMIO) live in src/engine/emulate/ with the
// nested-paging scenarios; this file runs the instructions that touch vmcb12/vmcb02 state.
//
// Every #VMEXIT from L2 to L0 goes through l2_exit_to_l0: the CPU writes the guest's interrupt
// shadow and NextRIP into vmcb02, then the tail of svm_vcpu_run copies the processor-written fields
// into the vmcb12 cache (the state KVM_GET_NESTED_STATE reports) before any exit handler runs.

import { CR0, EFER, EVTINJ, INTERCEPT, INT_STATE, RFLAGS, SEG_ATTR, VEC, isIntercept } from '../../arch/svm/defs.ts';
import { SVM_EXIT } from '../../arch/svm/exit_codes.ts';
import { has } from '../profiles.ts';
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
  vmmcall: 3n, hlt: 1n, cpuid: 2n, vmrun: 3n, clgi: 3n, stgi: 3n, ud2: 2n, int3: 1n, nop: 1n, sti: 1n,
  'emulated-pf': 0n, intr: 0n, 'userspace-delete-vmcb12-memslot': 0n,
};

/** #PF error code of the emulated access: a write (W) to a non-present page. */
const EMULATED_PF_ERROR_CODE = 0x2;

/** include/uapi/linux/kvm_para.h: hypercall numbers and return codes. */
const KVM_HC_VAPIC_POLL_IRQ = 1n;
const KVM_ENOSYS = 1000n;
const KVM_EPERM = 1n;

/** What the CPU holds for L2 between VM entries that vmcb02 does not show until the next exit. */
interface L2Cpu {
  /** STI/MOV SS blocking: the current instruction follows an STI that set IF (APM 15.21.5). */
  shadow: boolean;
}

/**
 * A VM entry into L2 (svm_vcpu_run): arch.cr2 is synced into vmcb02 and an injected event is
 * delivered by the CPU (APM 15.20: EVENTINJ.V is cleared once the event is taken). VMRUN loads the
 * interrupt shadow from int_state bit 0 (APM 15.21.5); delivering an event ends it.
 */
function l2_vmentry(ctx: Ctx, cpu: L2Cpu): void {
  const { v, t } = ctx;
  v.nested_run_pending = false;
  v.vmcb02.save.cr2 = v.regs.cr2;
  const c02 = v.vmcb02.control;
  cpu.shadow = (c02.int_state & INT_STATE.INTERRUPT_SHADOW) !== 0;
  if (c02.event_inj & EVTINJ.VALID) {
    t.emit('l2_event_delivered', { event_inj: c02.event_inj });
    c02.event_inj = 0;
    c02.event_inj_err = 0;
    v.nmi_l1_to_l2 = false;
    v.soft_int_injected = false;
    cpu.shadow = false;
  }
  nested_sync_control_from_vmcb02(ctx);
}

/**
 * nested_sync_control_from_vmcb02: processor-written fields back into the vmcb12 cache, which
 * nested_svm_vmexit and svm_get_nested_state read. int_state only with 1709418535a8 ("Sync
 * interrupt shadow to cached vmcb12 after VMRUN of L2"); torvalds ~v6.1 copied event_inj/err and
 * the int_ctl bits alone, so the cache kept vmcb12's int_state. V_IRQ is always synced here: L0's
 * VINTR takeover (which makes KVM skip V_IRQ) is not modelled.
 */
export function nested_sync_control_from_vmcb02(ctx: Ctx): void {
  const { v, p } = ctx;
  const c = v.nested.ctl;
  const c02 = v.vmcb02.control;
  c.event_inj = c02.event_inj;
  c.event_inj_err = c02.event_inj_err;
  if (has(p, 'svm-sync-int-state-to-cache')) c.int_state = c02.int_state;
  const mask = 0x10f; // V_IRQ | V_TPR
  c.int_ctl = ((c.int_ctl & ~mask) | (c02.int_ctl & mask)) >>> 0;
}

/**
 * A #VMEXIT from L2 to L0 and the rest of svm_vcpu_run. The CPU saves RIP, the interrupt shadow
 * (int_state bit 0, APM 15.21.5; bit 1, GUEST_INTERRUPT_MASK, is not modelled) and, on a host with
 * NRIPS, NextRIP (APM 15.7.1: the address of the next sequential instruction for instruction
 * intercepts). For exits with no instruction of their own (intr, emulated-pf) the model writes the
 * current RIP, as the engine always has for reflected exits. exit_code/exit_info are written only
 * when the exit is reflected (reflect). Then svm_vcpu_run, still in guest mode:
 * nested_sync_control_from_vmcb02, and after svm_complete_interrupts (whose soft-IRQ NextRIP
 * fix-up is not modelled) the NextRIP sync of 702ce67817de. The event is the state at that point,
 * the last one before an exit handler runs.
 */
function l2_exit_to_l0(ctx: Ctx, cpu: L2Cpu, exit_code: number | null, insnLen: bigint): void {
  const { v, t, p } = ctx;
  const c02 = v.vmcb02.control;
  c02.int_state = ((c02.int_state & ~INT_STATE.INTERRUPT_SHADOW) | (cpu.shadow ? INT_STATE.INTERRUPT_SHADOW : 0)) >>> 0;
  if (v.host.nrips) c02.next_rip = v.regs.rip + insnLen;
  v.vmcb02.save.rip = v.regs.rip;
  nested_sync_control_from_vmcb02(ctx);
  const c = v.nested.ctl;
  if (has(p, 'svm-sync-next-rip-to-cache')) c.next_rip = c02.next_rip;
  t.emit('svm_vcpu_run_l2_exit', {
    exit_code, rip: v.regs.rip,
    int_state_02: c02.int_state, int_state_12: c.int_state,
    next_rip_02: c02.next_rip, next_rip_12: c.next_rip,
    event_inj_02: c02.event_inj, event_inj_12: c.event_inj,
    event_inj_err_02: c02.event_inj_err, event_inj_err_12: c.event_inj_err,
    int_ctl_02: c02.int_ctl, int_ctl_12: c.int_ctl,
    vintr_l0: isIntercept(v.vmcb02.control.intercepts, INTERCEPT.VINTR) && !isIntercept(c.intercepts, INTERCEPT.VINTR),
  });
}

/**
 * kvm_skip_emulated_instruction for L2 (svm skip_emulated_instruction): RIP moves to NextRIP (or
 * past the decoded instruction) and svm_set_interrupt_shadow(0) clears vmcb02's shadow.
 */
function kvm_skip_emulated_instruction(ctx: Ctx, cpu: L2Cpu, len: bigint): void {
  const { v } = ctx;
  v.regs.rip += len;
  v.vmcb02.control.int_state = (v.vmcb02.control.int_state & ~INT_STATE.INTERRUPT_SHADOW) >>> 0;
  cpu.shadow = false;
}

/**
 * The #VMEXIT to L1 for an exit L0 routed there (nested_svm_exit_handled → nested_svm_vmexit);
 * the hardware exit to L0 (l2_exit_to_l0) came first.
 */
function reflect(ctx: Ctx, code: number, info1: bigint, info2: bigint): L2Result {
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
  nested_sync_control_from_vmcb02(ctx);
  nested_svm_vmexit(ctx);
  return { outcome: 'exit', exit_code: BigInt(code) };
}

/**
 * An exception L0 has queued for L2 (kvm_queue_exception, then svm_check_nested_events):
 * #VMEXIT(0x40+vector) iff vmcb12 intercepts it, else it is injected into L2.
 */
function l2_queued_exception(ctx: Ctx, vector: number): L2Result {
  const { v, t } = ctx;
  if (isIntercept(v.nested.ctl.intercepts, INTERCEPT.EXCEPTION_OFFSET + vector)) {
    // exit_info_1 carries the error code only for vectors that have one; #UD/#BP have none.
    return reflect(ctx, SVM_EXIT.EXCP_BASE + vector, v.vmcb02.control.exit_info_1, 0n);
  }
  t.emit('kvm_inj_exception_l2', { vector });
  return { outcome: 'l2-running', why: `L2 handles its own vector ${vector}` };
}

/**
 * An exception raised by an L2 instruction. vmcb02 intercepts it when vmcb01 or vmcb12 does; L0
 * handles the exit (its own intercept wins, nested_svm_exit_special) and queues the exception back,
 * so it reaches L1 iff vmcb12 intercepts it. A vector vmcb02 does not intercept is delivered in L2
 * by the CPU.
 */
function l2_exception(ctx: Ctx, cpu: L2Cpu, vector: number, len: bigint): L2Result {
  if (isIntercept(ctx.v.vmcb02.control.intercepts, INTERCEPT.EXCEPTION_OFFSET + vector)) {
    l2_exit_to_l0(ctx, cpu, SVM_EXIT.EXCP_BASE + vector, len);
  }
  return l2_queued_exception(ctx, vector);
}

/**
 * kvm_emulate_hypercall with L2's registers: what an L2 VMMCALL that vmcb12 does not intercept
 * did whenever vmcb02 intercepted VMMCALL before c36991c6f8d2 (L1 had enabled the Hyper-V L2 TLB
 * flush, 3f4a812edf5c; and every nested guest before 0d945bd93511). L0 runs it as its own KVM
 * hypercall on behalf of L2: nr = RAX (low 32 bits outside 64-bit mode), CPL > 0 → -KVM_EPERM,
 * KVM_HC_VAPIC_POLL_IRQ → 0, anything else → -KVM_ENOSYS; RAX ← ret (truncated to 32 bits outside
 * 64-bit mode), then kvm_skip_emulated_instruction and L2 resumes after the VMMCALL. The PV
 * hypercalls that act on other vCPUs or exit to userspace (KICK_CPU, CLOCK_PAIRING, SEND_IPI,
 * SCHED_YIELD, MAP_GPA_RANGE) are not modelled and return -KVM_ENOSYS here; so are the Xen and
 * Hyper-V dispatch that kvm_emulate_hypercall tries first (no scenario enables either).
 */
function kvm_emulate_hypercall_l2(ctx: Ctx, cpu: L2Cpu, len: bigint): void {
  const { v, t } = ctx;
  const s02 = v.vmcb02.save;
  const op64 = (v.regs.efer & EFER.LMA) !== 0n && (s02.cs.attrib & SEG_ATTR.L) !== 0;
  const nr = op64 ? v.regs.rax : v.regs.rax & 0xffffffffn;
  let ret = -KVM_ENOSYS;
  if (s02.cpl !== 0) ret = -KVM_EPERM;
  else if (nr === KVM_HC_VAPIC_POLL_IRQ) ret = 0n;
  v.regs.rax = BigInt.asUintN(op64 ? 64 : 32, ret);
  t.emit('kvm_hypercall_l2', { nr, ret: v.regs.rax, cpl: s02.cpl, op_64_bit: op64 });
  kvm_skip_emulated_instruction(ctx, cpu, len);
}

export function run_l2(ctx: Ctx, program: readonly L2Insn[]): L2Result {
  const { v, t, p } = ctx;
  if (!v.guest_mode || v.current !== '02') return { outcome: 'not-in-guest-mode' };
  const c = v.nested.ctl;
  const i02 = v.vmcb02.control.intercepts;
  const prog = program.length ? program : [{ op: 'vmmcall' } as L2Insn];
  const cpu: L2Cpu = { shadow: false };
  let entered = false;
  for (const insn of prog) {
    const len = INSN_LEN[insn.op];
    // An interrupt is recognised before the next VM entry (svm_check_nested_events); everything
    // else runs in L2, so L0 enters L2 first.
    if (insn.op !== 'intr' || !entered) {
      if (!entered || v.vmcb02.control.event_inj & EVTINJ.VALID || v.vmcb02.save.cr2 !== v.regs.cr2) l2_vmentry(ctx, cpu);
      entered = true;
    }
    t.emit('l2_insn', { op: insn.op, rip: v.regs.rip });
    switch (insn.op) {
      case 'userspace-delete-vmcb12-memslot':
        t.emit('kvm_set_user_memory_region', { deleted: v.mem.deleteMemslotAt(v.nested.vmcb12_gpa), gpa: v.nested.vmcb12_gpa });
        continue;
      case 'intr':
        if (isIntercept(c.intercepts, INTERCEPT.INTR)) {
          l2_exit_to_l0(ctx, cpu, SVM_EXIT.INTR, 0n);
          return reflect(ctx, SVM_EXIT.INTR, 0n, 0n);
        }
        // L0 took the interrupt's exit (INTR is always L0's, nested_svm_exit_special) and injects
        // it into L2 on the next entry.
        l2_exit_to_l0(ctx, cpu, SVM_EXIT.INTR, 0n);
        l2_vmentry(ctx, cpu);
        t.emit('l2_interrupt_delivered', {});
        continue;
      case 'emulated-pf':
        // The exit that made L0 emulate the access (its code is not modelled: an #NPF or an
        // intercepted instruction), then the emulator's #PF.
        l2_exit_to_l0(ctx, cpu, null, 0n);
        if (isIntercept(c.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.PF)) {
          return reflect(ctx, SVM_EXIT.EXCP_BASE + VEC.PF, BigInt(EMULATED_PF_ERROR_CODE), EMULATED_PF_ADDR);
        }
        // kvm_inject_emulated_page_fault → the payload (CR2) is delivered as the #PF is injected.
        v.regs.cr2 = EMULATED_PF_ADDR;
        v.vmcb02.control.event_inj = (EVTINJ.VALID | EVTINJ.TYPE_EXEPT | EVTINJ.VALID_ERR | VEC.PF) >>> 0;
        v.vmcb02.control.event_inj_err = EMULATED_PF_ERROR_CODE;
        t.emit('kvm_inj_exception_l2', { vector: VEC.PF, cr2: EMULATED_PF_ADDR });
        continue;
      case 'nop':
        v.regs.rip += len;
        cpu.shadow = false;
        continue;
      case 'sti': {
        // STI is never intercepted (SVM has no STI intercept). It #GPs when CPL > IOPL in
        // protected mode (virtual-8086 included: CPL 3; the VME/PVI variants are not modelled).
        const iopl = Number((v.regs.rflags >> 12n) & 3n);
        if ((v.regs.cr0 & CR0.PE) !== 0n && v.vmcb02.save.cpl > iopl) {
          if (isIntercept(i02, INTERCEPT.EXCEPTION_OFFSET + VEC.GP)) {
            l2_exit_to_l0(ctx, cpu, SVM_EXIT.EXCP_BASE + VEC.GP, len);
            if (isIntercept(c.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.GP)) return reflect(ctx, SVM_EXIT.EXCP_BASE + VEC.GP, 0n, 0n);
          }
          t.emit('kvm_inj_exception_l2', { vector: VEC.GP, error_code: 0 });
          return { outcome: 'l2-running', why: 'L2 handles its own #GP from STI' };
        }
        // The shadow covers the next instruction only if STI is what set IF (APM 15.21.5).
        cpu.shadow = (v.regs.rflags & RFLAGS.IF) === 0n;
        v.regs.rflags |= RFLAGS.IF;
        v.regs.rip += len;
        continue;
      }
      case 'vmmcall': {
        if (!isIntercept(i02, INTERCEPT.VMMCALL)) {
          // Only without 33d3617a52f9 (vmcb02 lost L0's VMMCALL intercept and vmcb12 has none):
          // VMMCALL #UDs in the CPU (APM: VMMCALL not intercepted → #UD). L0 always intercepts #UD
          // and keeps it (nested_svm_exit_special); handle_ud's emulator runs em_hypercall, whose
          // emulator_fix_hypercall (KVM_X86_QUIRK_FIX_HYPERCALL_INSN, on by default and assumed
          // here) rewrites the bytes to VMMCALL, i.e. leaves them as they are, and restarts L2 at
          // the same RIP: an endless stream of #UDs that neither L1 nor L2 ever sees (33d3617a52f9
          // changelog).
          l2_exit_to_l0(ctx, cpu, SVM_EXIT.EXCP_BASE + VEC.UD, len);
          t.emit('l2_vmmcall_ud_loop', { rip: v.regs.rip });
          return { outcome: 'l2-running', why: 'L2 VMMCALL #UDs and is restarted forever (emulator_fix_hypercall)' };
        }
        l2_exit_to_l0(ctx, cpu, SVM_EXIT.VMMCALL, len);
        if (isIntercept(c.intercepts, INTERCEPT.VMMCALL)) return reflect(ctx, SVM_EXIT.VMMCALL, 0n, 0n);
        // vmmcall_interception. The Hyper-V L2 TLB-flush hypercall, which L0 still handles itself
        // (nested_svm_is_l2_tlb_flush_hcall), is not modelled: no scenario enables Hyper-V.
        if (has(p, 'svm-l2-vmmcall-ud')) return l2_queued_exception(ctx, VEC.UD); // c36991c6f8d2
        kvm_emulate_hypercall_l2(ctx, cpu, len);
        continue;
      }
      case 'hlt':
        // HLT is privileged (#GP(0) at CPL > 0 in protected mode), and a simple exception such as
        // a CPL check comes before the instruction intercept (APM vol.2 15.9). The CPU takes CPL
        // from the VMCB's CPL field (APM 15.5.1), which KVM copies from vmcb12.
        if ((v.regs.cr0 & CR0.PE) !== 0n && v.vmcb02.save.cpl !== 0) return l2_exception(ctx, cpu, VEC.GP, len);
        l2_exit_to_l0(ctx, cpu, SVM_EXIT.HLT, len);
        if (isIntercept(c.intercepts, INTERCEPT.HLT)) return reflect(ctx, SVM_EXIT.HLT, 0n, 0n);
        kvm_skip_emulated_instruction(ctx, cpu, len); // kvm_emulate_halt skips, then blocks
        return { outcome: 'l2-halted' };
      case 'cpuid':
        l2_exit_to_l0(ctx, cpu, SVM_EXIT.CPUID, len);
        if (isIntercept(c.intercepts, INTERCEPT.CPUID)) return reflect(ctx, SVM_EXIT.CPUID, 0n, 0n);
        kvm_skip_emulated_instruction(ctx, cpu, len); // L0 emulates CPUID for L2
        continue;
      case 'vmrun':
        l2_exit_to_l0(ctx, cpu, SVM_EXIT.VMRUN, len);
        if (isIntercept(c.intercepts, INTERCEPT.VMRUN)) return reflect(ctx, SVM_EXIT.VMRUN, 0n, 0n);
        // Only reachable when L2 runs without the VMRUN intercept (CVE-2021-29657): L0 would emulate
        // L2's VMRUN as if L1 executed it.
        t.warn('nested_svm_vmrun reached from L2: vmcb12 VMRUN intercept missing in guest mode');
        return { outcome: 'l2-vmrun-emulated' };
      case 'clgi':
      case 'stgi': {
        const bit = insn.op === 'clgi' ? INTERCEPT.CLGI : INTERCEPT.STGI;
        const code = insn.op === 'clgi' ? SVM_EXIT.CLGI : SVM_EXIT.STGI;
        if (!isIntercept(i02, bit)) {
          // Virtual GIF: the CPU runs it for L2 without an exit.
          v.regs.rip += len;
          cpu.shadow = false;
          continue;
        }
        l2_exit_to_l0(ctx, cpu, code, len);
        if (isIntercept(c.intercepts, bit)) return reflect(ctx, code, 0n, 0n);
        svm_set_gif(ctx, insn.op === 'stgi'); // L0 emulates for L2
        kvm_skip_emulated_instruction(ctx, cpu, len);
        continue;
      }
      case 'ud2':
        return l2_exception(ctx, cpu, VEC.UD, len);
      case 'int3':
        return l2_exception(ctx, cpu, VEC.BP, len);
    }
  }
  return { outcome: 'l2-running', why: 'program ended without an exit to L1' };
}

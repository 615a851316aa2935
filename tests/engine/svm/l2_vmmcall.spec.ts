// An L2 VMMCALL L1 does not intercept (spec §7 row 26): #UD in L2 on kvm-next, an L0 hypercall
// without c36991c6f8d2, an endless #UD loop without 33d3617a52f9. Directed cases for the engine and
// for l2-vmmcall-routing on kvm-next and on both bug profiles.
import { describe, expect, it } from 'vitest';
import { property } from '../../../properties/svm/l2-vmmcall-routing.ts';
import { INTERCEPT, VEC, clrIntercept, isIntercept, setIntercept } from '../../../src/arch/svm/defs.ts';
import { baseScenario, DEFAULT_BASE } from '../../../src/arbitraries/_internals/builders/baseScenario.ts';
import { L2_RIP } from '../../../src/arbitraries/_internals/builders/defaultL1.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { run } from '../../../src/engine/svm/run.ts';
import type { L2Insn, SvmScenario } from '../../../src/engine/svm/scenario.ts';
import type { SvmCase } from '../../../properties/types.ts';

const kvmNext = getProfile('kvm-next') as Profile;
const hypercallBug = getProfile('l2-vmmcall-hypercall') as Profile;
const udLoopBug = getProfile('l2-vmmcall-ud-loop') as Profile;
const linux61 = getProfile('linux-6.1') as Profile;

/** The valid base (HLT intercepted), vmcb12 intercepting neither VMMCALL nor (unless asked) #UD. */
function scenario(l2: L2Insn[], opts: { vmmcall?: boolean; ud?: boolean } = {}): SvmScenario {
  const s = baseScenario({ ...DEFAULT_BASE, vmmcallIntercept: opts.vmmcall ?? false, udIntercept: opts.ud ?? false });
  s.l2 = l2;
  return s;
}

const asCase = (s: SvmScenario): SvmCase => ({ scenario: s, base: s, mutations: [] });
const verdict = (s: SvmScenario, p: Profile) => property.predicate(asCase(s), { profile: p, strictArch: false });

describe('L2 VMMCALL', () => {
  describe('on kvm-next', () => {
    it('should exit to L1 with VMMCALL when vmcb12 intercepts it', () => {
      const r = run(scenario([{ op: 'vmmcall' }], { vmmcall: true }), kvmNext);
      expect(r.l2_exit_code).toBe(0x81n);
      expect(verdict(scenario([{ op: 'vmmcall' }], { vmmcall: true }), kvmNext)).toEqual({ ok: true });
    });

    it('should keep L0\'s VMMCALL intercept in vmcb02 though vmcb12 has none (33d3617a52f9)', () => {
      const r = run(scenario([{ op: 'vmmcall' }]), kvmNext);
      expect(isIntercept(r.entry_vmcb02!.control.intercepts, INTERCEPT.VMMCALL)).toBe(true);
      expect(isIntercept(r.entry_ctl!.intercepts, INTERCEPT.VMMCALL)).toBe(false);
    });

    it('should reflect #VMEXIT(#UD) when vmcb12 intercepts #UD but not VMMCALL', () => {
      const s = scenario([{ op: 'vmmcall' }, { op: 'hlt' }], { ud: true });
      const r = run(s, kvmNext);
      expect(r.l2_exit_code).toBe(0x46n);
      expect(r.trace.has('kvm_hypercall_l2')).toBe(false);
      // L2 stopped at the VMMCALL: vmcb12 reports its RIP, NextRIP past it.
      expect(r.after.vmcb12!.save.rip).toBe(L2_RIP);
      expect(r.after.vmcb12!.control.next_rip).toBe(L2_RIP + 3n);
      expect(verdict(s, kvmNext)).toEqual({ ok: true });
    });

    it('should inject #UD into L2 when vmcb12 intercepts neither', () => {
      const s = scenario([{ op: 'vmmcall' }, { op: 'hlt' }]);
      const r = run(s, kvmNext);
      expect(r.l2).toMatchObject({ outcome: 'l2-running' });
      expect(r.trace.events.some((e) => e.ev === 'kvm_inj_exception_l2' && e.vector === VEC.UD)).toBe(true);
      expect(r.after.regs.rip).toBe(L2_RIP);
      expect(verdict(s, kvmNext)).toEqual({ ok: true });
    });
  });

  describe('without c36991c6f8d2 (l2-vmmcall-hypercall)', () => {
    it('should run the VMMCALL as L0\'s hypercall: RAX = -KVM_ENOSYS, RIP past it, L2 goes on to its HLT', () => {
      const s = scenario([{ op: 'vmmcall' }, { op: 'hlt' }]);
      const r = run(s, hypercallBug);
      expect(r.trace.find('kvm_hypercall_l2')).toMatchObject({ nr: 0n, cpl: 0, op_64_bit: true });
      expect(r.l2_exit_code).toBe(0x78n); // the HLT after it, intercepted by vmcb12
      expect(r.after.vmcb12!.save.rax).toBe(BigInt.asUintN(64, -1000n));
      expect(r.after.vmcb12!.save.rip).toBe(L2_RIP + 3n);
    });

    it('should answer -KVM_EPERM to an L2 at CPL 3 and 0 to KVM_HC_VAPIC_POLL_IRQ', () => {
      const user = scenario([{ op: 'vmmcall' }, { op: 'hlt' }]);
      user.vmcb12.save.cpl = 3;
      // At CPL 3 the HLT after it #GPs before its intercept is checked (APM 15.9): L1 sees the #GP.
      setIntercept(user.vmcb12.control.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.GP);
      const r = run(user, hypercallBug);
      expect(r.l2_exit_code).toBe(0x4dn);
      expect(r.after.vmcb12!.save.rax).toBe(BigInt.asUintN(64, -1n));
      const poll = scenario([{ op: 'vmmcall' }, { op: 'hlt' }]);
      poll.vmcb12.save.rax = 1n;
      expect(run(poll, hypercallBug).after.vmcb12!.save.rax).toBe(0n);
    });

    it('should fail l2-vmmcall-routing, and hold on kvm-next for the same scenario', () => {
      const s = scenario([{ op: 'vmmcall' }]);
      expect(verdict(s, hypercallBug)).toMatchObject({ ok: false, code: 'vmmcall-ran-as-hypercall' });
      expect(verdict(s, kvmNext)).toEqual({ ok: true });
    });

    it('should leave an intercepted VMMCALL alone (it still exits to L1)', () => {
      expect(run(scenario([{ op: 'vmmcall' }], { vmmcall: true }), hypercallBug).l2_exit_code).toBe(0x81n);
    });
  });

  describe('without 33d3617a52f9 (l2-vmmcall-ud-loop, and linux-6.1)', () => {
    it('should drop VMMCALL from vmcb02 and leave L2 in an endless #UD loop', () => {
      for (const p of [udLoopBug, linux61]) {
        const r = run(scenario([{ op: 'vmmcall' }, { op: 'hlt' }], { ud: true }), p);
        expect(isIntercept(r.entry_vmcb02!.control.intercepts, INTERCEPT.VMMCALL)).toBe(false);
        expect(r.trace.has('l2_vmmcall_ud_loop')).toBe(true);
        expect(r.l2_exit_code).toBeNull();
        expect(r.after.regs.rip).toBe(L2_RIP);
      }
    });

    it('should fail l2-vmmcall-routing whether or not L1 intercepts #UD', () => {
      expect(verdict(scenario([{ op: 'vmmcall' }], { ud: true }), udLoopBug)).toMatchObject({ ok: false, code: 'ud-not-reflected' });
      expect(verdict(scenario([{ op: 'vmmcall' }]), udLoopBug)).toMatchObject({ ok: false, code: 'no-ud-in-l2' });
    });

    it('should still reflect a VMMCALL that vmcb12 intercepts (its bit is ORed back in)', () => {
      const s = scenario([{ op: 'vmmcall' }], { vmmcall: true });
      expect(run(s, udLoopBug).l2_exit_code).toBe(0x81n);
      expect(verdict(s, udLoopBug)).toEqual({ ok: true });
    });
  });

  it('should build the base with vmcb12\'s VMMCALL intercept unless the choice drops it', () => {
    const dflt = baseScenario(DEFAULT_BASE).vmcb12.control.intercepts;
    expect(isIntercept(dflt, INTERCEPT.VMMCALL)).toBe(true);
    expect(isIntercept(dflt, INTERCEPT.EXCEPTION_OFFSET + VEC.UD)).toBe(false);
    const i = scenario([]).vmcb12.control.intercepts;
    const want = [...dflt];
    clrIntercept(want, INTERCEPT.VMMCALL);
    expect(i).toEqual(want);
    const j = scenario([], { ud: true }).vmcb12.control.intercepts;
    setIntercept(want, INTERCEPT.EXCEPTION_OFFSET + VEC.UD);
    expect(j).toEqual(want);
  });
});

// The processor-written vmcb02 fields on an L2 → L0 exit (interrupt shadow, NextRIP) and their sync
// into the vmcb12 cache at the end of svm_vcpu_run (spec §7 row 18): directed cases for the engine
// and for nested-cache-synced on kvm-next and on both bug profiles.
import { describe, expect, it } from 'vitest';
import { property } from '../../../properties/svm/nested-cache-synced.ts';
import type { SvmCase } from '../../../properties/types.ts';
import { RFLAGS } from '../../../src/arch/svm/defs.ts';
import { baseScenario, DEFAULT_BASE } from '../../../src/arbitraries/_internals/builders/baseScenario.ts';
import { L2_RIP } from '../../../src/arbitraries/_internals/builders/defaultL1.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { run } from '../../../src/engine/svm/run.ts';
import type { L2Insn, SvmScenario } from '../../../src/engine/svm/scenario.ts';
import type { TraceEvent } from '../../../src/engine/trace.ts';

const kvmNext = getProfile('kvm-next') as Profile;
const unified = getProfile('unified') as Profile;
const intStateBug = getProfile('int-state-not-synced') as Profile;
const nextRipBug = getProfile('next-rip-not-synced') as Profile;

/** The valid base: vmcb12 intercepts VMRUN, VMMCALL and HLT but not CPUID; L2 starts with IF = 0. */
function scenario(l2: L2Insn[], nrips = true): SvmScenario {
  const s = baseScenario({ ...DEFAULT_BASE, nrips });
  s.l2 = l2;
  return s;
}

const asCase = (s: SvmScenario): SvmCase => ({ scenario: s, base: s, mutations: [] });
const verdict = (s: SvmScenario, p: Profile) => property.predicate(asCase(s), { profile: p, strictArch: false });
const exits = (events: TraceEvent[]) => events.filter((e) => e.ev === 'svm_vcpu_run_l2_exit');

describe('L2 exits to L0 and the vmcb12 cache', () => {
  it('should start L2 with IF clear in the base, so STI opens a shadow', () => {
    expect(scenario([]).vmcb12.save.rflags & RFLAGS.IF).toBe(0n);
  });

  describe('on kvm-next', () => {
    it('should write the STI shadow and NextRIP into vmcb02 at the CPUID exit, and sync both into the cache', () => {
      const r = run(scenario([{ op: 'sti' }, { op: 'cpuid' }, { op: 'hlt' }]), kvmNext);
      const [cpuid, hlt] = exits(r.trace.events);
      expect(cpuid).toMatchObject({ exit_code: 0x72, rip: L2_RIP + 1n, int_state_02: 1, int_state_12: 1, next_rip_02: L2_RIP + 3n, next_rip_12: L2_RIP + 3n });
      // L0 emulated CPUID: kvm_skip_emulated_instruction ended the shadow, the HLT exit has none.
      expect(hlt).toMatchObject({ exit_code: 0x78, int_state_02: 0, int_state_12: 0, next_rip_02: L2_RIP + 4n, next_rip_12: L2_RIP + 4n });
      expect(r.l2_exit_code).toBe(0x78n);
      expect(r.after.vmcb12!.control.int_state).toBe(0);
      expect(r.after.vmcb12!.save.rflags & RFLAGS.IF).toBe(RFLAGS.IF);
    });

    it('should report the shadow to L1 when the instruction after STI exits to L1 (vmcb12.int_state = 1)', () => {
      const r = run(scenario([{ op: 'sti' }, { op: 'hlt' }]), kvmNext);
      expect(r.l2_exit_code).toBe(0x78n);
      expect(r.after.vmcb12!.control.int_state).toBe(1);
      expect(r.after.vmcb12!.control.next_rip).toBe(L2_RIP + 2n);
    });

    it('should open no shadow for an STI with IF already set, and close it after a NOP', () => {
      const ifSet = scenario([{ op: 'sti' }, { op: 'hlt' }]);
      ifSet.vmcb12.save.rflags |= RFLAGS.IF;
      expect(run(ifSet, kvmNext).after.vmcb12!.control.int_state).toBe(0);
      expect(run(scenario([{ op: 'sti' }, { op: 'nop' }, { op: 'hlt' }]), kvmNext).after.vmcb12!.control.int_state).toBe(0);
    });

    it('should not write NextRIP without host NRIPS', () => {
      const r = run(scenario([{ op: 'cpuid' }, { op: 'hlt' }], false), kvmNext);
      for (const e of exits(r.trace.events)) expect(e.next_rip_02).toBe(0n);
    });

    it('should hold nested-cache-synced on kvm-next and unified', () => {
      for (const l2 of [[{ op: 'sti' }, { op: 'cpuid' }, { op: 'hlt' }], [{ op: 'cpuid' }, { op: 'vmmcall' }], [{ op: 'emulated-pf' }, { op: 'cpuid' }, { op: 'hlt' }]] as L2Insn[][]) {
        expect(verdict(scenario(l2), kvmNext)).toEqual({ ok: true });
        expect(verdict(scenario(l2), unified)).toEqual({ ok: true });
      }
    });
  });

  describe('without 1709418535a8 (int-state-not-synced)', () => {
    it('should leave vmcb12\'s int_state in the cache while vmcb02 holds the STI shadow', () => {
      const s = scenario([{ op: 'sti' }, { op: 'cpuid' }, { op: 'hlt' }]);
      const [cpuid] = exits(run(s, intStateBug).trace.events);
      expect(cpuid).toMatchObject({ int_state_02: 1, int_state_12: 0 });
      expect(verdict(s, intStateBug)).toMatchObject({ ok: false, code: 'int-state-stale' });
      expect(verdict(s, kvmNext)).toEqual({ ok: true });
    });

    it('should still hand L1 the shadow on a reflected exit (nested_svm_vmexit reads vmcb02)', () => {
      expect(run(scenario([{ op: 'sti' }, { op: 'hlt' }]), intStateBug).after.vmcb12!.control.int_state).toBe(1);
    });
  });

  describe('without 702ce67817de (next-rip-not-synced)', () => {
    it('should leave vmcb12\'s next_rip in the cache after the CPU wrote vmcb02\'s', () => {
      const s = scenario([{ op: 'cpuid' }, { op: 'hlt' }]);
      const [cpuid] = exits(run(s, nextRipBug).trace.events);
      expect(cpuid).toMatchObject({ next_rip_02: L2_RIP + 2n, next_rip_12: 0n });
      expect(verdict(s, nextRipBug)).toMatchObject({ ok: false, code: 'next-rip-stale' });
      expect(verdict(s, kvmNext)).toEqual({ ok: true });
    });

    it('should hold when the host has no NRIPS (the CPU writes no NextRIP to go stale)', () => {
      expect(verdict(scenario([{ op: 'cpuid' }, { op: 'hlt' }], false), nextRipBug)).toEqual({ ok: true });
    });
  });
});

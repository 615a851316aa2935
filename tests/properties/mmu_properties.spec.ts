// The nested-fault invariants: each holds on kvm-next for generated cases, catches the bug profiles
// that list it, and the parity invariant reports its listed divergences only under --strict-arch.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROPERTY_LIST } from '../../properties/index.ts';
import { property as parity } from '../../properties/mmu/hardware-emulation-parity.ts';
import { property as neverStale } from '../../properties/vmx/ept-qual-never-stale.ts';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE } from '../../src/arbitraries/nestedFault.ts';
import { bugProfiles, getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';

const kvm = getProfile('kvm-next') as Profile;
const mmu = PROPERTY_LIST.filter((p) => p.area === 'mmu');

describe('nested-fault invariants', () => {
  for (const p of mmu) {
    it(`${p.id} holds on kvm-next`, () => {
      fc.assert(fc.property(p.arbitrary(), (c) => p.predicate(c, { profile: kvm, strictArch: false }).ok), { numRuns: 400, seed: 0x7e57 });
    });
  }

  for (const b of bugProfiles().filter((x) => x.arch === 'mmu')) {
    for (const id of b.caughtBy ?? []) {
      const p = PROPERTY_LIST.find((q) => q.id === id);
      it(`${id} catches ${b.name}`, () => {
        expect(p, `property ${id} is registered`).toBeDefined();
        const r = fc.check(fc.property(p!.arbitrary(), (c) => p!.predicate(c, { profile: b, strictArch: false }).ok), { numRuns: 20000, seed: 11 });
        expect(r.failed).toBe(true);
      });
    }
  }

  it('a synthesized EPT violation after an I/O exit is the same whatever vmcs02 held (directed)', () => {
    const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, flavour: 'vmx', stale: [0x181n, 0x1234n, 0x5678n] }, [['tdp-table-missing', 0]]);
    expect(neverStale.predicate(c, { profile: kvm, strictArch: false }).ok).toBe(true);
    const v = neverStale.predicate(c, { profile: getProfile('ept-gva-bits-stale') as Profile, strictArch: false });
    expect(v.ok).toBe(false);
  });

  it('hardware-emulation-parity fails (unlisted) when a synthesized fault takes stale GVA bits (ept-gva-bits-stale)', () => {
    const r = fc.check(fc.property(parity.arbitrary(), (c) => parity.predicate(c, { profile: getProfile('ept-gva-bits-stale') as Profile, strictArch: false }).ok), { numRuns: 20000, seed: 5 });
    expect(r.failed).toBe(true);
    const v = parity.predicate(r.counterexample![0], { profile: getProfile('ept-gva-bits-stale') as Profile, strictArch: false });
    expect(v.ok ? null : v.code).toBe('parity');
  });

  it('mmu-no-warn fails when no fault stage reaches the #NPF injector (walker-no-fault-stage)', () => {
    const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE }, [['tdp-table-missing', 0]]);
    const warn = PROPERTY_LIST.find((p) => p.id === 'mmu-no-warn')!;
    expect(warn.predicate(c, { profile: kvm, strictArch: false }).ok).toBe(true);
    const v = warn.predicate(c, { profile: getProfile('walker-no-fault-stage') as Profile, strictArch: false });
    expect(v.ok ? null : v.code).toBe('warn');
  });

  it('hardware-emulation-parity: the page-aligned GPA of a synthesized fault is listed, reported under --strict-arch', () => {
    const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, offset: 0x128 }, [['tdp-final-missing', 0]]);
    expect(parity.predicate(c, { profile: kvm, strictArch: false }).ok).toBe(true);
    const v = parity.predicate(c, { profile: kvm, strictArch: true });
    expect(v.ok ? null : v.code).toBe('listed-divergence');
  });
});

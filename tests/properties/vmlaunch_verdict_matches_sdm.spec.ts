// vmlaunch-verdict-matches-sdm: holds on kvm-next, catches every bug profile that lists it, and
// reports a listed deviation only under --strict-arch.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { property } from '../../properties/vmx/vmlaunch-verdict-matches-sdm.ts';
import { buildVmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { DEFAULT_VMX_BASE } from '../../src/arbitraries/_internals/builders/baseVmxScenario.ts';
import { bugProfiles, getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { memKey } from '../../src/engine/vmx/scenario.ts';

const kvm = getProfile('kvm-next') as Profile;

describe('vmlaunch-verdict-matches-sdm', () => {
  it('holds on kvm-next for generated cases', () => {
    fc.assert(fc.property(property.arbitrary(), (c) => property.predicate(c, { profile: kvm, strictArch: false }).ok), { numRuns: 1500, seed: 0x5d3 });
  });

  for (const p of bugProfiles().filter((b) => b.caughtBy?.includes('vmlaunch-verdict-matches-sdm'))) {
    it(`catches ${p.name}`, () => {
      const r = fc.check(fc.property(property.arbitrary(), (c) => property.predicate(c, { profile: p, strictArch: false }).ok), { numRuns: 20000, seed: 7 });
      expect(r.failed).toBe(true);
      const verdict = property.predicate(r.counterexample![0], { profile: p, strictArch: false });
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) expect(verdict.code).toBe('verdict-mismatch');
    });
  }

  it('a listed order difference (KVM exit 34 where the SDM says 33) holds, and fails under --strict-arch', () => {
    const c = buildVmxCase(DEFAULT_VMX_BASE, []);
    const v = c.scenario.vmcs12;
    v.guest_tr_ar_bytes = 0x0083; // a TR type the CPU refuses in IA-32e mode (SDM §27.3.1.2)
    v.vm_entry_msr_load_addr = 0x1b000n;
    v.vm_entry_msr_load_count = 1;
    c.scenario.mem[memKey(0x1b000n)] = 0xc0000100n; // FS_BASE may not be in the list (SDM §27.4)
    expect(property.predicate(c, { profile: kvm, strictArch: false }).ok).toBe(true);
    const strict = property.predicate(c, { profile: kvm, strictArch: true });
    expect(strict.ok).toBe(false);
    if (!strict.ok) expect(strict.code).toBe('listed-deviation');
  });
});

// permission-fault-matches-sdm over its whole input space rather than a sample: every paging control
// and EFLAGS.AC, every access kind the arbitrary draws (user/supervisor read, write, fetch; implicit
// supervisor read, write), every leaf-rights value 0..15, and every AD/WD pair of the leaf's key. Only
// the leaf key's two PKRU bits can matter (SDM §4.6.2), so each combination is run twice: key 0 with
// every other key's bits clear, and key 9 with every other key's bits set.

import { describe, expect, it } from 'vitest';
import { property } from '../../properties/mmu/permission-fault-matches-sdm.ts';
import { ACCESS_RULES, sdmAccessRights } from '../../properties/mmu/_spec/access_rights.ts';
import type { PermissionCase } from '../../properties/types.ts';
import { BASE_PERMISSION_SCENARIO, PERMISSION_ACCESSES, pkruWith } from '../../src/arbitraries/permissionCase.ts';
import type { PermissionScenario } from '../../src/engine/mmu/permission_check.ts';
import { PFERR } from '../../src/engine/mmu/types.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';

const BOOLS = ['cr0_wp', 'cr4_smep', 'cr4_smap', 'cr4_pke', 'efer_nx', 'efer_lma', 'rflags_ac'] as const;
/** [pkey, the other keys' PKRU bits]. */
const KEY_VARIANTS: readonly [number, number][] = [[0, 0], [9, 0xffffffff]];

function* allScenarios(): Generator<PermissionScenario> {
  for (let b = 0; b < 1 << BOOLS.length; b++) {
    const flags = Object.fromEntries(BOOLS.map((k, i) => [k, ((b >> i) & 1) === 1])) as Record<(typeof BOOLS)[number], boolean>;
    for (const pfec of PERMISSION_ACCESSES) {
      for (let pte_access = 0; pte_access < 16; pte_access++) {
        for (const [pkey, noise] of KEY_VARIANTS) {
          for (let keyBits = 0; keyBits < 4; keyBits++) {
            yield { arch: 'mmu-perm', ...flags, pfec, pte_access, pkey, pkru: pkruWith(pkey, keyBits, noise) };
          }
        }
      }
    }
  }
}

const EXPECTED = 128 * PERMISSION_ACCESSES.length * 16 * KEY_VARIANTS.length * 4;

function sweep(profile: Profile): { checked: number; mismatches: PermissionScenario[] } {
  let checked = 0;
  const mismatches: PermissionScenario[] = [];
  for (const scenario of allScenarios()) {
    const c: PermissionCase = { scenario, base: BASE_PERMISSION_SCENARIO, mutations: [] };
    if (!property.predicate(c, { profile, strictArch: false }).ok) mismatches.push(scenario);
    checked++;
  }
  return { checked, mismatches };
}

describe('permission-fault-matches-sdm, exhaustively', () => {
  it('kvm-next agrees with SDM §4.6 on every combination', () => {
    const t0 = performance.now();
    const { checked, mismatches } = sweep(getProfile('kvm-next') as Profile);
    const ms = performance.now() - t0;
    console.log(`permission-fault-matches-sdm: ${checked} combinations checked on kvm-next in ${ms.toFixed(0)} ms, ${mismatches.length} mismatches`);
    expect(checked).toBe(EXPECTED); // 131072
    expect(mismatches.slice(0, 3)).toEqual([]);
  });

  it('every SDM rule decides some combination, and PK is set on some faults only', () => {
    const decided = new Set<string>();
    let pk = 0;
    let faults = 0;
    for (const s of allScenarios()) {
      const v = sdmAccessRights(s);
      decided.add(v.rule);
      if (v.fault) faults++;
      if (v.pk) pk++;
    }
    expect([...decided].sort()).toEqual([...ACCESS_RULES.map((r) => r.id), 'allowed'].sort());
    expect(pk).toBeGreaterThan(0);
    expect(pk).toBeLessThan(faults);
  });

  it('mutant-smap-ignores-implicit: the mismatches are exactly implicit user-page accesses under SMAP with EFLAGS.AC=1', () => {
    const { mismatches } = sweep(getProfile('mutant-smap-ignores-implicit') as Profile);
    expect(mismatches.length).toBeGreaterThan(0);
    for (const s of mismatches) {
      expect((s.pfec & PFERR.IMPLICIT_ACCESS) !== 0n && s.cr4_smap && s.rflags_ac && (s.pte_access & 4) !== 0).toBe(true);
      // The only rule KVM's mutant skips is SMAP.
      expect(sdmAccessRights(s).rule).toBe('smap');
    }
  });
});

// permissionCase(): one permission_fault check drawn over its whole input space (issue #6). Every
// paging control and EFLAGS.AC is a free bool, the leaf's rights take all 16 values, and the access
// is one of the accesses a CPU makes: a read, write or fetch at CPL 3 (user) or CPL < 3
// (supervisor), or an implicit supervisor read or write (SDM vol. 3A §4.6: implicit accesses — GDT,
// IDT, TSS — are supervisor-mode whatever the CPL, and are data accesses). PKRU gets random bits,
// with the chosen key's AD/WD pair drawn separately so every pair is hit often.

import fc from 'fast-check';
import type { PermissionScenario } from '../engine/mmu/permission_check.ts';
import { PFERR } from '../engine/mmu/types.ts';
import type { PermissionCase } from '../../properties/types.ts';

/** The access kinds, as the PFERR bits permission_fault is handed. */
export const PERMISSION_ACCESSES: readonly bigint[] = [
  0n,                                    // supervisor read
  PFERR.WRITE,                           // supervisor write
  PFERR.FETCH,                           // supervisor fetch
  PFERR.USER,                            // user read
  PFERR.USER | PFERR.WRITE,              // user write
  PFERR.USER | PFERR.FETCH,              // user fetch
  PFERR.IMPLICIT_ACCESS,                 // implicit supervisor read (e.g. a descriptor load)
  PFERR.IMPLICIT_ACCESS | PFERR.WRITE,   // implicit supervisor write (e.g. the busy flag, an exception frame)
];

/** A plain allowed access: a supervisor read of a present, writable, executable supervisor page, no SMEP/SMAP/PKE. */
export const BASE_PERMISSION_SCENARIO: PermissionScenario = {
  arch: 'mmu-perm',
  cr0_wp: true, cr4_smep: false, cr4_smap: false, cr4_pke: false, efer_nx: true, efer_lma: true, rflags_ac: false,
  pfec: 0n, pte_access: 1 | 2 | 8, pkey: 0, pkru: 0,
};

/** PKRU with key `pkey`'s two bits (AD = bit 0, WD = bit 1 of `keyBits`) set as drawn, the rest from `noise`. */
export function pkruWith(pkey: number, keyBits: number, noise: number): number {
  const shift = 2 * (pkey & 15);
  return ((noise & ~(3 << shift)) | ((keyBits & 3) << shift)) >>> 0;
}

export function permissionCase(): fc.Arbitrary<PermissionCase> {
  return fc
    .record({
      cr0_wp: fc.boolean(), cr4_smep: fc.boolean(), cr4_smap: fc.boolean(), cr4_pke: fc.boolean(),
      efer_nx: fc.boolean(), efer_lma: fc.boolean(), rflags_ac: fc.boolean(),
      pfec: fc.constantFrom(...PERMISSION_ACCESSES),
      pte_access: fc.integer({ min: 0, max: 15 }),
      pkey: fc.integer({ min: 0, max: 15 }),
      keyBits: fc.integer({ min: 0, max: 3 }),
      noise: fc.nat({ max: 0xffffffff }),
    })
    .map(({ keyBits, noise, ...r }): PermissionCase => {
      // No mutation list: the scenario is drawn whole, and its difference from the base is a field diff.
      const scenario: PermissionScenario = { arch: 'mmu-perm', ...r, pkru: pkruWith(r.pkey, keyBits, noise) };
      return { scenario, base: BASE_PERMISSION_SCENARIO, mutations: [] };
    });
}

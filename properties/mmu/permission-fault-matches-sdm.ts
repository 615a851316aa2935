// KVM's permission check of a completed guest walk (update_permission_bitmask / update_pkru_bitmask
// precomputed per error code, then permission_fault) gives the SDM's answer: the same fault / no
// fault, and the same PK bit, as a separately written declarative reading of SDM vol. 3A §4.6
// (_spec/access_rights.ts, sharing no code with the engine), over every paging control, EFLAGS.AC,
// access kind (implicit supervisor accesses included), leaf rights, protection key and PKRU pair.

import { permissionCase } from '../../src/arbitraries/permissionCase.ts';
import { runPermission } from '../../src/engine/mmu/permission_check.ts';
import { PFERR } from '../../src/engine/mmu/types.ts';
import { fail, HOLDS, type NestfuzzProperty, type PermissionCase, type Verdict } from '../types.ts';
import { ACCESS_RULES, sdmAccessRights } from './_spec/access_rights.ts';
import { hex } from './_lib.ts';

export const property: NestfuzzProperty<PermissionCase> = {
  id: 'permission-fault-matches-sdm',
  area: 'mmu',
  title: 'permission_fault faults, and sets PK, exactly when SDM §4.6 denies the access',
  rationale: 'SDM vol. 3A §4.6.1 (CR0.WP, XD/NXE, SMEP, SMAP with EFLAGS.AC and implicit accesses), §4.6.2 (PKRU AD/WD), §4.7 (PK bit); KVM permission_fault (mmu.h), update_permission_bitmask / update_pkru_bitmask (mmu.c), 4f4aa80e3b88; spec vmx-mmu.md §4.4, §5.1',
  arbitrary: () => permissionCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const kvm = runPermission(s, ctx.profile);
    const kvmFault = kvm.fault !== 0n;
    const kvmPk = (kvm.fault & PFERR.PK) !== 0n;
    const sdm = sdmAccessRights(s);
    if (kvmFault === sdm.fault && kvmPk === sdm.pk) return HOLDS;
    const rule = ACCESS_RULES.find((r) => r.id === sdm.rule);
    const inputs = {
      cr0_wp: s.cr0_wp, cr4_smep: s.cr4_smep, cr4_smap: s.cr4_smap, cr4_pke: s.cr4_pke,
      efer_nx: s.efer_nx, efer_lma: s.efer_lma, rflags_ac: s.rflags_ac,
      pfec: hex(s.pfec), pte_access: hex(s.pte_access), pkey: s.pkey, pkru: hex(s.pkru),
      pkru_key_bits: (s.pkru >>> (2 * (s.pkey & 15))) & 3,
    };
    const say = (f: boolean, pk: boolean): string => (f ? (pk ? 'fault with PK' : 'fault') : 'no fault');
    return fail(
      kvmFault !== sdm.fault ? 'fault-mismatch' : 'pk-mismatch',
      `permission_fault: ${say(kvmFault, kvmPk)}; SDM: ${say(sdm.fault, sdm.pk)} (${sdm.rule}${rule ? `: ${rule.sdm}` : ''})`,
      { ...inputs, kvm_fault: hex(kvm.fault), sdm_rule: sdm.rule, ...(rule ? { sdm_statement: rule.sdm } : {}) },
    );
  },
};

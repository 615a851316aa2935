// One permission check of a completed (non-EPT) guest walk, as its own scenario: the inputs of
// update_permission_bitmask / update_pkru_bitmask and of permission_fault, and KVM's answer. Issue
// #6 checks this against a separately written SDM access-rights predicate over the whole input space.

import { has, profileDropped, type Profile } from '../profiles.ts';
import { Trace } from '../trace.ts';
import { permission_fault, update_permission_bitmask } from './permission.ts';
import { PFERR } from './types.ts';

export interface PermissionScenario {
  arch: 'mmu-perm';
  /** Paging controls (cpu_role): CR0.WP, CR4.SMEP, CR4.SMAP, CR4.PKE, EFER.NXE, EFER.LMA. */
  cr0_wp: boolean;
  cr4_smep: boolean;
  cr4_smap: boolean;
  cr4_pke: boolean;
  efer_nx: boolean;
  efer_lma: boolean;
  /** EFLAGS.AC. */
  rflags_ac: boolean;
  /** The access as PFERR bits: WRITE, USER (a CPL-3 access), FETCH; plus IMPLICIT_ACCESS for an implicit supervisor access. */
  pfec: bigint;
  /** The leaf's accumulated rights (ACC_EXEC | ACC_WRITE | ACC_USER | ACC_READ). */
  pte_access: number;
  /** The leaf's protection key (bits 62:59) and PKRU. */
  pkey: number;
  pkru: number;
}

export interface PermissionResult {
  trace: Trace;
  outcome: string;
  /** permission_fault's answer: 0, PFERR_PRESENT, or PFERR_PRESENT | PFERR_PK. */
  fault: bigint;
}

/** update_permission_bitmask for the scenario's role, then permission_fault. Pure and total. */
export function runPermission(s: PermissionScenario, p: Profile): PermissionResult {
  const t = new Trace(profileDropped(p));
  const bitmask = update_permission_bitmask({
    ept: false, cr0_wp: s.cr0_wp, nx: s.efer_nx, smep: s.cr4_smep, smap: s.cr4_smap,
    pke: s.cr4_pke && s.efer_lma, mbec: false, track_read: false,
  });
  const fault = permission_fault({
    ...bitmask, rflags: s.rflags_ac ? 1n << 18n : 0n, pkru: s.pkru >>> 0, smap_implicit: has(p, 'mmu-smap-implicit-access'),
  }, s.pte_access, s.pkey & 15, s.pfec);
  t.emit('permission_fault', { pfec: s.pfec, pte_access: s.pte_access, fault });
  return { trace: t, outcome: fault === 0n ? 'allowed' : (fault & PFERR.PK) !== 0n ? 'pk-fault' : 'fault', fault };
}

// Permission checking for a completed guest-page-table walk: KVM's update_permission_bitmask /
// update_pkru_bitmask (mmu.c) precompute, per page-fault error code, which combinations of a leaf's
// access rights fault; permission_fault (mmu.h) then answers with one shift. Spec: vmx-mmu.md §4.4.
// Non-EPT rules: SDM vol. 3 §4.6 "Access Rights" / APM vol. 2 §5.6; EPT: SDM §29.3.3.2.

import { PFERR } from './types.ts';

// ---- ACC bits: the walker's format-independent view of a leaf's rights (KVM's ACC_*_MASK) ----
// This model's layout (KVM's NEW MBEC layout differs in bit positions, not in meaning): a leaf's
// rights are five independent bits so the bitmask below is one 32-bit word per error code.

/** Instruction fetch allowed (non-EPT: !NX; EPT: X, supervisor-exec under MBEC). */
export const ACC_EXEC = 1;
/** Writes allowed (R/W, EPT W). */
export const ACC_WRITE = 2;
/** User-mode page (U/S). Never set by EPT, which has no U/S bit. */
export const ACC_USER = 4;
/** Reads allowed: always for present non-EPT entries; EPT R. */
export const ACC_READ = 8;
/** EPT with MBEC: user-mode execute (EPTE bit 10). */
export const ACC_USER_EXEC = 16;
export const ACC_ALL = ACC_EXEC | ACC_WRITE | ACC_USER | ACC_READ | ACC_USER_EXEC;

/** The paging controls update_permission_bitmask reads (cpu_role / the EPT role). */
export interface PermissionRole {
  ept: boolean;
  /** CR0.WP: supervisor writes honour R/W. */
  cr0_wp: boolean;
  /** EFER.NXE: the NX bit exists, so fetch faults are possible (non-EPT). */
  nx: boolean;
  smep: boolean;
  smap: boolean;
  /** Protection keys apply: CR4.PKE && EFER.LMA (never for EPT). */
  pke: boolean;
  /** EPT: mode-based execute control — user fetches check ACC_USER_EXEC. */
  mbec: boolean;
  /** EPT: 'mmu-ept-track-read' — reads need EPT R (else every present entry is readable). */
  track_read: boolean;
}

/** The precomputed tables: permissions[pfec >> 1] bit `pte_access` = fault; pkru_mask 2 bits per offset. */
export interface PermissionBitmask {
  permissions: number[];
  pkru_mask: number;
}

/** What permission_fault reads at the time of the access. */
export interface PermissionState extends PermissionBitmask {
  rflags: bigint;
  pkru: number;
  /**
   * Patch 'mmu-smap-implicit-access' (4f4aa80e3b88): PFERR_IMPLICIT_ACCESS keeps SMAP in force
   * whatever EFLAGS.AC says. false = the mutant where EFLAGS.AC lifts SMAP for implicit supervisor
   * accesses too. Absent = true: every kernel profile has the patch.
   */
  smap_implicit?: boolean;
}

const RFLAGS_AC = 1n << 18n;

/** The set (as a 32-bit mask over all pte_access values 0..31) of rights combinations containing `acc`. */
function accSet(acc: number): number {
  let m = 0;
  for (let a = 0; a <= ACC_ALL; a++) if (a & acc) m |= 1 << a;
  return m >>> 0;
}

const SET_X = accSet(ACC_EXEC);
const SET_W = accSet(ACC_WRITE);
const SET_U = accSet(ACC_USER);
const SET_R = accSet(ACC_READ);
const SET_UX = accSet(ACC_USER_EXEC);

const W = Number(PFERR.WRITE);
const U = Number(PFERR.USER);
const RSVD = Number(PFERR.RSVD);
const F = Number(PFERR.FETCH);

/**
 * update_permission_bitmask + update_pkru_bitmask. Index `i` stands for the error code `i << 1`
 * (W, U, RSVD, F); RSVD in the index means "SMAP does not apply to this access" (permission_fault
 * sets it for EFLAGS.AC explicit accesses), so SMAP needs no extra table.
 */
export function update_permission_bitmask(role: PermissionRole): PermissionBitmask {
  const permissions: number[] = [];
  for (let i = 0; i < 16; i++) {
    const pfec = i << 1;
    const wf = pfec & W ? ~SET_W : 0;
    let fault: number;
    if (role.ept) {
      // EPT has no U/S; PFERR_USER on an EPT access means "the L2 leaf is a user page"
      // (vmx_translate_nested_gpa), which selects user-exec under MBEC (SDM §29.3.3.2).
      const ff = pfec & F ? ~(role.mbec && pfec & U ? SET_UX : SET_X) : 0;
      // Execute-only EPT entries: a data read needs R (Bandan Das 2016, 'track read permission').
      const rf = role.track_read && !(pfec & (W | F)) ? ~SET_R : 0;
      fault = ff | wf | rf;
    } else {
      let wfx = wf;
      const uf = pfec & U ? ~SET_U : 0;
      let ff = pfec & F ? ~SET_X : 0;
      // Supervisor access to a user page: what SMEP and SMAP forbid.
      const kf = pfec & U ? 0 : SET_U;
      // Without EFER.NXE there is no NX bit: nothing is non-executable.
      if (!role.nx) ff = 0;
      // CR0.WP=0: supervisor writes ignore R/W (SDM §4.6.1).
      if (!role.cr0_wp) wfx = pfec & U ? wfx : 0;
      const smepf = role.smep && pfec & F ? kf : 0;
      // SMAP covers supervisor data accesses only, and not explicit ones with EFLAGS.AC (index RSVD).
      const smapf = role.smap && !(pfec & (RSVD | F)) ? kf : 0;
      fault = ff | uf | wfx | smepf | smapf;
    }
    permissions.push(fault >>> 0);
  }

  let pkru_mask = 0;
  if (role.pke && !role.ept) {
    // Offset = pfec with RSVD standing for "the leaf is a user page". Two bits per offset:
    // bit 0 = PKRU.AD applies, bit 1 = PKRU.WD applies (SDM §4.6.2).
    for (let i = 0; i < 16; i++) {
      const pfec = i << 1;
      const userPage = (pfec & RSVD) !== 0;
      const fetch = (pfec & F) !== 0;
      // Keys govern data accesses to user-mode pages only, by user or supervisor code.
      const check_pkey = userPage && !fetch;
      // WD blocks user writes always, supervisor writes only with CR0.WP.
      const check_write = check_pkey && (pfec & W) !== 0 && ((pfec & U) !== 0 || role.cr0_wp);
      const bits = (check_pkey ? 1 : 0) | (check_write ? 2 : 0);
      pkru_mask |= bits << pfec;
    }
    pkru_mask >>>= 0;
  }
  return { permissions, pkru_mask };
}

/**
 * permission_fault (mmu.h): 0 if the access is allowed, else PFERR_PRESENT (| PFERR_PK for a
 * protection-key fault). `pfec` is the access (W/U/F, plus PFERR_IMPLICIT_ACCESS); the caller ORs
 * the access bits into the final error code. `pkey` is the leaf's bits 62:59.
 */
export function permission_fault(m: PermissionState, pte_access: number, pkey: number, pfec: bigint): bigint {
  const ac = (m.rflags & RFLAGS_AC) !== 0n;
  // SDM §4.6.1: EFLAGS.AC lifts SMAP for explicit supervisor accesses only; an implicit one (GDT,
  // IDT, TSS, … — KVM's emulator marks them PFERR_IMPLICIT_ACCESS) is always checked. Without the
  // patch the flag is not looked at and AC lifts SMAP for implicit accesses as well.
  const implicit = (m.smap_implicit ?? true) && (pfec & PFERR.IMPLICIT_ACCESS) !== 0n;
  // The index trick: an explicit supervisor access with EFLAGS.AC=1 looks up the row with RSVD set,
  // where SMAP's contribution was left out.
  const not_smap = ac && !implicit;
  const low = Number(pfec & (PFERR.WRITE | PFERR.USER | PFERR.FETCH));
  const index = (low | (not_smap ? RSVD : 0)) >> 1;
  const acc = pte_access & ACC_ALL;
  let fault = ((m.permissions[index] ?? 0) >>> acc) & 1;
  let errcode = 0n;
  if (m.pkru_mask !== 0) {
    let pkey_bits = (m.pkru >>> ((pkey & 15) * 2)) & 3;
    const offset = low | (acc & ACC_USER ? RSVD : 0);
    pkey_bits &= m.pkru_mask >>> offset;
    if (pkey_bits !== 0) {
      errcode |= PFERR.PK;
      fault = 1;
    }
  }
  return fault ? PFERR.PRESENT | errcode : 0n;
}

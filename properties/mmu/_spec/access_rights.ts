// Access rights of a translated linear address as the SDM states them, written from the manual as a
// table of denial rules; shares no code with the engine's permission_fault (src/engine/mmu/permission.ts).
//  - SDM vol. 3A §4.6 "Access Rights": an access is a user-mode access (CPL 3, explicit) or a
//    supervisor-mode access (CPL < 3, or an implicit access to a system structure — GDT/LDT, IDT,
//    TSS — whatever the CPL); an address is a user-mode address if U/S = 1 in every paging-structure
//    entry of its translation, a supervisor-mode address otherwise.
//  - §4.6.1 "Determination of Access Rights": R/W (and CR0.WP for supervisor writes), XD (only with
//    PAE or IA-32e paging and IA32_EFER.NXE = 1), CR4.SMEP, CR4.SMAP with EFLAGS.AC (which lifts SMAP
//    for explicit supervisor accesses only).
//  - §4.6.2 "Protection Keys": with IA-32e paging and CR4.PKE = 1, PKRU bits 2i (ADi) and 2i+1 (WDi)
//    restrict data accesses to user-mode addresses with protection key i: ADi forbids every data
//    access, WDi forbids user-mode writes, and supervisor-mode writes only when CR0.WP = 1.
//  - §4.7: the error code's PK bit is 1 exactly when the protection-key conditions above deny the
//    access (the definition does not depend on whether another check failed as well).
// Every present leaf of IA-32 paging is readable, so the leaf has no "read" right here.

import type { PermissionScenario } from '../../../src/engine/mmu/permission_check.ts';

/** The inputs: the permission check scenario's fields (a type only: no engine code is used). */
export type AccessRightsInput = Omit<PermissionScenario, 'arch'>;

export interface AccessRightsVerdict {
  fault: boolean;
  /** The #PF error code's PK bit (§4.7). */
  pk: boolean;
  /** The rule that decided: the first denial rule that applies, or 'allowed'. */
  rule: string;
}

// ---- the access: #PF error-code bit positions (SDM §4.7), plus KVM's synthetic implicit flag ----
const EC_WRITE = 1n << 1n;
const EC_USER = 1n << 2n;
const EC_FETCH = 1n << 4n;
/** Not an SDM bit: KVM marks implicit supervisor accesses with error-code bit 48 (vmx-mmu.md §5.1). */
const EC_IMPLICIT = 1n << 48n;

interface Access {
  kind: 'read' | 'write' | 'fetch';
  /** §4.6: implicit accesses are supervisor-mode accesses regardless of CPL. */
  mode: 'user' | 'supervisor';
  implicit: boolean;
}

function accessOf(pfec: bigint): Access {
  const implicit = (pfec & EC_IMPLICIT) !== 0n;
  const kind = (pfec & EC_FETCH) !== 0n ? 'fetch' : (pfec & EC_WRITE) !== 0n ? 'write' : 'read';
  return { kind, mode: !implicit && (pfec & EC_USER) !== 0n ? 'user' : 'supervisor', implicit };
}

// ---- the leaf: what the walk accumulated over every level, as booleans ----
interface Leaf {
  /** R/W = 1 at every level. */
  writable: boolean;
  /** U/S = 1 at every level: a user-mode address. */
  user: boolean;
  /** XD = 0 at every level (always true for 32-bit paging, which has no XD bit). */
  executable: boolean;
}

/**
 * The walker's rights encoding (KVM's ACC_* bits as the engine lays them out): 1 = executable (not
 * XD), 2 = writable (R/W), 4 = user (U/S), 8 = present. The 8 carries nothing here: the check runs
 * on present leaves only, and IA-32 paging has no read-permission bit.
 */
function leafOf(pte_access: number): Leaf {
  return { executable: (pte_access & 1) !== 0, writable: (pte_access & 2) !== 0, user: (pte_access & 4) !== 0 };
}

interface Ctx {
  s: AccessRightsInput;
  a: Access;
  leaf: Leaf;
  /** PKRU.ADi / PKRU.WDi of the leaf's key i. */
  ad: boolean;
  wd: boolean;
}

const data = (a: Access): boolean => a.kind !== 'fetch';

/** §4.6.2: keys exist only with IA-32e paging (4-/5-level) and CR4.PKE, for data accesses to user-mode addresses. */
const keyApplies = (c: Ctx): boolean => c.s.efer_lma && c.s.cr4_pke && c.leaf.user && data(c.a);

interface Rule {
  id: string;
  /** The SDM statement the rule encodes. */
  sdm: string;
  /** A protection-key rule: sets the error code's PK bit when it applies. */
  pk?: true;
  denies(c: Ctx): boolean;
}

/** Denial rules; an access is allowed iff none applies. The order only picks which rule is named. */
export const ACCESS_RULES: readonly Rule[] = [
  {
    id: 'user-access-supervisor-address',
    sdm: '§4.6.1: user-mode accesses may not read, write or fetch supervisor-mode addresses',
    denies: (c) => c.a.mode === 'user' && !c.leaf.user,
  },
  {
    id: 'user-write-read-only',
    sdm: '§4.6.1: user-mode writes need R/W = 1 in every paging-structure entry',
    denies: (c) => c.a.mode === 'user' && c.a.kind === 'write' && !c.leaf.writable,
  },
  {
    id: 'supervisor-write-read-only-wp',
    sdm: '§4.6.1: with CR0.WP = 1, supervisor-mode writes need R/W = 1 (with CR0.WP = 0 any address is writable)',
    denies: (c) => c.a.mode === 'supervisor' && c.a.kind === 'write' && c.s.cr0_wp && !c.leaf.writable,
  },
  {
    id: 'xd',
    sdm: '§4.6.1: with IA32_EFER.NXE = 1, no instruction fetch from an address with XD = 1 in any paging-structure entry',
    denies: (c) => c.a.kind === 'fetch' && c.s.efer_nx && !c.leaf.executable,
  },
  {
    id: 'smep',
    sdm: '§4.6.1: with CR4.SMEP = 1, supervisor-mode fetches from user-mode addresses are not allowed',
    denies: (c) => c.a.mode === 'supervisor' && c.a.kind === 'fetch' && c.s.cr4_smep && c.leaf.user,
  },
  {
    id: 'smap',
    sdm: '§4.6.1: with CR4.SMAP = 1, supervisor-mode data accesses to user-mode addresses are not allowed if EFLAGS.AC = 0 or the access is implicit',
    denies: (c) => c.a.mode === 'supervisor' && data(c.a) && c.s.cr4_smap && c.leaf.user && (!c.s.rflags_ac || c.a.implicit),
  },
  {
    id: 'pkru-ad',
    sdm: '§4.6.2: ADi = 1 forbids every data access to user-mode addresses with protection key i',
    pk: true,
    denies: (c) => keyApplies(c) && c.ad,
  },
  {
    id: 'pkru-wd',
    sdm: '§4.6.2: WDi = 1 forbids user-mode writes, and supervisor-mode writes if CR0.WP = 1, to user-mode addresses with protection key i',
    pk: true,
    denies: (c) => keyApplies(c) && c.a.kind === 'write' && c.wd && (c.a.mode === 'user' || c.s.cr0_wp),
  },
];

/** Whether the SDM lets the access through, which rule decided, and the PK bit of the resulting #PF. */
export function sdmAccessRights(s: AccessRightsInput): AccessRightsVerdict {
  const key = s.pkey & 15;
  const c: Ctx = {
    s,
    a: accessOf(s.pfec),
    leaf: leafOf(s.pte_access),
    ad: ((s.pkru >>> (2 * key)) & 1) === 1,
    wd: ((s.pkru >>> (2 * key + 1)) & 1) === 1,
  };
  const denying = ACCESS_RULES.filter((r) => r.denies(c));
  if (denying.length === 0) return { fault: false, pk: false, rule: 'allowed' };
  return { fault: true, pk: denying.some((r) => r.pk === true), rule: denying[0]!.id };
}

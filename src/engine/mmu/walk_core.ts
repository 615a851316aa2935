// The one page-table walk loop behind both walkers, in the shape of KVM's FNAME(walk_addr_generic)
// (mmu/paging_tmpl.h), parameterised by entry format instead of instantiated per PTTYPE:
//  - 'pt32': 2-level 32-bit paging (PSE, PSE-36), u32 entries (SDM §4.3);
//  - 'pt64': PAE (3 levels, the first from the PDPTE registers), 4- and 5-level, u64 entries (SDM §4.4–4.5),
//            also used for L1's NPT tables (APM §15.25.5: nested tables use the host's paging format);
//  - 'ept':  EPT entries (SDM §29.3.2).
// It does not build x86_exception: it reports the walker's raw error (errcode + the accumulated raw
// rights, which the EPT qualification needs) or a nested fault found by `xlate`; walker.ts and
// nested_tdp.ts turn those into faults the way their KVM counterparts do. Spec: vmx-mmu.md §4.1–4.3.

import { cc, type Trace } from '../trace.ts';
import { ACC_EXEC, ACC_READ, ACC_USER, ACC_USER_EXEC, ACC_WRITE, permission_fault, type PermissionState } from './permission.ts';
import { PFERR, readPhys32, readPhys64, writePhys32, writePhys64, type PhysMem, type X86Exception } from './types.ts';

export const MASK64 = (1n << 64n) - 1n;
/** Bits 51:12: the frame of a 64-bit / EPT entry, CR3, nCR3 or EPTP (PT64_BASE_ADDR_MASK). */
export const ADDR51_12 = 0x000ffffffffff000n;
const ADDR32 = 0xfffff000n;
const BIT7 = 1n << 7n;
const BIT63 = 1n << 63n;
const EPT_USER_EXEC = 1n << 10n;

/** One paging-structure entry the walk read (walker.ts re-exports this). */
export interface WalkLevel {
  level: number;
  /** GPA of the table page (L2's GPA for the guest walk; L1's for the TDP walk). */
  table_gpa: bigint;
  pte_gpa: bigint;
  /** L1 GPA of the entry after nested translation; null if that translation failed. */
  real_pte_gpa: bigint | null;
  /** The entry as read (before any A/D update); null if it could not be read. */
  pte: bigint | null;
}

export interface WalkFormat {
  kind: 'pt32' | 'pt64' | 'ept';
  /** cpu_role.base.level: 2 (32-bit), 3 (PAE), 4, 5. */
  root_level: number;
  /** CR3 / nCR3 / EPTP (only bits 51:12, 31:12 for 32-bit, are used; unused for PAE). */
  root: bigint;
  /** PAE: the PDPTE for index 0..3 (registers for the guest, nCR3's page for NPT). */
  pdpte: ((i: number) => bigint) | null;
  maxphyaddr: number;
  /** pt64: the NX bit exists (EFER.NXE); without it bit 63 is reserved. */
  nx: boolean;
  /** pt32: CR4.PSE (PS in a PDE means a 4 MiB page); pse36: PDE bits 16:13 are PA 35:32. */
  pse: boolean;
  pse36: boolean;
  /** A/D bits are maintained (always for x86 formats; EPTP bit 6 for EPT). */
  ad: boolean;
  /** EPT: MBEC (bit 10 = user-exec) and execute-only support. */
  mbec: boolean;
  execonly: boolean;
  perm: PermissionState;
  /** has_pferr_fetch: the error code reports FETCH (NX or SMEP on; always for EPT). */
  fetch_in_pfec: boolean;
  /** The walk of L1's TDP (check ids 'nested-*') rather than L2's own tables ('walk-*'). */
  nested: boolean;
  /** EPT with nested PML: log a GPA whose dirty bit is about to be set; true = the log is full (fail). */
  write_log_dirty?: (gpa: bigint) => boolean;
}

export type Xlate = (gpa: bigint, access: bigint, leaf_pte_access: number) => { ok: true; gpa: bigint } | { ok: false; fault: X86Exception };

export type CoreResult =
  | { kind: 'ok'; gpa: bigint; real_gpa: bigint; pte_access: number; levels: WalkLevel[] }
  /** The walker's own error: `errcode` before the access bits are ORed in; `raw` = AND of raw entry bits. */
  | { kind: 'fault'; errcode: bigint; raw: bigint; levels: WalkLevel[]; pml_full?: boolean }
  | { kind: 'nested'; fault: X86Exception; stage: 'nested-page' | 'nested-final'; levels: WalkLevel[] };

/** rsvd_bits(lo, hi): bits hi..lo set (empty if lo > hi). */
export function rsvd_bits(lo: number, hi: number): bigint {
  if (lo > hi) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

function clampMaxphy(m: number): number {
  // MAXPHYADDR is at most 52 and a page frame needs at least bit 12; clamp so random input can't misbehave.
  return Number.isFinite(m) ? Math.min(52, Math.max(12, Math.trunc(m))) : 52;
}

/** is_present_gpte: any of R/W/X for EPT (plus user-exec under MBEC), P for x86 formats. */
function isPresent(f: WalkFormat, pte: bigint): boolean {
  if (f.kind === 'ept') return (pte & 7n) !== 0n || (f.mbec && (pte & EPT_USER_EXEC) !== 0n);
  return (pte & 1n) !== 0n;
}

/** is_last_gpte: level 1 always; PS otherwise — for 32-bit paging only in a PDE with CR4.PSE. */
function isLast(f: WalkFormat, level: number, pte: bigint): boolean {
  if (level <= 1) return true;
  if (f.kind === 'pt32') return level === 2 && f.pse && (pte & BIT7) !== 0n;
  return (pte & BIT7) !== 0n;
}

/**
 * rsvd_bits_mask[bit7][level-1] of reset_guest_rsvds_bits_mask / reset_rsvds_bits_mask_ept
 * (SDM tables 4-x "Format of …", 29-x EPT formats). 1 GiB pages are assumed supported.
 */
function rsvdMask(f: WalkFormat, level: number, pte: bigint): bigint {
  const big = level > 1 && (pte & BIT7) !== 0n;
  const M = clampMaxphy(f.maxphyaddr);
  if (f.kind === 'pt32') {
    // 4 MiB PDE: bit 21 and the PA bits beyond what PSE-36 provides are reserved (KVM: 4 PSE-36 bits).
    if (level === 2 && big && f.pse) return f.pse36 ? rsvd_bits(17, 21) : rsvd_bits(13, 21);
    return 0n;
  }
  if (f.kind === 'ept') {
    const high = rsvd_bits(M, 51);
    if (level >= 4) return high | rsvd_bits(3, 7);
    if (level === 3) return big ? high | rsvd_bits(12, 29) : high | rsvd_bits(3, 6);
    if (level === 2) return big ? high | rsvd_bits(12, 20) : high | rsvd_bits(3, 6);
    return high;
  }
  // PAE entries reserve 62:MAXPHYADDR; 4/5-level only 51:MAXPHYADDR (62:52 are ignored / PKEY).
  const high = f.root_level === 3 ? rsvd_bits(M, 62) : rsvd_bits(M, 51);
  const nxr = f.nx ? 0n : BIT63;
  if (level >= 4) return high | nxr | BIT7;
  if (level === 3) return big ? high | nxr | rsvd_bits(13, 29) : high | nxr;
  if (level === 2) return big ? high | nxr | rsvd_bits(13, 20) : high | nxr;
  return high | nxr;
}

/** bad_mt_xwr: W without R, and X-only without the execute-only capability (SDM §29.3.3.1). */
function eptBadXwr(f: WalkFormat, pte: bigint): boolean {
  const xwr = Number(pte & 7n);
  if (xwr === 2 || xwr === 6) return true;
  if (xwr === 4 && !f.execonly) return true;
  // MBEC user-exec-only (no R/W/X): treated like execute-only (model choice, see report).
  if (xwr === 0 && f.mbec && (pte & EPT_USER_EXEC) !== 0n && !f.execonly) return true;
  return false;
}

/** The EPT memory type (bits 5:3) of a leaf: 2, 3 and 7 are reserved (SDM §29.3.3.1). */
function eptBadMemtype(pte: bigint): boolean {
  const mt = Number((pte >> 3n) & 7n);
  return mt === 2 || mt === 3 || mt === 7;
}

/** FNAME(gpte_access): the accumulated raw rights as ACC bits. */
export function gpteAccess(f: WalkFormat, raw: bigint): number {
  if (f.kind === 'ept') {
    return ((raw & 1n) !== 0n ? ACC_READ : 0) | ((raw & 2n) !== 0n ? ACC_WRITE : 0) | ((raw & 4n) !== 0n ? ACC_EXEC : 0) |
      (f.mbec && (raw & EPT_USER_EXEC) !== 0n ? ACC_USER_EXEC : 0);
  }
  let a = ACC_READ | ((raw & 2n) !== 0n ? ACC_WRITE : 0) | ((raw & 4n) !== 0n ? ACC_USER : 0);
  // pt64: raw was ANDed with pte ^ NX, so bit 63 set = no level had NX.
  if (f.kind === 'pt32' || (raw & BIT63) !== 0n) a |= ACC_EXEC;
  return a;
}

function ptIndex(f: WalkFormat, addr: bigint, level: number): bigint {
  if (f.kind === 'pt32') return (addr >> BigInt(12 + 10 * (level - 1))) & 1023n;
  return (addr >> BigInt(12 + 9 * (level - 1))) & 511n;
}

/** The L2/L1 GPA the leaf maps `addr` to (gpte_to_gfn_lvl + the in-page offset, PSE-36 for 32-bit). */
function leafGpa(f: WalkFormat, level: number, pte: bigint, addr: bigint): bigint {
  if (f.kind === 'pt32') {
    if (level === 2) {
      const hi = f.pse36 ? ((pte >> 13n) & 0xfn) << 32n : 0n;
      return (pte & 0xffc00000n) | hi | (addr & 0x3fffffn);
    }
    return (pte & ADDR32) | (addr & 0xfffn);
  }
  const size = 1n << BigInt(12 + 9 * (level - 1));
  return (pte & ADDR51_12 & ~(size - 1n)) | (addr & (size - 1n));
}

function nextTable(f: WalkFormat, pte: bigint): bigint {
  return f.kind === 'pt32' ? pte & ADDR32 : pte & ADDR51_12;
}

// Check ids: literal in every cc() call so coverage can find them.
function ccPdpte(t: Trace, f: WalkFormat, bad: boolean): boolean {
  return f.nested ? cc(t, 'nested-pdpte-not-present', bad) : cc(t, 'walk-pdpte-not-present', bad);
}
function ccNoSlot(t: Trace, f: WalkFormat, bad: boolean): boolean {
  return f.nested ? cc(t, 'nested-no-memslot', bad) : cc(t, 'walk-no-memslot', bad);
}
function ccNotPresent(t: Trace, f: WalkFormat, bad: boolean): boolean {
  return f.nested ? cc(t, 'nested-not-present', bad) : cc(t, 'walk-not-present', bad);
}
function ccRsvd(t: Trace, f: WalkFormat, bad: boolean): boolean {
  return f.nested ? cc(t, 'nested-rsvd', bad) : cc(t, 'walk-rsvd', bad);
}
function ccPermission(t: Trace, f: WalkFormat, bad: boolean): boolean {
  return f.nested ? cc(t, 'nested-permission', bad) : cc(t, 'walk-permission', bad);
}

/**
 * The walk. `xlate` (null = none) translates each table GPA and the final GPA through the nested
 * TDP, as kvm_translate_gpa does; its failure ends the walk at once with the nested fault.
 */
export function walkCore(t: Trace, mem: PhysMem, f: WalkFormat, addrIn: bigint, access: bigint, xlate: Xlate | null, who: string): CoreResult {
  const levels: WalkLevel[] = [];
  const addr = f.kind === 'pt32' || f.root_level === 3 ? addrIn & 0xffffffffn : addrIn & MASK64;
  const entrySize = f.kind === 'pt32' ? 4n : 8n;
  const nxMask = f.kind === 'pt64' ? BIT63 : 0n;
  // Guest paging structures always have A/D: every table access is checked as a (user) write.
  const nestedAccess = PFERR.WRITE | PFERR.USER | PFERR.GUEST_PAGE;

  let raw = MASK64;
  let level = Math.max(1, Math.min(5, Math.trunc(f.root_level) || 1));
  let table: bigint;
  if (level === 3 && f.kind === 'pt64' && f.pdpte) {
    // PAE: the first entry comes from the PDPTE registers — not re-read, not nested-translated, no A/D.
    const i = Number((addr >> 30n) & 3n);
    const pdpte = BigInt.asUintN(64, f.pdpte(i));
    t.emit('walk_pdpte', { walk: who, index: i, pdpte });
    if (ccPdpte(t, f, (pdpte & 1n) === 0n)) return { kind: 'fault', errcode: 0n, raw, levels };
    table = pdpte & ADDR51_12;
    level = 2;
  } else {
    table = f.kind === 'pt32' ? f.root & ADDR32 : f.root & ADDR51_12;
  }

  const ptes: bigint[] = [];
  const realGpas: bigint[] = [];
  let pte = 0n;
  for (;;) {
    const index = ptIndex(f, addr, level);
    const pte_gpa = table + index * entrySize;
    let realTable = table;
    if (xlate) {
      const r = xlate(table, nestedAccess, 0);
      if (!r.ok) {
        levels.push({ level, table_gpa: table, pte_gpa, real_pte_gpa: null, pte: null });
        return { kind: 'nested', fault: r.fault, stage: 'nested-page', levels };
      }
      realTable = r.gpa & ~0xfffn;
    }
    const real_pte_gpa = realTable + index * entrySize;
    let v: bigint | null;
    if (f.kind === 'pt32') {
      const n = readPhys32(mem, real_pte_gpa);
      v = n === null ? null : BigInt(n >>> 0);
    } else {
      v = readPhys64(mem, real_pte_gpa);
    }
    // No visible memslot behind the table (or an hva/uaccess failure): a walk error, no A/D.
    const noSlot = ccNoSlot(t, f, v === null);
    pte = v ?? 0n;
    levels.push({ level, table_gpa: table, pte_gpa, real_pte_gpa, pte: v });
    t.emit('walk_level', { walk: who, level, gpa: pte_gpa, real_gpa: real_pte_gpa, pte: v });
    if (noSlot) return { kind: 'fault', errcode: 0n, raw, levels };
    ptes.push(pte);
    realGpas.push(real_pte_gpa);

    // The rights accumulate before the checks (KVM does the same), so a non-present EPTE leaves 0 in bits 3–5.
    raw &= pte ^ nxMask;
    if (ccNotPresent(t, f, !isPresent(f, pte))) return { kind: 'fault', errcode: 0n, raw, levels };
    const last = isLast(f, level, pte);
    let rsvd = ccRsvd(t, f, (pte & rsvdMask(f, level, pte)) !== 0n);
    if (f.kind === 'ept') {
      rsvd = cc(t, 'nested-ept-bad-xwr', eptBadXwr(f, pte)) || rsvd;
      if (last) rsvd = cc(t, 'nested-ept-bad-memtype', eptBadMemtype(pte)) || rsvd;
    }
    if (rsvd) return { kind: 'fault', errcode: PFERR.RSVD | PFERR.PRESENT, raw, levels };
    if (last) break;
    table = nextTable(f, pte);
    level--;
  }

  const pkey = f.kind === 'pt64' ? Number((pte >> 59n) & 0xfn) : 0;
  let pte_access = gpteAccess(f, raw);
  const errcode = permission_fault(f.perm, pte_access, pkey, access);
  if (ccPermission(t, f, errcode !== 0n)) return { kind: 'fault', errcode, raw, levels };

  const gpa = leafGpa(f, level, pte, addr);
  let real_gpa = gpa;
  if (xlate) {
    const r = xlate(gpa & ~0xfffn, access | PFERR.GUEST_FINAL, pte_access);
    if (!r.ok) return { kind: 'nested', fault: r.fault, stage: 'nested-final', levels };
    real_gpa = (r.gpa & ~0xfffn) | (gpa & 0xfffn);
  }

  if (f.ad) {
    const A = f.kind === 'ept' ? 1n << 8n : 1n << 5n;
    const D = f.kind === 'ept' ? 1n << 9n : 1n << 6n;
    const write = (access & PFERR.WRITE) !== 0n;
    // protect_clean_gpte: a read through a clean leaf must not hand out W, so the first write
    // comes back through the walker and sets D.
    if (!write && (pte & D) === 0n) pte_access &= ~ACC_WRITE;
    // FNAME(update_accessed_dirty_bits): before an EPT dirty bit is set, nested PML logs the GPA
    // (nested_ops->write_log_dirty); a full log fails the walk (and sets nested.pml_full).
    if (write && (pte & D) === 0n && f.write_log_dirty && f.write_log_dirty(addrIn & ~0xfffn)) {
      t.emit('nested_pml_full', { gpa: addrIn & ~0xfffn });
      return { kind: 'fault', errcode: 0n, raw, levels, pml_full: true };
    }
    // update_accessed_dirty_bits: A on every level, D on the leaf for a write, written back at the
    // entry's real (L1) GPA.
    for (let i = 0; i < ptes.length; i++) {
      const old = ptes[i];
      let nv = old | A;
      if (write && i === ptes.length - 1) nv |= D;
      if (nv === old) continue;
      const at = realGpas[i];
      if (f.kind === 'pt32') writePhys32(mem, at, Number(nv & 0xffffffffn));
      else writePhys64(mem, at, nv);
      t.emit('walk_set_ad', { walk: who, level: levels[i].level, gpa: at, old, new: nv });
    }
  }
  return { kind: 'ok', gpa, real_gpa, pte_access, levels };
}

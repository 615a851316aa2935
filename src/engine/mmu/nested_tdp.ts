// The walk of L1's nested TDP for one L2 GPA: kvm_translate_gpa → the vendor translator
// (svm_translate_nested_gpa / vmx_translate_nested_gpa) → a PTTYPE 64 walk of L1's NPT tables or a
// PTTYPE_EPT walk of L1's EPT tables (paging_tmpl.h), ending in an x86_exception marked
// nested_page_fault on failure. Spec: vmx-mmu.md §3.2, §4.2–4.3; svm.md §5.1–5.2.

import { has } from '../profiles.ts';
import { ADDR51_12, MASK64, walkCore, type WalkFormat, type WalkLevel } from './walk_core.ts';
import type { WalkCtx } from './walker.ts';
import { ACC_USER, update_permission_bitmask } from './permission.ts';
import { EPT_VIOLATION } from '../../arch/vmx/eptp.ts';
import { PFERR, PFERR_GUEST_FAULT_STAGE_MASK, readPhys64, writePhys64, type NestedTdp, type PhysMem, type X86Exception } from './types.ts';

/** EPT-violation exit-qualification bits (SDM Table 29-7; KVM EPT_VIOLATION_*) as u64 masks, from the arch table. */
export const EPT_QUAL: { readonly [K in keyof typeof EPT_VIOLATION]: bigint } = Object.fromEntries(
  Object.entries(EPT_VIOLATION).map(([k, v]) => [k, BigInt(v)]),
) as { readonly [K in keyof typeof EPT_VIOLATION]: bigint };

/** A u64 read at any byte address (two aligned words when it straddles); null if any byte is outside RAM. */
function readUnaligned64(mem: PhysMem, gpa: bigint): bigint | null {
  const sh = (gpa & 7n) * 8n;
  const lo = readPhys64(mem, gpa & ~7n);
  if (lo === null) return null;
  if (sh === 0n) return lo;
  const hi = readPhys64(mem, (gpa & ~7n) + 8n);
  if (hi === null) return null;
  return ((lo >> sh) | (hi << (64n - sh))) & MASK64;
}

/**
 * nested_svm_get_tdp_pdptr: PDPTE `i` of a PAE nested page table, read from nCR3's page. Fixed
 * (CVE-2024-50115): at (nCR3 & GENMASK(11,5)) + 8*i, since PAE CR3 bits 4:0 are ignored and VMRUN
 * does not enforce nCR3 alignment. Before: offset_in_page(nCR3) + 8*i, so nCR3[4:0] shifted the
 * read (unaligned, possibly past the page). A read error yields PDPTE 0.
 */
export function nested_svm_get_tdp_pdptr(p: WalkCtx['p'], mem: PhysMem, ncr3: bigint, i: number): bigint {
  const page = ncr3 & ADDR51_12;
  const off = has(p, 'svm-npt-pae-pdptr-in-page') ? ncr3 & 0xfe0n : ncr3 & 0xfffn;
  return readUnaligned64(mem, page + off + 8n * BigInt(i & 3)) ?? 0n;
}

/**
 * translate_nested_gpa: the L1-TDP walk of L2 GPA `gpa`. `access` carries the L2 access bits and
 * GUEST_PAGE or GUEST_FINAL; `leaf_pte_access` is the L2 leaf's ACC bits (0 for table accesses).
 * On failure, fault.address = `gpa` exactly as handed in (the L2 walker hands in page-aligned GPAs).
 */
export function translate_nested_gpa(ctx: WalkCtx, tdp: NestedTdp, gpa: bigint, access: bigint, leaf_pte_access: number):
  | { ok: true; gpa: bigint; levels: WalkLevel[] }
  | { ok: false; fault: X86Exception; levels: WalkLevel[] } {
  const { t, p, mem } = ctx;
  const addr = BigInt.asUintN(64, gpa);
  let acc = BigInt.asUintN(64, access);
  let f: WalkFormat;
  if (tdp.kind === 'npt') {
    // svm_translate_nested_gpa: "Non-GMET walks are always user-walks" — PFERR_USER is ORed in.
    // With GMET the caller's U bit (the L2 access's) is kept (model choice; see report).
    if (!tdp.gmet) acc |= PFERR.USER;
    const levels = tdp.levels === 3 || tdp.levels === 5 ? tdp.levels : 4;
    const role = update_permission_bitmask({
      ept: false,
      // The nested NPT MMU's role: L1's paging rules with CR0.WP set; GMET behaves like SMEP for
      // supervisor fetches from user (U=1) NPT pages (APM §15.25.x "Guest Mode Execute Trap").
      cr0_wp: true, nx: tdp.nx, smep: tdp.gmet, smap: false, pke: false, mbec: false, track_read: false,
    });
    f = {
      kind: 'pt64', root_level: levels, root: tdp.ncr3,
      pdpte: levels === 3 ? (i: number) => nested_svm_get_tdp_pdptr(p, mem, tdp.ncr3, i) : null,
      maxphyaddr: tdp.maxphyaddr, nx: tdp.nx, pse: false, pse36: false, ad: true, mbec: false, execonly: false,
      perm: { ...role, rflags: 0n, pkru: 0 }, fetch_in_pfec: tdp.nx || tdp.gmet, nested: true,
    };
  } else {
    // vmx_translate_nested_gpa: EPT has no U/S; PFERR_USER is cleared and set only for a final access
    // whose L2 leaf is a user page (which selects MBEC's user-exec permission).
    acc &= ~PFERR.USER;
    if ((acc & PFERR.GUEST_FINAL) !== 0n && (leaf_pte_access & ACC_USER) !== 0) acc |= PFERR.USER;
    const role = update_permission_bitmask({
      ept: true, cr0_wp: true, nx: true, smep: false, smap: false, pke: false, mbec: tdp.mbec,
      track_read: has(p, 'mmu-ept-track-read'),
    });
    // EPTP bits 5:3 = page-walk length - 1: 4 means a 5-level walk; anything else walks 4 levels
    // (an invalid EPTP is rejected at VM entry, so it is never walked in KVM).
    const pwl = Number((tdp.eptp >> 3n) & 7n);
    f = {
      kind: 'ept', root_level: pwl === 4 ? 5 : 4, root: tdp.eptp, pdpte: null,
      maxphyaddr: tdp.maxphyaddr, nx: true, pse: false, pse36: false,
      // EPT A/D only when EPTP bit 6 enables them (role.ad_disabled otherwise).
      ad: (tdp.eptp & (1n << 6n)) !== 0n, mbec: tdp.mbec, execonly: tdp.execonly,
      perm: { ...role, rflags: 0n, pkru: 0 }, fetch_in_pfec: true, nested: true,
      ...(tdp.pml ? { write_log_dirty: nested_vmx_write_pml_buffer(mem, tdp.pml) } : {}),
    };
  }

  const r = walkCore(t, mem, f, addr, acc, null, tdp.kind);
  if (r.kind === 'ok') return { ok: true, gpa: r.real_gpa, levels: r.levels };
  if (r.kind === 'nested') return { ok: false, fault: r.fault, levels: r.levels }; // unreachable: no xlate

  const fetch = (acc & PFERR.FETCH) !== 0n;
  // walk_addr_generic's error path: the u16 local gets the access's W/U bits and, if reported, FETCH.
  let ec = (r.errcode | (acc & (PFERR.WRITE | PFERR.USER)) | (fetch && f.fetch_in_pfec ? PFERR.FETCH : 0n)) & 0xffffn;
  let qual = 0n;
  if (tdp.kind === 'npt') {
    // 297c2fe249db: the stage the L2 walker passed in (bits 32/33) is kept for the #NPF.
    if (has(p, 'mmu-walker-fault-stage')) {
      const stage = acc & PFERR_GUEST_FAULT_STAGE_MASK;
      // The mutant without 'mmu-stage-bits-by-name' tags each stage with the other's bit.
      ec |= has(p, 'mmu-stage-bits-by-name') ? stage : stage === PFERR.GUEST_PAGE ? PFERR.GUEST_FINAL : stage === PFERR.GUEST_FINAL ? PFERR.GUEST_PAGE : stage;
    }
  } else if ((r.errcode & PFERR.RSVD) === 0n) {
    qual = ept_violation_qualification(p, acc, r.raw, tdp.mbec);
  }
  // Before 297c2fe249db x86_exception.error_code was a u16: bits 32/33 vanish here.
  if (!has(p, 'mmu-x86-exception-u64')) ec &= 0xffffn;
  const fault: X86Exception = {
    vector: 14, error_code_valid: true, error_code: ec, nested_page_fault: true, address: addr, exit_qualification: qual,
    ...(r.pml_full ? { pml_full: true } : {}),
  };
  t.emit('walk_fault', { walk: tdp.kind, address: addr, error_code: ec, exit_qualification: qual });
  return { ok: false, fault, levels: r.levels };
}

/**
 * nested_vmx_write_pml_buffer: with L1's PML on, the GPA goes to pml_address + 8 * guest_pml_index and
 * the index counts down; an index of 512 or more means the log is full (the caller then injects a
 * PML-full exit). The buffer write goes to L1 memory; the index lives in this walk's copy.
 */
function nested_vmx_write_pml_buffer(mem: PhysMem, pml: { index: number; address: bigint }): (gpa: bigint) => boolean {
  let index = pml.index;
  return (gpa) => {
    if (index >= 512 || index < 0) return true;
    writePhys64(mem, pml.address + 8n * BigInt(index), gpa & ~0xfffn);
    index--;
    return false;
  };
}

/**
 * The EPT-violation qualification walk_addr_generic synthesizes (SDM §29.3.3.2): the access type,
 * GVA_IS_VALID, paging-structure vs translated access, and the EPTE rights ANDed over the walk.
 */
export function ept_violation_qualification(p: WalkCtx['p'], access: bigint, raw: bigint, mbec: boolean): bigint {
  const write = (access & PFERR.WRITE) !== 0n;
  const fetch = (access & PFERR.FETCH) !== 0n;
  let q = write ? EPT_QUAL.ACC_WRITE : fetch ? EPT_QUAL.ACC_INSTR : EPT_QUAL.ACC_READ;
  // The old walker set ACC_READ whenever user_fault, which every nested access had.
  if (!has(p, 'mmu-ept-qual-one-access')) q |= EPT_QUAL.ACC_READ;
  q |= EPT_QUAL.GVA_IS_VALID;
  // A paging-structure access is also reported as a read; a final one sets GVA_TRANSLATED.
  q |= (access & PFERR.GUEST_PAGE) !== 0n ? EPT_QUAL.ACC_READ : EPT_QUAL.GVA_TRANSLATED;
  const r = (raw & 1n) !== 0n, w = (raw & 2n) !== 0n, x = (raw & 4n) !== 0n;
  if (has(p, 'mmu-ept-qual-raw-rwx')) {
    // 0780516a18f8: bits 3–5 = raw R, W, X.
    q |= (r ? EPT_QUAL.PROT_READ : 0n) | (w ? EPT_QUAL.PROT_WRITE : 0n) | (x ? EPT_QUAL.PROT_EXEC : 0n);
  } else {
    // Before it: the ACC-order rights (EXEC=1, WRITE=2, USER-as-readable=4) shifted into 3–5.
    q |= (x ? 1n << 3n : 0n) | (w ? 1n << 4n : 0n) | (r ? 1n << 5n : 0n);
  }
  if (mbec && (raw & (1n << 10n)) !== 0n) q |= EPT_QUAL.PROT_USER_EXEC;
  return q;
}

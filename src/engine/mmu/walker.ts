// L2's page walk with every paging-structure GPA and the final GPA translated through L1's nested
// TDP: KVM's FNAME(walk_addr_generic) (mmu/paging_tmpl.h) run on the nested MMU. A fault in L2's
// own tables is an L2 #PF (16-bit error code, address = GVA); a fault in L1's NPT/EPT ends the walk
// at once with the nested fault (nested_page_fault, address = the L2 GPA handed to the nested walk).
// Spec: vmx-mmu.md §4; svm.md §5.1–5.2. The loop lives in walk_core.ts, the TDP side in nested_tdp.ts.
//
// Model choices:
//  - Non-canonical GVAs are walked like KVM's walker walks them: only the index bits are used. The
//    canonical check is the caller's (the emulator raises #GP/#SS before any walk).
//  - The access's U bit is authoritative (the caller derives it from CPL); g.cpl is not consulted.
//  - CR0.PG=0: no L2 paging (nonpaging_gva_to_gpa): GPA = GVA, only the final nested translation runs.

import { CR0, CR4, EFER } from '../../arch/svm/defs.ts';
import { has, type Profile } from '../profiles.ts';
import { cc, type Trace } from '../trace.ts';
import { ACC_ALL, update_permission_bitmask } from './permission.ts';
import { translate_nested_gpa } from './nested_tdp.ts';
import { walkCore, type WalkFormat, type WalkLevel, type Xlate } from './walk_core.ts';
import { PFERR, type GuestPaging, type NestedTdp, type PhysMem, type X86Exception } from './types.ts';

export type { WalkLevel } from './walk_core.ts';
export { translate_nested_gpa } from './nested_tdp.ts';

export interface WalkCtx {
  t: Trace;
  p: Profile;
  mem: PhysMem;
}

export type WalkResult =
  | { ok: true; gpa: bigint; real_gpa: bigint; pte_access: number; levels: WalkLevel[] }
  | { ok: false; fault: X86Exception; levels: WalkLevel[]; stage: 'guest' | 'nested-page' | 'nested-final' };

/** Every check id the walkers evaluate (coverage denominator). */
export const MMU_WALK_CHECK_IDS: readonly string[] = [
  'walk-bad-mode',
  'walk-pdpte-not-present',
  'walk-no-memslot',
  'walk-not-present',
  'walk-rsvd',
  'walk-permission',
  'nested-pdpte-not-present',
  'nested-no-memslot',
  'nested-not-present',
  'nested-rsvd',
  'nested-ept-bad-xwr',
  'nested-ept-bad-memtype',
  'nested-permission',
];

function l2PageFault(t: Trace, gva: bigint, errcode: bigint, access: bigint, fetch_in_pfec: boolean): X86Exception {
  // The error path of walk_addr_generic: errcode |= write | user, FETCH when the CPU would report it;
  // built in a u16, so nothing above bit 15 reaches L2's #PF.
  const fetch = (access & PFERR.FETCH) !== 0n;
  const ec = (errcode | (access & (PFERR.WRITE | PFERR.USER)) | (fetch && fetch_in_pfec ? PFERR.FETCH : 0n)) & 0xffffn;
  t.emit('walk_fault', { walk: 'guest', address: gva, error_code: ec });
  return { vector: 14, error_code_valid: true, error_code: ec, nested_page_fault: false, address: gva, exit_qualification: 0n };
}

/**
 * FNAME(walk_addr_generic) for L2's paging (32-bit/PSE/PSE-36, PAE with the PDPTE registers,
 * 4- and 5-level), translating every table GPA and the final GPA through `tdp` (null = no nested
 * TDP: L2 GPAs are L1 GPAs). `access`: PFERR W/U/F (+ IMPLICIT_ACCESS). Never throws.
 */
export function walk_addr_generic(ctx: WalkCtx, g: GuestPaging, tdp: NestedTdp | null, gva: bigint, access: bigint): WalkResult {
  const { t, mem } = ctx;
  const acc = BigInt.asUintN(64, access);
  const addr = BigInt.asUintN(64, gva);
  const xlate: Xlate | null = tdp
    ? (gpa, a, leaf) => {
        const r = translate_nested_gpa(ctx, tdp, gpa, a, leaf);
        return r.ok ? { ok: true, gpa: r.gpa } : { ok: false, fault: r.fault };
      }
    : null;

  const efer = g.efer, cr0 = g.cr0, cr4 = g.cr4;
  const fetch_in_pfec = (efer & EFER.NX) !== 0n || (cr4 & CR4.SMEP) !== 0n;

  if ((cr0 & CR0.PG) === 0n) {
    // No L2 paging: the GVA is the L2 GPA; only the final nested translation can fault.
    if (!xlate) return { ok: true, gpa: addr, real_gpa: addr, pte_access: ACC_ALL, levels: [] };
    const r = xlate(addr & ~0xfffn, acc | PFERR.GUEST_FINAL, ACC_ALL);
    if (!r.ok) return { ok: false, fault: r.fault, levels: [], stage: 'nested-final' };
    return { ok: true, gpa: addr, real_gpa: (r.gpa & ~0xfffn) | (addr & 0xfffn), pte_access: ACC_ALL, levels: [] };
  }

  const lma = (efer & EFER.LMA) !== 0n;
  const pae = (cr4 & CR4.PAE) !== 0n;
  // KVM_BUG_ON(is_long_mode && !is_pae): a state the CPU can't be in; the walk errors out.
  if (cc(t, 'walk-bad-mode', lma && !pae)) {
    t.warn('walk_addr_generic: long mode without PAE');
    return { ok: false, fault: l2PageFault(t, addr, 0n, acc, fetch_in_pfec), levels: [], stage: 'guest' };
  }
  const perm = update_permission_bitmask({
    ept: false,
    cr0_wp: (cr0 & CR0.WP) !== 0n,
    nx: (efer & EFER.NX) !== 0n,
    smep: (cr4 & CR4.SMEP) !== 0n,
    smap: (cr4 & CR4.SMAP) !== 0n,
    // Protection keys exist only in IA-32e paging.
    pke: (cr4 & CR4.PKE) !== 0n && lma,
    mbec: false,
    track_read: false,
  });
  const f: WalkFormat = {
    kind: pae ? 'pt64' : 'pt32',
    root_level: lma ? ((cr4 & CR4.LA57) !== 0n ? 5 : 4) : pae ? 3 : 2,
    root: g.cr3,
    pdpte: !lma && pae ? (i: number) => g.pdptrs[i] ?? 0n : null,
    maxphyaddr: g.maxphyaddr,
    nx: (efer & EFER.NX) !== 0n,
    pse: (cr4 & CR4.PSE) !== 0n,
    pse36: g.pse36,
    ad: true,
    mbec: false,
    execonly: false,
    perm: { ...perm, rflags: g.rflags, pkru: g.pkru, smap_implicit: has(ctx.p, 'mmu-smap-implicit-access') },
    fetch_in_pfec,
    nested: false,
  };

  const r = walkCore(t, mem, f, addr, acc, xlate, 'guest');
  if (r.kind === 'ok') return { ok: true, gpa: r.gpa, real_gpa: r.real_gpa, pte_access: r.pte_access, levels: r.levels };
  if (r.kind === 'nested') return { ok: false, fault: r.fault, levels: r.levels, stage: r.stage };
  return { ok: false, fault: l2PageFault(t, addr, r.errcode, acc, fetch_in_pfec), levels: r.levels, stage: 'guest' };
}

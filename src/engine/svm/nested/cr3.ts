// nested_svm_load_cr3 and load_pdptrs (nested.c, x86.c): CR3 must be legal in every paging mode,
// and a PAE guest without nested NPT has its four PDPTEs read and checked now (SDM 4.4.1, APM 5.3.2).

import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import { cc } from '../../trace.ts';
import { kvm_vcpu_is_legal_cr3 } from '../../x86.ts';
import type { Ctx } from '../ctx.ts';

export interface PagingRegs {
  efer: bigint;
  cr0: bigint;
  cr4: bigint;
}

/** is_pae_paging: PAE paging outside long mode (LMA as loaded, not recomputed). */
export function is_pae_paging(r: PagingRegs): boolean {
  return (r.efer & EFER.LMA) === 0n && (r.cr4 & CR4.PAE) !== 0n && (r.cr0 & CR0.PG) !== 0n;
}

/** Reserved bits of a present PAE PDPTE: 63:MAXPHYADDR, 8:5 and 2:1 (KVM pdptr_rsvd_bits). */
export function pdpte_rsvd_bits(maxphyaddr: number): bigint {
  const high = ((1n << 64n) - 1n) ^ ((1n << BigInt(maxphyaddr)) - 1n);
  return high | 0x1e0n | 0x6n;
}

/** load_pdptrs: read the PDPT at CR3[31:5] from L1 memory; a reserved bit in a present entry fails. */
export function load_pdptrs(ctx: Ctx, cr3: bigint): boolean {
  const { v, t } = ctx;
  const base = cr3 & 0xffffffe0n;
  const raw = v.mem.read(base, 32);
  if (cc(t, 'pdpt-unreadable', raw === null)) return false;
  const rsvd = pdpte_rsvd_bits(v.maxphyaddr);
  const pdptrs: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    let e = 0n;
    for (let b = 7; b >= 0; b--) e = (e << 8n) | BigInt(raw![i * 8 + b]);
    pdptrs.push(e);
  }
  for (let i = 0; i < 4; i++) {
    if (cc(t, 'pdpte-reserved-bits', (pdptrs[i] & 1n) !== 0n && (pdptrs[i] & rsvd) !== 0n)) return false;
  }
  v.pdptrs = pdptrs;
  v.pdptrs_lazy = false;
  return true;
}

/**
 * nested_svm_load_cr3. `mode` is the paging state is_pae_paging is judged on: L2's once
 * prepare_save has loaded it (kvm-next), L2's cached values in the unified series, and — the flaw
 * found in review of unified v4 — L1's, because load_cr3 ran before L2's CR0/CR4/EFER were loaded.
 * Returns 0 or -EINVAL (-22).
 */
export function nested_svm_load_cr3(ctx: Ctx, cr3: bigint, nested_npt: boolean, reload_pdptrs: boolean, mode: PagingRegs): number {
  const { v, t } = ctx;
  if (cc(t, 'cr3-illegal', !kvm_vcpu_is_legal_cr3(cr3, v.maxphyaddr, v.guest))) return -22;
  if (reload_pdptrs && is_pae_paging(mode)) {
    if (nested_npt) v.pdptrs_lazy = true;
    else if (!load_pdptrs(ctx, cr3)) return -22;
  }
  v.regs.cr3 = cr3;
  if (v.current === '02') v.vmcb02.save.cr3 = cr3;
  else v.vmcb01.save.cr3 = cr3;
  t.emit('nested_svm_load_cr3', { cr3, nested_npt, pae: is_pae_paging(mode) });
  return 0;
}

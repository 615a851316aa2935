// nested_svm_merge_msrpm (nested.c): for the MSRs L0 may pass through, vmcb02's bitmap is L0's OR
// L1's, read from L1's MSRPM (8 bytes per chunk). A chunk that cannot be read fails VMRUN.

import { INTERCEPT, isIntercept } from '../../../arch/svm/defs.ts';
import { cc } from '../../trace.ts';
import type { Ctx } from '../ctx.ts';

/** svm_msrpm_bit_nr: 2 bits per MSR in three 2 KiB ranges; -1 for an MSR no range covers. */
export function svm_msrpm_bit_nr(msr: number): number {
  const ranges = [0x00000000, 0xc0000000, 0xc0010000];
  for (let r = 0; r < 3; r++) {
    if (msr >= ranges[r] && msr < ranges[r] + 0x2000) return r * 2048 * 8 + (msr - ranges[r]) * 2;
  }
  return -1;
}

/** MSRs L0 may let L1 (and so L2) access directly: the merge covers the chunks that hold them. */
const PASSTHROUGH_MSRS = [
  0xc0000081, 0x174, 0x175, 0x176, 0xc0000101, 0xc0000100, 0xc0000102, 0xc0000082, 0xc0000083,
  0xc0000084, 0x48, 0x49, 0x10b, 0xe8, 0xe7, 0x1db, 0x1dc, 0x1dd, 0x1de, 0xc0010004, 0xc0010005,
  0xc0010006, 0xc0010007, 0xc0010201, 0xc0010203, 0xc0010205, 0xc0010207, 0xc0010209, 0xc001020b,
  0xc0000300, 0xc0000301, 0xc0000302,
];

/** Byte offsets (8-byte chunks) of L1's MSRPM that the merge reads. */
export const MSRPM_MERGE_OFFSETS: readonly number[] = [...new Set(PASSTHROUGH_MSRS.map((m) => (svm_msrpm_bit_nr(m) >> 6) << 3))].sort((a, b) => a - b);

export function nested_svm_merge_msrpm(ctx: Ctx): boolean {
  const { v, t } = ctx;
  const c = v.nested.ctl;
  if (!isIntercept(c.intercepts, INTERCEPT.MSR_PROT)) {
    // L1 does not intercept MSRs: vmcb02 keeps L0's own bitmap.
    return true;
  }
  for (const off of MSRPM_MERGE_OFFSETS) {
    const chunk = v.mem.read(c.msrpm_base_pa + BigInt(off), 8);
    if (cc(t, 'msrpm-unreadable', chunk === null)) return false;
  }
  v.nested.force_msr_bitmap_recalc = false;
  v.nested.msrpm02_merged = true;
  t.emit('nested_svm_merge_msrpm', { msrpm_base_pa: c.msrpm_base_pa });
  return true;
}

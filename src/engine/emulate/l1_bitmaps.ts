// L1's permission bitmaps, read from L1 memory the way KVM reads them when it decides whether an L2
// I/O or MSR exit belongs to L1. A bitmap byte KVM cannot read counts as "intercepted" (KVM returns
// NESTED_EXIT_DONE / true when kvm_vcpu_read_guest fails).

import { svm_msrpm_bit_nr } from '../svm/nested/msrpm.ts';
import { readPhys8, type PhysMem } from '../mmu/types.ts';
import type { L1Controls } from './l2_insn.ts';

const bitSet = (mem: PhysMem, gpa: bigint, bit: number): boolean => {
  const b = readPhys8(mem, gpa);
  return b === null || ((b >> bit) & 1) === 1;
};

/**
 * nested_svm_intercept_ioio: one bit per port in L1's IOPM; a multi-byte access tests the bits of
 * every port it touches, read as one or two bytes from iopm_base + port / 8 (APM §15.10.1: the IOPM
 * is 12 KiB so the bits past port 0xffff exist; nothing wraps).
 */
export function nested_svm_intercept_ioio(mem: PhysMem, l1: L1Controls, port: number, size: number, firstPortOnly = false): boolean {
  if (l1.io !== 'bitmap') return false;
  const gpa = l1.iopm_base + BigInt(port >>> 3);
  const start = port & 7;
  const lo = readPhys8(mem, gpa);
  const hi = start + size > 8 ? readPhys8(mem, gpa + 1n) : 0;
  if (lo === null || hi === null) return true;
  const mask = ((0xf >> (4 - size)) & (firstPortOnly ? 1 : 0xf)) << start;
  return ((lo | (hi << 8)) & mask) !== 0;
}

/** nested_svm_exit_handled_msr: MSR_PROT off → L0's; an MSR no MSRPM range covers → L1's; else its read/write bit. */
export function nested_svm_exit_handled_msr(mem: PhysMem, l1: L1Controls, msr: number, write: boolean): boolean {
  if (l1.msr !== 'bitmap') return false;
  const bit = svm_msrpm_bit_nr(msr);
  if (bit < 0) return true;
  const n = bit + (write ? 1 : 0);
  return bitSet(mem, l1.msrpm_base + BigInt(n >>> 3), n & 7);
}

/**
 * nested_vmx_exit_handled_io / nested_vmx_check_io_bitmaps: without "use I/O bitmaps" the
 * unconditional-I/O-exiting control decides; with them every port the access touches is looked up
 * in bitmap A (0x0000-0x7fff) or B (0x8000-0xffff), and an access that wraps past 0xffff exits
 * (SDM §26.1.3).
 */
export function nested_vmx_check_io_bitmaps(mem: PhysMem, l1: L1Controls, port: number, size: number, firstPortOnly = false): boolean {
  if (l1.io !== 'bitmap') return l1.io === 'all';
  for (let p = port, n = firstPortOnly ? 1 : size; n > 0; p++, n--) {
    if (p > 0xffff) return true;
    const bitmap = l1.iopm_base + (p < 0x8000 ? 0n : 0x1000n);
    if (bitSet(mem, bitmap + BigInt((p & 0x7fff) >>> 3), p & 7)) return true;
  }
  return false;
}

/**
 * nested_vmx_exit_handled_msr: without "use MSR bitmaps" every RDMSR/WRMSR exits; with them the
 * read bitmaps (low 0x000, high 0x400) or write bitmaps (low 0x800, high 0xc00) cover MSRs
 * 0-0x1fff and 0xc0000000-0xc0001fff, and any other MSR exits (SDM §26.1.3, §25.6.9).
 */
export function nested_vmx_exit_handled_msr(mem: PhysMem, l1: L1Controls, msr: number, write: boolean): boolean {
  if (l1.msr !== 'bitmap') return true;
  let index = msr >>> 0;
  let base = l1.msrpm_base + (write ? 0x800n : 0n);
  if (index >= 0xc0000000) {
    index -= 0xc0000000;
    base += 0x400n;
  }
  if (index >= 0x2000) return true;
  return bitSet(mem, base + BigInt(index >>> 3), index & 7);
}

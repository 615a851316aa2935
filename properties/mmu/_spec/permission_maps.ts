// L1's I/O and MSR permission maps as the manuals define them, read straight from L1 memory; written
// for the routing oracle of l2-exit-routing, sharing no code with the engine (l1_bitmaps.ts).
//  - APM vol. 2 §15.10.1: the IOPM has one bit per port and is 12 KiB, so the bits of every port of
//    a multi-byte access exist (none wraps); an access is intercepted if any of its bits is set.
//  - APM vol. 2 §15.11: the MSRPM holds two bits (read, write) per MSR in three 2 KiB vectors for MSRs
//    0-0x1fff, 0xc0000000-0xc0001fff and 0xc0010000-0xc0011fff; an MSR outside them is intercepted.
//  - SDM vol. 3C §26.1.3 / §25.6.4: without I/O bitmaps, "unconditional I/O exiting" decides; with
//    them, bitmap A covers 0-0x7fff and B 0x8000-0xffff, and an access wrapping past 0xffff exits.
//  - SDM vol. 3C §26.1.3 / §25.6.9: without MSR bitmaps every RDMSR/WRMSR exits; with them, four
//    1 KiB quarters (read low, read high, write low, write high) cover 0-0x1fff and
//    0xc0000000-0xc0001fff, and any other MSR exits.
// A bitmap byte outside L1 memory counts as set (KVM treats a failed read as "L1 wants the exit").

import type { L1Controls } from '../../../src/engine/emulate/l2_insn.ts';
import type { PhysMem } from '../../../src/engine/mmu/types.ts';

function permissionBit(mem: PhysMem, base: bigint, bitIndex: number): boolean {
  const byteGpa = base + BigInt(Math.floor(bitIndex / 8));
  if (byteGpa + 1n > mem.ram_top) return true;
  const word = mem.words['0x' + (byteGpa - (byteGpa % 8n)).toString(16)] ?? 0n;
  const byte = (word >> (8n * (byteGpa % 8n))) & 0xffn;
  return ((byte >> BigInt(bitIndex % 8)) & 1n) === 1n;
}

export function ioExitsToL1(flavour: 'svm' | 'vmx', l1: L1Controls, mem: PhysMem, port: number, size: number): boolean {
  if (flavour === 'svm') {
    if (l1.io !== 'bitmap') return false;
    for (let i = 0; i < size; i++) if (permissionBit(mem, l1.iopm_base, port + i)) return true;
    return false;
  }
  if (l1.io === 'all') return true;
  if (l1.io !== 'bitmap') return false;
  for (let i = 0; i < size; i++) {
    const p = port + i;
    if (p > 0xffff) return true;
    if (p < 0x8000 ? permissionBit(mem, l1.iopm_base, p) : permissionBit(mem, l1.iopm_base + 0x1000n, p - 0x8000)) return true;
  }
  return false;
}

export function msrExitsToL1(flavour: 'svm' | 'vmx', l1: L1Controls, mem: PhysMem, msr: number, write: boolean): boolean {
  if (flavour === 'svm') {
    if (l1.msr !== 'bitmap') return false;
    const vectors: Array<[number, number]> = [[0x0, 0x0], [0xc0000000, 0x800], [0xc0010000, 0x1000]];
    const hit = vectors.find(([first]) => msr >= first && msr <= first + 0x1fff);
    if (!hit) return true;
    return permissionBit(mem, l1.msrpm_base + BigInt(hit[1]), 2 * (msr - hit[0]) + (write ? 1 : 0));
  }
  if (l1.msr !== 'bitmap') return true;
  const quarter = (write ? 0x800 : 0) + (msr >= 0xc0000000 ? 0x400 : 0);
  const index = msr >= 0xc0000000 ? msr - 0xc0000000 : msr;
  if (index > 0x1fff) return true;
  return permissionBit(mem, l1.msrpm_base + BigInt(quarter), index);
}

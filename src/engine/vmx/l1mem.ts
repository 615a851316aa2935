// L1 memory as the VMX engine sees it: 8-byte words keyed by GPA (scenario.mem), inside memslots
// that cover [0, ram_top). kvm_vcpu_read_guest fails outside a memslot; a word never written reads 0.
// Writes go to the same record (the run works on its own copy of the scenario's memory).

import { memKey } from './scenario.ts';

export class L1Memory {
  constructor(
    readonly words: Record<string, bigint>,
    readonly ram_top: bigint,
  ) {}

  /** kvm_vcpu_read_guest succeeds only when every byte lies in a memslot. */
  readable(gpa: bigint, len: number): boolean {
    return gpa >= 0n && gpa + BigInt(len) <= this.ram_top;
  }

  /** The naturally aligned u64 at gpa (callers read 8-aligned words: MSR entries, bitmap words, headers). */
  read64(gpa: bigint): bigint | null {
    if (!this.readable(gpa, 8)) return null;
    return BigInt.asUintN(64, this.words[memKey(gpa)] ?? 0n);
  }

  /** The u32 at gpa (4-aligned), from its 8-byte word, little-endian. */
  read32(gpa: bigint): number | null {
    const w = this.read64(gpa & ~7n);
    if (w === null) return null;
    return Number((gpa & 4n) === 0n ? w & 0xffffffffn : w >> 32n);
  }

  write64(gpa: bigint, value: bigint): boolean {
    if (!this.readable(gpa, 8)) return false;
    this.words[memKey(gpa)] = BigInt.asUintN(64, value);
    return true;
  }

  /** Bit `bit` of the page at `base` (MSR and I/O bitmaps; SDM §25.6.9: bit n of byte n/8). */
  bit(base: bigint, bit: number): boolean | null {
    const w = this.read64(base + BigInt((bit >>> 6) << 3));
    if (w === null) return null;
    return ((w >> BigInt(bit & 63)) & 1n) === 1n;
  }
}

// L1 physical memory as VMRUN's own reads see it, built from the scenario (no engine code).

import { encodeVmcb } from '../../../src/arch/svm/codec.ts';

import { type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import { vmcb12GpaFromRax } from './helpers.ts';
import type { L1State } from '../../../src/engine/svm/scenario.ts';
import type { PhysMem, VmrunEnv } from './types.ts';

// ---------------------------------------------------------------------------------------------
// L1's memory, built from the scenario the way VMRUN would find it.

export function parseHex(hex: string): Uint8Array {
  const digits = hex.replace(/^0x/i, '').replace(/[^0-9a-f]/gi, '');
  const out = new Uint8Array(digits.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

class L1Memory implements PhysMem {
  private readonly pages = new Map<bigint, Uint8Array>();

  constructor(private readonly l1: L1State) {}

  pageBacked(gpa: bigint): boolean {
    const page = gpa & ~0xfffn;
    return this.l1.memslots.some((s) => page >= s.base && page < s.base + s.size);
  }

  private rangeBacked(gpa: bigint, len: number): boolean {
    if (gpa < 0n) return false;
    for (let p = gpa & ~0xfffn; p <= gpa + BigInt(Math.max(len, 1) - 1); p += 4096n) if (!this.pageBacked(p)) return false;
    return true;
  }

  /** A write lands only when every byte of it is backed. */
  write(gpa: bigint, data: Uint8Array): void {
    if (!this.rangeBacked(gpa, data.length)) return;
    for (let i = 0; i < data.length; i++) {
      const a = gpa + BigInt(i);
      const pfn = a >> 12n;
      let pg = this.pages.get(pfn);
      if (!pg) this.pages.set(pfn, (pg = new Uint8Array(4096)));
      pg[Number(a & 0xfffn)] = data[i];
    }
  }

  setPage(gpa: bigint, bytes: Uint8Array): void {
    if (this.pageBacked(gpa)) this.pages.set(gpa >> 12n, bytes);
  }

  read(gpa: bigint, len: number): Uint8Array | null {
    if (!this.rangeBacked(gpa, len)) return null;
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = gpa + BigInt(i);
      out[i] = this.pages.get(a >> 12n)?.[Number(a & 0xfffn)] ?? 0;
    }
    return out;
  }
}

/** The environment of one VMRUN: L1's CPU, its memory with vmcb12 in place at the address rAX gives. */
export function vmrunEnv(l1: L1State, vmcb12: Vmcb): VmrunEnv {
  const mem = new L1Memory(l1);
  for (const [k, hex] of Object.entries(l1.memory ?? {})) {
    let gpa: bigint;
    try {
      gpa = BigInt(k);
    } catch {
      continue;
    }
    mem.write(gpa, parseHex(hex));
  }
  const gpa = vmcb12GpaFromRax(l1);
  mem.setPage(gpa & ~0xfffn, encodeVmcb(vmcb12));
  return { cpu: l1.guest, maxphyaddr: l1.maxphyaddr, vmcb12Gpa: gpa, mem };
}

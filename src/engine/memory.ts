// L1 guest-physical memory: sparse 4 KiB pages inside memslots. A read outside every memslot fails
// the way kvm_vcpu_map / kvm_vcpu_read_guest fail (no backing gfn). Pages that hold a VMCB are kept
// as a decoded Vmcb so the hot path (map vmcb12, copy to cache) never re-decodes a page; a byte
// read of such a page encodes it on demand.

import { encodeVmcb, decodeVmcb } from '../arch/svm/codec.ts';
import { cloneVmcb, type Vmcb } from '../arch/svm/vmcb.ts';

export interface Memslot {
  base: bigint;
  size: bigint;
}

type Page = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'vmcb'; vmcb: Vmcb };

export class GuestMemory {
  private pages = new Map<number, Page>();

  constructor(readonly memslots: readonly Memslot[]) {}

  /** kvm_is_visible_gfn-style test: is this GPA backed by a memslot? */
  backed(gpa: bigint): boolean {
    for (const s of this.memslots) if (gpa >= s.base && gpa < s.base + s.size) return true;
    return false;
  }

  rangeBacked(gpa: bigint, len: number): boolean {
    if (len <= 0) return true;
    const last = gpa + BigInt(len - 1);
    for (let p = gpa >> 12n; p <= last >> 12n; p++) if (!this.backed(p << 12n)) return false;
    return true;
  }

  private pageBytes(pfn: number, create: boolean): Uint8Array | undefined {
    const pg = this.pages.get(pfn);
    if (pg?.kind === 'bytes') return pg.bytes;
    if (pg?.kind === 'vmcb') {
      const bytes = encodeVmcb(pg.vmcb);
      // A write turns the page back into bytes; a read leaves live Vmcb views intact.
      if (create) this.pages.set(pfn, { kind: 'bytes', bytes });
      return bytes;
    }
    if (!create) return undefined;
    const bytes = new Uint8Array(4096);
    this.pages.set(pfn, { kind: 'bytes', bytes });
    return bytes;
  }

  /** kvm_vcpu_read_guest: null when any byte is unbacked. */
  read(gpa: bigint, len: number): Uint8Array | null {
    if (gpa < 0n || !this.rangeBacked(gpa, len)) return null;
    const out = new Uint8Array(len);
    let off = 0;
    let a = gpa;
    while (off < len) {
      const pfn = Number(a >> 12n);
      const po = Number(a & 0xfffn);
      const n = Math.min(len - off, 4096 - po);
      const pg = this.pages.get(pfn);
      if (pg) {
        const bytes = pg.kind === 'bytes' ? pg.bytes : this.pageBytes(pfn, false)!;
        out.set(bytes.subarray(po, po + n), off);
      }
      off += n;
      a += BigInt(n);
    }
    return out;
  }

  readU64(gpa: bigint): bigint | null {
    const b = this.read(gpa, 8);
    if (!b) return null;
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  }

  /** kvm_vcpu_write_guest: false when unbacked. */
  write(gpa: bigint, data: Uint8Array): boolean {
    if (gpa < 0n || !this.rangeBacked(gpa, data.length)) return false;
    let off = 0;
    let a = gpa;
    while (off < data.length) {
      const pfn = Number(a >> 12n);
      const po = Number(a & 0xfffn);
      const n = Math.min(data.length - off, 4096 - po);
      this.pageBytes(pfn, true)!.set(data.subarray(off, off + n), po);
      off += n;
      a += BigInt(n);
    }
    return true;
  }

  writeU64(gpa: bigint, v: bigint): boolean {
    const b = new Uint8Array(8);
    for (let i = 0; i < 8; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return this.write(gpa, b);
  }

  /** Place a whole VMCB page (gpa page-aligned by the caller). */
  putVmcb(gpa: bigint, v: Vmcb): boolean {
    if (!this.backed(gpa)) return false;
    this.pages.set(Number(gpa >> 12n), { kind: 'vmcb', vmcb: cloneVmcb(v) });
    return true;
  }

  /**
   * kvm_vcpu_map of a VMCB page: a live view the caller may modify in place, or null when the
   * page is not backed (the caller decides what KVM does about it).
   */
  mapVmcb(gpa: bigint): Vmcb | null {
    const page = gpa & ~0xfffn;
    if (!this.backed(page)) return null;
    const pfn = Number(page >> 12n);
    const pg = this.pages.get(pfn);
    if (pg?.kind === 'vmcb') return pg.vmcb;
    const vmcb = decodeVmcb(pg?.kind === 'bytes' ? pg.bytes : new Uint8Array(4096));
    this.pages.set(pfn, { kind: 'vmcb', vmcb });
    return vmcb;
  }

  /** Deep copy, for before/after comparisons. */
  clone(): GuestMemory {
    const m = new GuestMemory(this.memslots);
    for (const [k, pg] of this.pages) {
      m.pages.set(k, pg.kind === 'bytes' ? { kind: 'bytes', bytes: pg.bytes.slice() } : { kind: 'vmcb', vmcb: cloneVmcb(pg.vmcb) });
    }
    return m;
  }

  /** Page frame numbers that hold data (for diffs). */
  pfns(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }

  pageImage(pfn: number): Uint8Array {
    return this.read(BigInt(pfn) << 12n, 4096) ?? new Uint8Array(4096);
  }
}

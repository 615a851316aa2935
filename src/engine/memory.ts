// L1 guest-physical memory: sparse bytes inside memslots. A read outside every memslot fails the
// way kvm_vcpu_map / kvm_vcpu_read_guest fail (no backing gfn). Pages that hold a VMCB are kept as
// a decoded Vmcb so the hot path (map vmcb12, copy to cache) never decodes bytes; a byte access
// to such a page encodes it on demand. GPAs stay below 2^52, so a number indexes bytes exactly.

import { decodeVmcb, encodeVmcb } from '../arch/svm/codec.ts';
import { cloneVmcb, type Vmcb } from '../arch/svm/vmcb.ts';

export interface Memslot {
  base: bigint;
  size: bigint;
}

/** Split [a, a + len) into per-page pieces: fn(page frame, offset in page, length, offset in data). */
function forEachPageChunk(a: number, len: number, fn: (pfn: number, off: number, n: number, done: number) => void): void {
  let done = 0;
  while (done < len) {
    const addr = a + done;
    const pfn = Math.floor(addr / 4096);
    const off = addr - pfn * 4096;
    const n = Math.min(len - done, 4096 - off);
    fn(pfn, off, n, done);
    done += n;
  }
}

export class GuestMemory {
  /** Page frame number → (offset → byte) for bytes ever written; everything else reads as zero. */
  private bytes = new Map<number, Map<number, number>>();
  /** Page frame number → live VMCB view. */
  private vmcbs = new Map<number, Vmcb>();
  /**
   * Initial contents not yet written: page frame number → [offset, bytes] chunks in order. Most runs
   * never touch most scenario pages, so they are only written when first accessed.
   */
  private pending = new Map<number, [number, Uint8Array][]>();

  /** Initial guest memory (the scenario's): written lazily, on the first access to each page. */
  preload(gpa: bigint, data: Uint8Array): void {
    if (gpa < 0n) return;
    forEachPageChunk(Number(gpa), data.length, (pfn, off, n, done) => {
      let list = this.pending.get(pfn);
      if (!list) {
        list = [];
        this.pending.set(pfn, list);
      }
      list.push([off, data.subarray(done, done + n)]);
    });
  }

  private materialize(pfn: number): void {
    const list = this.pending.get(pfn);
    if (!list) return;
    this.pending.delete(pfn);
    for (const [off, chunk] of list) this.write(BigInt(pfn * 4096 + off), chunk);
  }

  private materializeRange(a: number, len: number): void {
    if (!this.pending.size) return;
    const last = Math.floor((a + Math.max(len, 1) - 1) / 4096);
    for (let p = Math.floor(a / 4096); p <= last; p++) this.materialize(p);
  }

  constructor(public memslots: readonly Memslot[]) {}

  /** KVM_SET_USER_MEMORY_REGION with size 0: the memslot holding `gpa` disappears. */
  deleteMemslotAt(gpa: bigint): boolean {
    const left = this.memslots.filter((s) => !(gpa >= s.base && gpa < s.base + s.size));
    const removed = left.length !== this.memslots.length;
    this.memslots = left;
    return removed;
  }

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

  /** Turn a VMCB page back into bytes before a byte-level write touches it. */
  private flattenVmcb(pfn: number): void {
    const v = this.vmcbs.get(pfn);
    if (!v) return;
    const page = encodeVmcb(v);
    const m = new Map<number, number>();
    for (let i = 0; i < 4096; i++) if (page[i]) m.set(i, page[i]);
    this.bytes.set(pfn, m);
    this.vmcbs.delete(pfn);
  }

  /** kvm_vcpu_read_guest: null when any byte is unbacked. */
  read(gpa: bigint, len: number): Uint8Array | null {
    if (gpa < 0n || !this.rangeBacked(gpa, len)) return null;
    const out = new Uint8Array(len);
    const a = Number(gpa);
    this.materializeRange(a, len);
    forEachPageChunk(a, len, (pfn, off, n, done) => {
      const v = this.vmcbs.get(pfn);
      if (v) {
        out.set(encodeVmcb(v).subarray(off, off + n), done);
      } else {
        const m = this.bytes.get(pfn);
        if (m) for (let i = 0; i < n; i++) out[done + i] = m.get(off + i) ?? 0;
      }
    });
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
    const a = Number(gpa);
    this.materializeRange(a, data.length);
    forEachPageChunk(a, data.length, (pfn, off, n, done) => {
      this.flattenVmcb(pfn);
      let m = this.bytes.get(pfn);
      if (!m) {
        m = new Map();
        this.bytes.set(pfn, m);
      }
      for (let k = 0; k < n; k++) m.set(off + k, data[done + k]);
    });
    return true;
  }

  writeU64(gpa: bigint, v: bigint): boolean {
    const b = new Uint8Array(8);
    for (let i = 0; i < 8; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return this.write(gpa, b);
  }

  /**
   * Place a whole VMCB page (gpa page-aligned by the caller). With `adopt`, the caller hands over a
   * copy it will not touch again, saving a clone on the hot path.
   */
  putVmcb(gpa: bigint, v: Vmcb, adopt = false): boolean {
    if (!this.backed(gpa)) return false;
    const pfn = Number(gpa >> 12n);
    this.pending.delete(pfn); // the whole page is replaced
    this.bytes.delete(pfn);
    this.vmcbs.set(pfn, adopt ? v : cloneVmcb(v));
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
    this.materialize(pfn);
    const live = this.vmcbs.get(pfn);
    if (live) return live;
    const vmcb = decodeVmcb(this.bytes.has(pfn) ? this.read(page, 4096)! : new Uint8Array(4096));
    this.bytes.delete(pfn);
    this.vmcbs.set(pfn, vmcb);
    return vmcb;
  }

  /** Page frame numbers that hold data (for diffs). */
  pfns(): number[] {
    for (const p of [...this.pending.keys()]) this.materialize(p);
    const s = new Set<number>([...this.vmcbs.keys(), ...this.bytes.keys()]);
    return [...s].sort((a, b) => a - b);
  }

  pageImage(pfn: number): Uint8Array {
    return this.read(BigInt(pfn) << 12n, 4096) ?? new Uint8Array(4096);
  }
}

// Where L2's code goes in a nested-walk reproducer. The scenario's tables map only the access: L2
// also needs its instruction mapped, and that mapping must not change what the access's walk reads.
// The code gets its own L2 tables below an entry no walk of the scenario reads (as high in L2's
// tables as a free entry allows: the less the two walks share, the less the code fetch can fault
// where the access would), each new table and the code page at fresh L2 GPAs that L1's NPT maps
// through entries no walk of the scenario reads either. An entry is free when it is zero and the
// scenario's walk does not read it; nothing the scenario wrote is ever overwritten.

import { ADDR51_12 } from '../../../engine/mmu/walk_core.ts';
import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import type { GuestPaging } from '../../../engine/mmu/types.ts';
import { nptLookup, PTE, type ImageMemory } from './memory.ts';

export type GuestFormatName = 'long4' | 'long5' | 'pae' | 'legacy32' | 'nonpaged';

/** L2's paging mode as the CPU takes it from the VMCB: CR0.PG, EFER.LMA, CR4.PAE / LA57 (APM 5.1). */
export function guestFormat(g: GuestPaging): GuestFormatName {
  if ((g.cr0 & CR0.PG) === 0n) return 'nonpaged';
  if ((g.efer & EFER.LMA) !== 0n) return (g.cr4 & CR4.LA57) !== 0n ? 'long5' : 'long4';
  return (g.cr4 & CR4.PAE) !== 0n ? 'pae' : 'legacy32';
}

interface Shape {
  levels: number;
  entryBytes: 4n | 8n;
  /** Index bits at a level (1 = the page table). */
  width: (level: number) => number;
  shift: (level: number) => number;
  addr: bigint;
  /** The top table's address from CR3 (PAE: the 32-byte PDPT). */
  top: (cr3: bigint) => bigint;
  /** A large-page leaf at this level (PS). */
  large: (level: number, e: bigint) => boolean;
  long: boolean;
}

function shape(f: GuestFormatName, g: GuestPaging): Shape | null {
  const pse = (g.cr4 & CR4.PSE) !== 0n;
  const ps = (e: bigint): boolean => (e & PTE.PS) !== 0n;
  switch (f) {
    case 'long4':
      return { levels: 4, entryBytes: 8n, width: () => 9, shift: (l) => 12 + 9 * (l - 1), addr: ADDR51_12, top: (c) => c & ADDR51_12, large: (l, e) => (l === 2 || l === 3) && ps(e), long: true };
    case 'pae':
      return { levels: 3, entryBytes: 8n, width: (l) => (l === 3 ? 2 : 9), shift: (l) => 12 + 9 * (l - 1), addr: ADDR51_12, top: (c) => c & 0xffffffe0n, large: (l, e) => l === 2 && ps(e), long: false };
    case 'legacy32':
      return { levels: 2, entryBytes: 4n, width: () => 10, shift: (l) => 12 + 10 * (l - 1), addr: 0xfffff000n, top: (c) => c & 0xfffff000n, large: (l, e) => l === 2 && pse && ps(e), long: false };
    default:
      return null;
  }
}

function indexOf(s: Shape, va: bigint, level: number): bigint {
  return (va >> BigInt(s.shift(level))) & ((1n << BigInt(s.width(level))) - 1n);
}

/** va's indices above `level`, index `i` at it, zeros below; canonical in long mode (APM 5.3.1). */
function compose(s: Shape, va: bigint, level: number, i: bigint): bigint {
  const bits = BigInt(s.shift(level) + s.width(level));
  const span = s.long ? (1n << 48n) - 1n : 0xffffffffn;
  const v = (((va & span) >> bits) << bits) | (i << BigInt(s.shift(level)));
  return s.long && (v & (1n << 47n)) !== 0n ? v | 0xffff000000000000n : v;
}

/**
 * Fresh L2 GPAs, one 2 MiB region at a time, each page mapped by L1's NPT through entries the
 * scenario's walks do not read. Regions below 4 GiB come first (32-bit paging holds 32-bit table
 * addresses; an unpaged 32-bit L2 fetches below 4 GiB).
 */
export class FreshL2 {
  private readonly regions: bigint[];
  private used = 0n;

  constructor(private readonly mem: ImageMemory, private readonly ncr3: bigint, private readonly forbidden: Set<bigint>, maxphyaddr: number) {
    const limit = 1n << BigInt(maxphyaddr);
    this.regions = [0xffe00000n, 0xbfe00000n, 0x7fe00000n, 0x3fe00000n, 1n << 38n, 1n << 39n].filter((r) => r + 0x200000n <= limit);
  }

  /** An L2 GPA mapped to the L1 page `pa`, or null when no region is left. */
  page(pa: bigint): bigint | null {
    while (this.regions.length > 0) {
      if (this.used < 512n) {
        const gpa = this.regions[0] + this.used * 0x1000n;
        const undo = this.mem.save();
        if (this.map(gpa, pa)) {
          this.used++;
          return gpa;
        }
        this.mem.restore(undo);
      }
      this.regions.shift();
      this.used = 0n;
    }
    return null;
  }

  /** NPT entries for gpa -> pa: existing present tables are followed, free entries filled. */
  private map(gpa: bigint, pa: bigint): boolean {
    let table = this.ncr3 & ADDR51_12;
    for (let level = 4; level >= 1; level--) {
      const at = table + 8n * ((gpa >> BigInt(12 + 9 * (level - 1))) & 511n);
      const v = this.mem.read(at);
      if (level > 1 && (v & PTE.P) !== 0n && (v & PTE.PS) === 0n) {
        table = v & ADDR51_12;
        continue;
      }
      if (v !== 0n || this.forbidden.has(at)) return false;
      // Nested walks are user accesses (APM 15.25.5): U on every level; A and D set so the CPU
      // has nothing to write back.
      if (level === 1) this.mem.write(at, pa | PTE.P | PTE.RW | PTE.US | PTE.A | PTE.D);
      else {
        const next = this.mem.alloc();
        this.mem.write(at, next | PTE.P | PTE.RW | PTE.US | PTE.A);
        table = next;
      }
    }
    return true;
  }
}

export interface GuestMapper {
  /** Maps L2's code page at `va` to the L1 page `pa` (fresh L2 tables below a free entry); false when the path is not free. */
  map(va: bigint, pa: bigint): boolean;
  /** Code GVAs to try, most separate from the access first: one index changed, from L2's top table down. */
  candidates(gva: bigint): bigint[];
}

/** L2's page tables (format `f`), read and extended in L1's memory through L1's NPT. */
export function guestMapper(f: GuestFormatName, g: GuestPaging, mem: ImageMemory, ncr3: bigint, fresh: FreshL2, forbidden: Set<bigint>): GuestMapper | null {
  const s = shape(f, g);
  if (!s) return null;
  const user = g.cpl === 3;
  // U only for a CPL-3 L2: a supervisor fetch from a user page faults under SMEP (APM 5.6.6).
  const flags = PTE.P | PTE.RW | (user ? PTE.US : 0n) | PTE.A;
  const read = (pa: bigint): bigint => (s.entryBytes === 8n ? mem.read(pa) : mem.read32(pa));
  const write = (pa: bigint, v: bigint): void => (s.entryBytes === 8n ? mem.write(pa, v) : mem.write32(pa, v));
  return {
    map(va, pa) {
      let table = s.top(g.cr3);
      for (let level = s.levels; level >= 1; level--) {
        const tl1 = nptLookup(mem, ncr3, table).pa;
        if (tl1 === null) return false;
        const at = tl1 + s.entryBytes * indexOf(s, va, level);
        const v = read(at);
        if (level > 1 && (v & PTE.P) !== 0n && !s.large(level, v)) {
          table = v & s.addr;
          continue;
        }
        if (v !== 0n || forbidden.has(at)) return false;
        if (level === 1) {
          const gpa = fresh.page(pa);
          if (gpa === null) return false;
          write(at, gpa | flags | PTE.D);
          return true;
        }
        const next = mem.alloc();
        const gpa = fresh.page(next);
        if (gpa === null) return false;
        // A PAE PDPTE has only P (bits 1, 2, 5-8 are reserved, APM 5.3.2).
        write(at, gpa | (f === 'pae' && level === 3 ? PTE.P : flags));
        table = gpa;
      }
      return false;
    },
    candidates(gva) {
      const out: bigint[] = [];
      for (let level = s.levels; level >= 1; level--) {
        const n = 1n << BigInt(s.width(level));
        const own = indexOf(s, gva, level);
        for (let i = n - 1n; i >= 0n; i--) if (i !== own) out.push(compose(s, gva, level, i));
      }
      return out;
    },
  };
}

/** Bytes into L1 memory at pa (a read-modify-write of the words they touch). */
export function writeBytes(mem: ImageMemory, pa: bigint, bytes: readonly number[]): void {
  bytes.forEach((b, k) => {
    const at = pa + BigInt(k);
    const shift = (at & 7n) * 8n;
    mem.write(at, (mem.read(at) & ~(0xffn << shift)) | (BigInt(b) << shift));
  });
}

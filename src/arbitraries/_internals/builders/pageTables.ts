// Lays out page tables in L1 physical memory for nested-paging scenarios: L2's own tables (32-bit,
// PAE, 4-level, 5-level), which live at L2 GPAs, and L1's NPT or EPT, which maps L2 GPAs to L1 GPAs.
// Entries are written with the formats of SDM vol. 3A §4 / APM vol. 2 §5 (guest, NPT) and SDM vol.
// 3C §29.3.2 (EPT). Deterministic: tables are allocated from a bump pointer in the order maps happen.

import { memWordKey, type PhysMem } from '../../../engine/mmu/types.ts';

/** L2 memory is backed at L1 GPA = L2 GPA + L2_BACKING_OFFSET (the TDP maps it 1:1 with this shift). */
export const L2_BACKING_OFFSET = 0x10000000n;
/** L1 GPAs of the TDP table pages (bump-allocated from here). */
export const TDP_TABLE_BASE = 0x100000n;
/** L2 GPAs of L2's own table pages (bump-allocated from here). */
export const GUEST_TABLE_BASE = 0x200000n;

export const GUEST_FLAGS = { P: 1n, RW: 2n, US: 4n, A: 1n << 5n, D: 1n << 6n, PS: 1n << 7n, NX: 1n << 63n } as const;
export const EPT_FLAGS = { R: 1n, W: 2n, X: 4n, MT_WB: 6n << 3n, PS: 1n << 7n, A: 1n << 8n, D: 1n << 9n, UX: 1n << 10n } as const;
const ADDR = 0x000ffffffffff000n;

function write64(m: PhysMem, gpa: bigint, v: bigint): void {
  m.words[memWordKey(gpa)] = BigInt.asUintN(64, v);
}
function read64(m: PhysMem, gpa: bigint): bigint {
  return m.words[memWordKey(gpa)] ?? 0n;
}

/** L1's nested TDP (NPT with long-mode entries or EPT): maps L2 GPA pages to L1 GPA pages. */
export class TdpBuilder {
  private next = TDP_TABLE_BASE;
  readonly root: bigint;
  /** levels 3: NPT for a legacy-PAE L1 (nested PDPT of four entries at nCR3, APM §15.25.3). */
  constructor(readonly mem: PhysMem, readonly kind: 'npt' | 'ept', readonly levels: 3 | 4 | 5 = 4) {
    this.root = this.alloc();
  }
  private alloc(): bigint {
    const p = this.next;
    this.next += 0x1000n;
    return p;
  }
  /** Non-leaf entries grant everything: permissions are decided at the leaf. */
  private tableEntry(pa: bigint): bigint {
    return this.kind === 'ept' ? pa | EPT_FLAGS.R | EPT_FLAGS.W | EPT_FLAGS.X : pa | GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US;
  }
  /** Default leaf: RWX (EPT, write-back) or P|RW|US (NPT). */
  leafFlags(): bigint {
    return this.kind === 'ept' ? EPT_FLAGS.R | EPT_FLAGS.W | EPT_FLAGS.X | EPT_FLAGS.MT_WB : GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US;
  }
  /** The L1 GPA of the leaf entry that maps `gpa` (walking/allocating tables), for later edits. */
  leafSlot(gpa: bigint): bigint {
    let table = this.root;
    for (let level = this.levels; level > 1; level--) {
      const pdpt = this.levels === 3 && level === 3;
      const idx = pdpt ? (gpa >> 30n) & 3n : (gpa >> BigInt(12 + 9 * (level - 1))) & 0x1ffn;
      const slot = table + idx * 8n;
      let e = read64(this.mem, slot);
      if ((e & ADDR) === 0n) {
        // A PAE PDPTE has only P (bits 2:1 and 8:5 are reserved there).
        const t = this.alloc();
        e = pdpt ? t | GUEST_FLAGS.P : this.tableEntry(t);
        write64(this.mem, slot, e);
      }
      table = e & ADDR;
    }
    return table + ((gpa >> 12n) & 0x1ffn) * 8n;
  }
  map(gpa: bigint, pa: bigint, flags = this.leafFlags()): void {
    write64(this.mem, this.leafSlot(gpa), (pa & ADDR) | flags);
  }
  /** Maps an L2 GPA page to its backing page. */
  back(gpa: bigint): void {
    this.map(gpa, gpa + L2_BACKING_OFFSET);
  }
}

/** L2's own page tables, written through the backing offset (the L1 GPA of every L2 GPA). */
export class GuestTableBuilder {
  private next = GUEST_TABLE_BASE;
  readonly root: bigint;
  /** L2 GPAs of every table page allocated (the TDP must map them, or a walk faults on them). */
  readonly tables: bigint[] = [];
  constructor(readonly mem: PhysMem, readonly format: 'long4' | 'long5' | 'pae' | '32') {
    this.root = this.alloc();
  }
  private alloc(): bigint {
    const p = this.next;
    this.next += 0x1000n;
    this.tables.push(p);
    return p;
  }
  private levels(): number {
    return this.format === 'long5' ? 5 : this.format === 'long4' ? 4 : this.format === 'pae' ? 3 : 2;
  }
  /** For PAE: the four PDPTEs (the root page holds them; the PDPTE registers load from it). */
  pdptrs(): bigint[] {
    return [0n, 1n, 2n, 3n].map((i) => read64(this.mem, this.root + L2_BACKING_OFFSET + i * 8n));
  }
  /**
   * The L2 GPA of the leaf entry for `va` (allocating tables), and its width in bytes. `leafLevel` 2
   * or 3 stops early for a large page (2M/4M PDE, 1G PDPTE).
   */
  leafSlot(va: bigint, leafLevel = 1): { gpa: bigint; width: 4 | 8 } {
    const is32 = this.format === '32';
    const bits = is32 ? 10 : 9;
    const width: 4 | 8 = is32 ? 4 : 8;
    let table = this.root;
    for (let level = this.levels(); level > leafLevel; level--) {
      const shift = BigInt(12 + bits * (level - 1));
      const idx = this.format === 'pae' && level === 3 ? (va >> 30n) & 3n : (va >> shift) & BigInt((1 << bits) - 1);
      const slot = table + idx * BigInt(width);
      const l1 = slot + L2_BACKING_OFFSET;
      let e = is32 ? readWidth(this.mem, l1, 4) : read64(this.mem, l1);
      if ((e & (is32 ? 0xfffff000n : ADDR)) === 0n) {
        const t = this.alloc();
        // PAE PDPTEs allow only P (bits 2:1 and 8:5 are reserved there).
        e = this.format === 'pae' && level === 3 ? t | GUEST_FLAGS.P : t | GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US;
        writeWidth(this.mem, l1, e, width);
      }
      table = e & (is32 ? 0xfffff000n : ADDR);
    }
    const idx = (va >> BigInt(12 + bits * (leafLevel - 1))) & BigInt((1 << bits) - 1);
    return { gpa: table + idx * BigInt(width), width };
  }
  map(va: bigint, gpa: bigint, flags: bigint = GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US | GUEST_FLAGS.A | GUEST_FLAGS.D, leafLevel = 1): void {
    const { gpa: slot, width } = this.leafSlot(va, leafLevel);
    writeWidth(this.mem, slot + L2_BACKING_OFFSET, (gpa & (width === 4 ? 0xfffff000n : ADDR)) | flags, width);
  }
}

function readWidth(m: PhysMem, gpa: bigint, width: 4 | 8): bigint {
  if (width === 8) return read64(m, gpa);
  const w = read64(m, gpa & ~7n);
  return (gpa & 4n) === 0n ? w & 0xffffffffn : w >> 32n;
}

export function writeWidth(m: PhysMem, gpa: bigint, v: bigint, width: 4 | 8): void {
  if (width === 8) return write64(m, gpa, v);
  const base = gpa & ~7n;
  const w = read64(m, base);
  const x = v & 0xffffffffn;
  write64(m, base, (gpa & 4n) === 0n ? (w & ~0xffffffffn) | x : (w & 0xffffffffn) | (x << 32n));
}

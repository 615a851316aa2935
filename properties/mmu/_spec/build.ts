// Lays out paging structures in a PhysMem from a list of mappings, for hand-built walk cases: L2's own
// tables (32-bit, PAE, 4-level, 5-level; they live at L2 guest-physical addresses, written at
// L1 address = L2 address + `backing`) and L1's NPT / EPT (at L1 physical addresses). Table pages
// come from a bump allocator starting at `base`; an existing intermediate entry is reused as it is.
// Formats per SDM vol. 3A §4.3–4.5, SDM vol. 3C §29.3.2, APM vol. 2 §5.3 / §15.25.

import { EPTE, PTE32, PTE64, paePdpteIndex, ptIndex, type BitsPerLevel } from '../../../src/arch/paging/formats.ts';
import { EPTP } from '../../../src/arch/vmx/eptp.ts';
import type { PhysMem } from '../../../src/engine/mmu/types.ts';

export type GuestFmt = '32' | 'pae' | 'lm4' | 'lm5';
export type PageSizeName = '4K' | '2M' | '4M' | '1G';

export interface Mapping {
  /** Address translated (guest linear for guest tables, L2 GPA for a TDP). */
  from: bigint;
  /** Target (L2 GPA for guest tables, L1 physical for a TDP); aligned to the page size. */
  to: bigint;
  size?: PageSizeName;
  /** Leaf flag bits (without address / PS). Default: guest/NPT P|RW|US, EPT R|W|X|WB. */
  flags?: bigint;
  /** Flag bits of intermediate entries created for this mapping. Default: guest/NPT P|RW|US, EPT R|W|X. */
  nonleaf?: bigint;
}

export interface BuildOptions {
  /** First table page (guest tables: an L2 GPA). Default 0x100000 (guest) / 0x200000 (TDP). */
  base?: bigint;
  /** Guest tables only: L1 address = L2 address + backing. Default 0. */
  backing?: bigint;
}

export interface BuiltTables {
  /** CR3 (guest), nCR3 (NPT) or the EPT PML4/PML5 address (use eptpFor to make an EPTP). */
  root: bigint;
  /** PAE only: the four PDPTEs (what the PDPTE registers would hold after MOV CR3). */
  pdptrs: bigint[];
  /** Every table page allocated, in allocation order (addresses in the tables' own space). */
  tables: bigint[];
  /** Address (tables' own space) of the entry for `addr` at `level`, or null if the walk stops above it. */
  entryAddr(addr: bigint, level: number): bigint | null;
  /** Next free table page. */
  next: bigint;
}

function rd(m: PhysMem, pa: bigint): bigint {
  return m.words['0x' + (pa & ~7n).toString(16)] ?? 0n;
}
function wr(m: PhysMem, pa: bigint, v: bigint): void {
  m.words['0x' + (pa & ~7n).toString(16)] = BigInt.asUintN(64, v);
}
function rdE(m: PhysMem, pa: bigint, wide: boolean): bigint {
  const w = rd(m, pa);
  return wide ? w : (pa & 4n) === 0n ? w & 0xffffffffn : w >> 32n;
}
function wrE(m: PhysMem, pa: bigint, v: bigint, wide: boolean): void {
  if (wide) return wr(m, pa, v);
  const w = rd(m, pa);
  const x = BigInt.asUintN(32, v);
  wr(m, pa, (pa & 4n) === 0n ? (w & ~0xffffffffn) | x : (w & 0xffffffffn) | (x << 32n));
}

const SIZE_LEVEL: Record<PageSizeName, number> = { '4K': 1, '2M': 2, '4M': 2, '1G': 3 };

interface Layout {
  wide: boolean;
  bpl: BitsPerLevel;
  top: number;
  ept: boolean;
  pae: boolean;
}

function buildTables(
  mem: PhysMem, lay: Layout, mappings: readonly Mapping[], base: bigint, backing: bigint,
  defLeaf: bigint, defNonleaf: bigint,
): BuiltTables {
  const tables: bigint[] = [];
  let next = base;
  const alloc = (): bigint => {
    const p = next;
    next += 0x1000n;
    tables.push(p);
    return p;
  };
  const root = alloc();
  const entSize = lay.wide ? 8n : 4n;
  const addrMask = lay.wide ? PTE64.ADDR_MASK : PTE32.ADDR_MASK;
  const psBit = lay.ept ? EPTE.PS : PTE64.PS;
  const index = (addr: bigint, level: number): bigint =>
    lay.pae && level === 3 ? BigInt(paePdpteIndex(addr)) : BigInt(ptIndex(addr, level, lay.bpl));
  const isLeaf = (e: bigint, level: number): boolean => level === 1 || (!(lay.pae && level === 3) && (e & psBit) !== 0n);
  const present = (e: bigint): boolean => (lay.ept ? (e & (EPTE.RWX_MASK | EPTE.UX)) !== 0n : (e & 1n) !== 0n);

  for (const m of mappings) {
    const size = m.size ?? '4K';
    const leafLevel = SIZE_LEVEL[size];
    let table = root;
    for (let level = lay.top; ; level--) {
      const ea = table + entSize * index(m.from, level);
      if (level === leafLevel) {
        let v = (m.flags ?? defLeaf) | m.to;
        if (leafLevel > 1) v |= psBit;
        if (!lay.wide && size === '4M') v = (m.flags ?? defLeaf) | psBit | (m.to & 0xffc00000n) | (((m.to >> 32n) & 0xffn) << 13n);
        wrE(mem, ea + backing, v, lay.wide);
        break;
      }
      const e = rdE(mem, ea + backing, lay.wide);
      if (present(e) && !isLeaf(e, level)) {
        table = e & addrMask;
        continue;
      }
      const t = alloc();
      const nl = lay.pae && level === 3 ? PTE64.P : (m.nonleaf ?? defNonleaf);
      wrE(mem, ea + backing, nl | t, lay.wide);
      table = t;
    }
  }
  const entryAddr = (addr: bigint, level: number): bigint | null => {
    let table = root;
    for (let l = lay.top; l >= 1; l--) {
      const ea = table + entSize * index(addr, l);
      if (l === level) return ea;
      const e = rdE(mem, ea + backing, lay.wide);
      if (!present(e) || isLeaf(e, l)) return null;
      table = e & addrMask;
    }
    return null;
  };
  const pdptrs = lay.pae ? [0, 1, 2, 3].map((i) => rd(mem, root + backing + 8n * BigInt(i))) : [];
  return { root, pdptrs, tables, entryAddr, next };
}

const GUEST_DEFAULT = PTE64.P | PTE64.RW | PTE64.US;

/** L2's own paging structures for `fmt`; `root` is the CR3 value (PAE: the PDPT at a page start). */
export function buildGuestTables(mem: PhysMem, fmt: GuestFmt, mappings: readonly Mapping[], opts: BuildOptions = {}): BuiltTables {
  const lay: Layout = {
    wide: fmt !== '32', bpl: fmt === '32' ? 10 : 9, top: fmt === 'lm5' ? 5 : fmt === 'lm4' ? 4 : fmt === 'pae' ? 3 : 2,
    ept: false, pae: fmt === 'pae',
  };
  return buildTables(mem, lay, mappings, opts.base ?? 0x100000n, opts.backing ?? 0n, GUEST_DEFAULT, GUEST_DEFAULT);
}

/** L1's NPT (long-mode entries, 4 or 5 levels; root = nCR3) or EPT (root = the PML4/PML5 address). */
export function buildTdp(
  mem: PhysMem, kind: 'npt' | 'ept', mappings: readonly Mapping[], opts: BuildOptions & { levels?: 4 | 5 } = {},
): BuiltTables {
  const levels = opts.levels ?? 4;
  const lay: Layout = { wide: true, bpl: 9, top: levels, ept: kind === 'ept', pae: false };
  const leaf = kind === 'ept' ? EPTE.R | EPTE.W | EPTE.X | (6n << EPTE.MEMTYPE_SHIFT) : GUEST_DEFAULT;
  const nonleaf = kind === 'ept' ? EPTE.R | EPTE.W | EPTE.X : GUEST_DEFAULT;
  return buildTables(mem, lay, mappings, opts.base ?? 0x200000n, 0n, leaf, nonleaf);
}

/** An EPTP for a built EPT: WB paging structures, walk length 4 or 5, optional A/D. */
export function eptpFor(root: bigint, levels: 4 | 5 = 4, ad = false): bigint {
  return root | EPTP.MT_WB | (levels === 5 ? EPTP.PWL_5 : EPTP.PWL_4) | (ad ? EPTP.AD_ENABLE : 0n);
}

/** Identity-map [0, bytes) in 2-MByte pages (handy for a TDP that maps L2 memory 1:1). */
export function identity2M(bytes: bigint, flags?: bigint): Mapping[] {
  const out: Mapping[] = [];
  for (let a = 0n; a < bytes; a += 1n << 21n) out.push({ from: a, to: a, size: '2M', flags });
  return out;
}

// The paging half of a nested-fault case: L2's own page tables mapping a few GVAs (a 4K, 2M/4M or
// 1G page for the data page; 4K pages for the page above it and for an MMIO page below it, which
// sit in another L2 page table), L1's NPT/EPT backing every L2 table page and data page, and an MMIO
// page that L1's TDP maps to an L1 GPA outside L1's memslots (L0 emulates accesses to it). Valid by
// construction; PAGING_HOLES then punches the holes the invariants are about: missing, read-only,
// non-executable, execute-only, write-only or reserved-bit TDP entries for a table page or the data
// page, and missing / read-only / supervisor / NX / reserved-bit L2 entries.

import { CR4, EFER } from '../arch/svm/defs.ts';
import type { NestedFaultScenario } from '../engine/mmu/nested_fault.ts';
import type { PhysMem } from '../engine/mmu/types.ts';
import { EPT_FLAGS, GUEST_FLAGS, GuestTableBuilder, L2_BACKING_OFFSET, TdpBuilder, writeWidth } from './_internals/builders/pageTables.ts';
import { PROGRAM_PAGES } from './l2program.ts';

/** What the paging layout depends on. */
export interface PagingChoice {
  flavour: 'svm' | 'vmx';
  format: 'long4' | 'pae' | '32' | 'long5';
  nptPae: boolean;
  page: '4k' | 'large' | '1g';
}

/** The data page's GVA (single accesses touch it; streams also its neighbours). */
export const GVA = 0x400000n;
export const DATA_GPA = 0x300000n;
/** L2 GPA of a large page's region (1G-aligned, above every table page). */
export const LARGE_GPA = 0x40000000n;
export const RAM_TOP = 0x80000000n;
/** Program scenarios: the L2 GPA of the MMIO page, and the L1 GPA (no memslot) L1's TDP maps it to. */
const MMIO_GPA = 0x2ff000n;
const MMIO_L1_GPA = 0xc0000000n;
export const MAXPHYADDR = 46;

/** The level of L2's leaf: 1 (4K), 2 (2M PDE, or 4M PDE with 32-bit PSE), 3 (1G PDPTE, long mode only). */
function leafLevelOf(c: PagingChoice): number {
  // A choice stored before `page` existed reads as a 4K page.
  if (c.page !== 'large' && c.page !== '1g') return 1;
  if (c.page === '1g' && (c.format === 'long4' || c.format === 'long5')) return 3;
  return 2;
}

function pageBytes(format: PagingChoice['format'], leafLevel: number): bigint {
  if (leafLevel === 1) return 0x1000n;
  if (leafLevel === 3) return 0x40000000n;
  return format === '32' ? 0x400000n : 0x200000n;
}

/** The page tables as laid out (before the scenario around them exists). */
export interface PagingLayout {
  mem: PhysMem;
  tdp: TdpBuilder;
  guest: GuestTableBuilder;
  /** The L2 GPA page the access touches (its TDP leaf is what the final-stage holes edit). */
  dataGpa: bigint;
  /** L2 GPAs of the page above the data page and of the MMIO page (mapped only for streams). */
  nextGpa: bigint;
  mmioGpa: bigint;
  leafLevel: number;
}

/** A layout with its scenario: what the holes edit. */
export interface Built extends PagingLayout {
  s: NestedFaultScenario;
}

/**
 * Lays out L2's tables and L1's TDP in L1 memory. `streams`: also map the page above the data page
 * and the MMIO page (choices stored before streams existed do not, so their table indices stay).
 */
export function buildPaging(c: PagingChoice, streams: boolean): PagingLayout {
  const mem: PhysMem = { words: {}, ram_top: RAM_TOP };
  const kind = c.flavour === 'svm' ? 'npt' : 'ept';
  const tdp = new TdpBuilder(mem, kind, kind === 'npt' && c.nptPae ? 3 : 4);
  const guest = new GuestTableBuilder(mem, c.format);
  const leafLevel = leafLevelOf(c);
  const leaf = GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US | GUEST_FLAGS.A | GUEST_FLAGS.D | (leafLevel > 1 ? GUEST_FLAGS.PS : 0n);
  // A large page maps the aligned region around GVA onto LARGE_GPA (1G-aligned, clear of every table
  // page); the page the access touches inside it is what L1's TDP must map.
  const size = pageBytes(c.format, leafLevel);
  const regionGpa = leafLevel === 1 ? DATA_GPA : LARGE_GPA;
  guest.map(GVA & ~(size - 1n), regionGpa, leaf, leafLevel);
  const dataGpa = leafLevel === 1 ? DATA_GPA : regionGpa + ((GVA & (size - 1n)) & ~0xfffn);
  // Program scenarios also reach the page above the data page and an MMIO page below it, whose L2
  // table differs from the data page's (a crossing access meets two tables). Inside a large page
  // they are already mapped by L2; otherwise L2 maps them with 4K pages.
  const inRegion = (va: bigint): boolean => leafLevel > 1 && (va & ~(size - 1n)) === (GVA & ~(size - 1n));
  const l2Gpa = (va: bigint, own: bigint): bigint => (inRegion(va) ? regionGpa + (va & (size - 1n)) : own);
  const nextGpa = l2Gpa(PROGRAM_PAGES.next, DATA_GPA + 0x1000n);
  const mmioGpa = l2Gpa(PROGRAM_PAGES.mmio, MMIO_GPA);
  if (streams) {
    if (!inRegion(PROGRAM_PAGES.next)) guest.map(PROGRAM_PAGES.next, nextGpa, leaf & ~GUEST_FLAGS.PS);
    if (!inRegion(PROGRAM_PAGES.mmio)) guest.map(PROGRAM_PAGES.mmio, mmioGpa, leaf & ~GUEST_FLAGS.PS);
  }
  for (const t of guest.tables) tdp.back(t);
  tdp.back(dataGpa);
  if (streams) {
    tdp.back(nextGpa);
    tdp.map(mmioGpa, MMIO_L1_GPA);
  }
  return { mem, tdp, guest, dataGpa, nextGpa, mmioGpa, leafLevel };
}

/** One hole per rule it exercises; `k` picks the table page or variant. */
export interface NestedFaultMutation {
  id: string;
  rule: string;
  apply(b: Built, k: number): void;
}

const nk = (k: number): number => (Number.isFinite(k) ? Math.abs(Math.trunc(k)) : 0);
const unmap = (b: Built, gpa: bigint): void => { b.s.mem.words['0x' + b.tdp.leafSlot(gpa).toString(16)] = 0n; };
const tdpLeaf = (b: Built, gpa: bigint, npt: bigint, ept: bigint): void => b.tdp.map(gpa, gpa + L2_BACKING_OFFSET, b.s.tdp.kind === 'ept' ? ept : npt);
const guestLeaf = (b: Built, flags: bigint): void => {
  const { gpa, width } = b.guest.leafSlot(GVA, b.leafLevel);
  const region = b.leafLevel === 1 ? DATA_GPA : LARGE_GPA;
  const ps = b.leafLevel > 1 && (flags & G.P) !== 0n ? G.PS : 0n;
  writeWidth(b.s.mem, gpa + L2_BACKING_OFFSET, (region & (width === 4 ? 0xfffff000n : 0x000ffffffffff000n)) | flags | ps, width);
};
const pickTable = (b: Built, k: number): bigint => b.guest.tables[nk(k) % b.guest.tables.length];
const E = EPT_FLAGS;
const G = GUEST_FLAGS;

export const PAGING_HOLES: readonly NestedFaultMutation[] = [
  { id: 'tdp-table-missing', rule: 'nested translation of an L2 paging-structure GPA fails: not present (GUEST_PAGE)', apply: (b, k) => unmap(b, pickTable(b, k)) },
  { id: 'tdp-table-readonly', rule: 'L2 paging-structure accesses are checked as writes against L1\'s TDP (A/D): a read-only table page faults (GUEST_PAGE)', apply: (b, k) => tdpLeaf(b, pickTable(b, k), G.P | G.US, E.R | E.X | E.MT_WB) },
  { id: 'tdp-final-missing', rule: 'nested translation of the final GPA fails: not present (GUEST_FINAL)', apply: (b) => unmap(b, b.dataGpa) },
  { id: 'tdp-final-readonly', rule: 'a write through a read-only final TDP entry faults (GUEST_FINAL)', apply: (b) => tdpLeaf(b, b.dataGpa, G.P | G.US, E.R | E.X | E.MT_WB) },
  { id: 'tdp-final-noexec', rule: 'a fetch through a non-executable final TDP entry faults', apply: (b) => tdpLeaf(b, b.dataGpa, G.P | G.RW | G.US | G.NX, E.R | E.W | E.MT_WB) },
  { id: 'tdp-final-exec-only', rule: 'EPT execute-only final entry: reads and writes fault (SDM §29.3.3.2; KVM tracks read permission)', apply: (b) => tdpLeaf(b, b.dataGpa, G.P | G.US, E.X | E.MT_WB) },
  { id: 'tdp-final-rsvd', rule: 'a reserved bit in the final TDP entry: EPT misconfig / #NPF with RSVD', apply: (b) => tdpLeaf(b, b.dataGpa, G.P | G.RW | G.US | (1n << 51n), E.R | E.W | E.X | (2n << 3n)) },
  {
    id: 'ncr3-low-bits',
    rule: 'a legacy-PAE L1\'s nCR3 with bits 4:3 set: the nested PDPT is still at nCR3[31:5] (APM §15.25.3; CVE-2024-50115 read it at offset_in_page(nCR3))',
    apply: (b, k) => { if (b.s.tdp.kind === 'npt' && b.s.tdp.levels === 3) b.s.tdp = { ...b.s.tdp, ncr3: b.s.tdp.ncr3 | BigInt(8 * (1 + (nk(k) % 3))) }; },
  },
  { id: 'tdp-final-write-only', rule: 'EPT entry writable but not readable: an EPT misconfiguration (SDM §29.3.3.1); NPT: RW without P is not present', apply: (b) => tdpLeaf(b, b.dataGpa, G.RW | G.US, E.W | E.MT_WB) },
  {
    id: 'guest-leaf-rsvd',
    rule: 'a reserved bit (above MAXPHYADDR) in L2\'s leaf entry: an L2 #PF with RSVD (SDM §4.7)',
    apply: (b) => { if (b.s.guest.cr4 & CR4.PAE) guestLeaf(b, G.P | G.RW | G.US | G.A | G.D | (1n << 50n)); },
  },
  {
    id: 'guest-pdpte-missing',
    rule: 'PAE: the PDPTE register for the address is not present: an L2 #PF (SDM §4.4.1)',
    apply: (b) => { if (b.s.guest.pdptrs.length) b.s.mem.words['0x' + (b.guest.root + L2_BACKING_OFFSET + ((GVA >> 30n) & 3n) * 8n).toString(16)] = 0n; },
  },
  { id: 'guest-leaf-missing', rule: 'L2\'s own leaf entry not present: an L2 #PF, not a nested fault', apply: (b) => guestLeaf(b, 0n) },
  { id: 'guest-leaf-readonly', rule: 'L2 write to a read-only page with CR0.WP: an L2 #PF', apply: (b) => guestLeaf(b, G.P | G.US | G.A | G.D) },
  { id: 'guest-leaf-supervisor', rule: 'L2 CPL-3 access to a supervisor page: an L2 #PF', apply: (b) => guestLeaf(b, G.P | G.RW | G.A | G.D) },
  { id: 'guest-leaf-nx', rule: 'L2 fetch from an NX page (EFER.NXE): an L2 #PF', apply: (b) => guestLeaf(b, G.P | G.RW | G.US | G.A | G.D | (b.s.guest.efer & EFER.NX ? G.NX : 0n)) },
];


// nestedFaultCase(): an L2 access whose two-dimensional translation is complete by construction
// (L2's tables map the GVA, L1's NPT/EPT maps every L2 table page and the data page), then 0–3
// holes punched into either layer: a missing, read-only, non-executable, execute-only or
// misconfigured TDP entry for a table page or the final page, or a missing / read-only / supervisor /
// NX guest entry. The access is performed by the CPU or by L0's emulator; the emulator runs with
// arbitrary stale exit information in vmcb02 / vmcs02. Shrinking heads back to the complete mapping.

import fc from 'fast-check';
import { CR0, CR4, EFER } from '../arch/svm/defs.ts';
import type { NestedFaultScenario } from '../engine/mmu/nested_fault.ts';
import type { PhysMem } from '../engine/mmu/types.ts';
import { EPT_FLAGS, GUEST_FLAGS, GuestTableBuilder, L2_BACKING_OFFSET, TdpBuilder, writeWidth } from './_internals/builders/pageTables.ts';

export interface NestedFaultChoice {
  flavour: 'svm' | 'vmx';
  format: 'long4' | 'pae' | '32' | 'long5';
  access: 'read' | 'write' | 'fetch';
  cpl: 0 | 3;
  performer: 'emulator' | 'hardware';
  /** The exit that brought L0 to its emulator: an I/O exit, or a hardware #NPF / EPT violation (MMIO). */
  staleKind: 'io' | 'npf';
  stale: [bigint, bigint, bigint];
  offset: number;
  /** SVM only: L1 runs legacy PAE, so its NPT is the three-level PAE format (nested PDPT at nCR3). */
  nptPae: boolean;
  /** The access is the memory operand of INS / OUTS (emulated by L0 unless L1 intercepts the port). */
  io: 'none' | 'ins' | 'outs';
  ioRep: number;
  ioDf: boolean;
  ioSize: 1 | 2 | 4;
  ioIntercepted: boolean;
  /** VMX only: L1 enables PML (with EPT A/D) and its log has room, or is already full. */
  pml: 'none' | 'room' | 'full';
  /** L2's mapping of the GVA: a 4K page, or a large page (2M, or 4M with 32-bit PSE; 1G in long mode). */
  page: '4k' | 'large' | '1g';
}

export interface NestedFaultCase {
  scenario: NestedFaultScenario;
  base: NestedFaultScenario;
  /** Applied holes as "<id>:<k>". */
  mutations: string[];
  choice: NestedFaultChoice;
}

export const DEFAULT_NESTED_FAULT_CHOICE: NestedFaultChoice = {
  flavour: 'svm', format: 'long4', access: 'read', cpl: 0, performer: 'emulator', staleKind: 'io', stale: [0n, 0n, 0n], offset: 0, nptPae: false,
  io: 'none', ioRep: 1, ioDf: false, ioSize: 1, ioIntercepted: false, pml: 'none', page: '4k',
};

const GVA = 0x400000n;
const DATA_GPA = 0x300000n;
/** L2 GPA of a large page's region (1G-aligned, above every table page). */
const LARGE_GPA = 0x40000000n;
const RAM_TOP = 0x80000000n;
const MAXPHYADDR = 46;

/** The level of L2's leaf: 1 (4K), 2 (2M PDE, or 4M PDE with 32-bit PSE), 3 (1G PDPTE, long mode only). */
function leafLevelOf(c: NestedFaultChoice): number {
  // A choice stored before `page` existed reads as a 4K page.
  if (c.page !== 'large' && c.page !== '1g') return 1;
  if (c.page === '1g' && (c.format === 'long4' || c.format === 'long5')) return 3;
  return 2;
}

function pageBytes(format: NestedFaultChoice['format'], leafLevel: number): bigint {
  if (leafLevel === 1) return 0x1000n;
  if (leafLevel === 3) return 0x40000000n;
  return format === '32' ? 0x400000n : 0x200000n;
}

interface Built {
  /** The L2 GPA page the access touches (its TDP leaf is what the final-stage holes edit). */
  dataGpa: bigint;
  leafLevel: number;
  s: NestedFaultScenario;
  tdp: TdpBuilder;
  guest: GuestTableBuilder;
}

function build(c: NestedFaultChoice): Built {
  const mem: PhysMem = { words: {}, ram_top: RAM_TOP };
  const kind = c.flavour === 'svm' ? 'npt' : 'ept';
  const nptPae = kind === 'npt' && c.nptPae;
  const tdp = new TdpBuilder(mem, kind, nptPae ? 3 : 4);
  const guest = new GuestTableBuilder(mem, c.format);
  const leafLevel = leafLevelOf(c);
  const leaf = GUEST_FLAGS.P | GUEST_FLAGS.RW | GUEST_FLAGS.US | GUEST_FLAGS.A | GUEST_FLAGS.D | (leafLevel > 1 ? GUEST_FLAGS.PS : 0n);
  // A large page maps the aligned region around GVA onto LARGE_GPA (1G-aligned, clear of every table
  // page); the page the access touches inside it is what L1's TDP must map.
  const size = pageBytes(c.format, leafLevel);
  const regionGpa = leafLevel === 1 ? DATA_GPA : LARGE_GPA;
  guest.map(GVA & ~(size - 1n), regionGpa, leaf, leafLevel);
  const dataGpa = leafLevel === 1 ? DATA_GPA : regionGpa + ((GVA & (size - 1n)) & ~0xfffn);
  for (const t of guest.tables) tdp.back(t);
  tdp.back(dataGpa);
  const long = c.format === 'long4' || c.format === 'long5';
  const s: NestedFaultScenario = {
    arch: 'mmu',
    flavour: c.flavour,
    mem,
    guest: {
      cr0: CR0.PE | CR0.PG | CR0.WP | CR0.ET | CR0.NE,
      cr3: guest.root,
      cr4: (c.format === '32' ? CR4.PSE : CR4.PAE) | (c.format === 'long5' ? CR4.LA57 : 0n),
      efer: long ? EFER.LME | EFER.LMA | EFER.NX : c.format === 'pae' ? EFER.NX : 0n,
      pdptrs: c.format === 'pae' ? guest.pdptrs() : [],
      cpl: c.cpl,
      rflags: 0x2n,
      pkru: 0,
      pse36: false,
      maxphyaddr: MAXPHYADDR,
    },
    tdp: kind === 'npt'
      ? { kind: 'npt', ncr3: tdp.root, levels: nptPae ? 3 : 4, nx: true, gmet: false, maxphyaddr: MAXPHYADDR }
      : {
        kind: 'ept', eptp: tdp.root | (3n << 3n) | 6n | (c.pml === 'room' || c.pml === 'full' ? 1n << 6n : 0n), execonly: true, mbec: false, advanced_exit_info: true, maxphyaddr: MAXPHYADDR,
        // PML_ADDRESS in L1 RAM; guest_pml_index 511 (empty log) or 512 (full: the next dirty bit fails the walk).
        pml: c.pml === 'room' || c.pml === 'full' ? { index: c.pml === 'full' ? 512 : 511, address: 0x180000n } : null,
      },
    access: { gva: GVA + BigInt(c.offset & 0xff8), write: c.access === 'write', fetch: c.access === 'fetch', implicit: false },
    performer: c.performer,
    stale_svm: c.staleKind === 'npf'
      ? { exit_code: 0x400n, exit_info_1: c.stale[0], exit_info_2: c.stale[1] }
      : { exit_code: 0x7bn, exit_info_1: c.stale[0], exit_info_2: c.stale[1] },
    stale_vmx: c.staleKind === 'npf'
      ? { reason: 48, qual: c.stale[0] & 0xfffn, gpa: c.stale[1], gla: c.stale[2] }
      : { reason: 30, qual: c.stale[0], gpa: c.stale[1], gla: c.stale[2] },
    // Choices stored before these fields existed read as 'none'.
    io: c.io !== 'ins' && c.io !== 'outs' ? null : {
      kind: c.io, port: 0x1f0, size: c.ioSize, rep: c.ioRep, df: c.ioDf, l1_intercepts: c.ioIntercepted, insn_len: 2, rip: 0x1000n,
    },
  };
  return { s, tdp, guest, dataGpa, leafLevel };
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

export const NESTED_FAULT_MUTATIONS: readonly NestedFaultMutation[] = [
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

export const NESTED_FAULT_MUTATION_IDS: readonly string[] = NESTED_FAULT_MUTATIONS.map((m) => m.id);

export function buildNestedFaultCase(choice: NestedFaultChoice, muts: readonly [string, number][]): NestedFaultCase {
  const base = build(choice).s;
  const b = build(choice);
  for (const [id, k] of muts) NESTED_FAULT_MUTATIONS.find((m) => m.id === id)?.apply(b, k);
  if (choice.format === 'pae') b.s.guest.pdptrs = b.guest.pdptrs();
  return { scenario: b.s, base, mutations: muts.map(([id, k]) => `${id}:${k}`), choice };
}

function parse(c: NestedFaultCase): [string, number][] {
  return c.mutations.map((m) => {
    const i = m.lastIndexOf(':');
    return [m.slice(0, i), Number(m.slice(i + 1))];
  });
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

export function nestedFaultCase(constraints: { flavour?: 'svm' | 'vmx'; maxMutations?: number; mutations?: readonly string[] } = {}): fc.Arbitrary<NestedFaultCase> {
  const ids = constraints.mutations ?? NESTED_FAULT_MUTATION_IDS;
  const choice: fc.Arbitrary<NestedFaultChoice> = fc.record({
    flavour: constraints.flavour ? fc.constant(constraints.flavour) : fc.constantFrom('svm' as const, 'vmx' as const),
    format: fc.constantFrom('long4' as const, 'pae' as const, '32' as const, 'long5' as const),
    access: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
    cpl: fc.constantFrom(0 as const, 3 as const),
    performer: fc.constantFrom('emulator' as const, 'hardware' as const),
    staleKind: fc.constantFrom('io' as const, 'npf' as const),
    stale: fc.tuple(u64, u64, u64),
    offset: fc.nat({ max: 0xfff }),
    nptPae: fc.boolean(),
    io: fc.constantFrom('none' as const, 'ins' as const, 'outs' as const),
    ioRep: fc.integer({ min: 1, max: 4 }),
    ioDf: fc.boolean(),
    ioSize: fc.constantFrom(1 as const, 2 as const, 4 as const),
    ioIntercepted: fc.boolean(),
    pml: fc.constantFrom('none' as const, 'room' as const, 'full' as const),
    page: fc.constantFrom('4k' as const, 'large' as const, '1g' as const),
  });
  return fc
    .tuple(choice, fc.array(fc.tuple(fc.constantFrom(...ids), fc.nat({ max: 7 })), { maxLength: constraints.maxMutations ?? 3 }))
    .map(
      ([c, muts]) => buildNestedFaultCase(c, muts),
      (value) => {
        const c = value as NestedFaultCase;
        if (!c || typeof c !== 'object' || !c.choice || !Array.isArray(c.mutations)) throw new Error('nestedFaultCase: not a generated case');
        return [c.choice, parse(c)];
      },
    );
}

// l2ProgramChoice(): an L2 instruction stream (1–4 instructions) and the controls of L1 that route
// its exits (issue #5 §4). Instructions address three pages of L2's linear space, chosen so that a
// page-crossing access meets two different L2 page tables: the MMIO page just below the data page
// (its L2 GPA is mapped by L1's TDP to an L1 GPA without a memslot, so L0 emulates the instruction),
// the data page, and the page above it. Shrinking heads to fewer instructions, no intercepts, and
// the first page.

import fc from 'fast-check';
import type { L1Controls, L2Op, L2Program } from '../engine/emulate/l2_insn.ts';

/** L2 linear layout of a program scenario (page-aligned GVAs). */
export const PROGRAM_PAGES = {
  /** The data page (what the single-access scenarios walk); its L2 table is not the MMIO page's. */
  data: 0x400000n,
  /** The page above it (a crossing store from the data page lands here). */
  next: 0x401000n,
  /** Emulated MMIO (L0's device): an access here exits to L0, whose emulator replays the instruction. */
  mmio: 0x3ff000n,
} as const;
export type ProgramPage = keyof typeof PROGRAM_PAGES;

/** A few ports and MSRs: one of each that L0 knows, and an MSR it does not (#GP). */
export const PROGRAM_PORTS = [0x1f0, 0x60, 0x3f8] as const;
export const PROGRAM_MSRS = [0x10, 0xc0000102, 0x174, 0x12345] as const;

export type L2OpChoice =
  | { op: 'mov'; store: boolean; size: 1 | 2 | 4 | 8; page: ProgramPage; offset: number }
  | { op: 'push' }
  | { op: 'pop' }
  | { op: 'in' | 'out'; port: number; size: 1 | 2 | 4 }
  | { op: 'ins' | 'outs'; port: number; size: 1 | 2 | 4; rep: number; df: boolean; page: ProgramPage; offset: number }
  | { op: 'cpuid' }
  | { op: 'hlt' }
  | { op: 'hypercall' }
  | { op: 'invlpg'; page: ProgramPage }
  | { op: 'mov-cr3' }
  | { op: 'rdmsr' | 'wrmsr'; msr: number };

export interface L2ProgramChoice {
  ops: L2OpChoice[];
  l1: L1Controls;
  /** RSP's offset in the data page. */
  rspOffset: number;
}

export const NO_INTERCEPTS: L1Controls = {
  io_ports: [], msr_read: [], msr_write: [], cpuid: false, hlt: false, hypercall: false, invlpg: false, cr3_load: false,
  exception_bitmap: 0, pfec_mask: 0, pfec_match: 0,
};

const gvaOf = (page: ProgramPage, offset: number): bigint => PROGRAM_PAGES[page] + BigInt(offset & 0xfff);

function buildOp(c: L2OpChoice): L2Op {
  switch (c.op) {
    case 'mov': return { op: 'mov', store: c.store, size: c.size, gva: gvaOf(c.page, c.offset) };
    case 'ins':
    case 'outs': return { op: c.op, port: c.port, size: c.size, rep: c.rep, df: c.df, gva: gvaOf(c.page, c.offset) };
    case 'invlpg': return { op: 'invlpg', gva: PROGRAM_PAGES[c.page] };
    default: return c;
  }
}

export function buildL2Program(c: L2ProgramChoice): L2Program {
  return { ops: c.ops.map(buildOp), l1: c.l1, rip: 0x1000n, rsp: PROGRAM_PAGES.data + BigInt(c.rspOffset & 0xff8) };
}

/** Offsets biased toward the end of a page, where an access crosses into the next one. */
const offset = fc.oneof(fc.nat({ max: 0xfff }), fc.integer({ min: 0xff8, max: 0xfff }));
const page = fc.constantFrom<ProgramPage>('data', 'mmio', 'next');
const port = fc.constantFrom(...PROGRAM_PORTS);
const ioSize = fc.constantFrom(1 as const, 2 as const, 4 as const);

const opChoice: fc.Arbitrary<L2OpChoice> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('mov' as const), store: fc.boolean(), size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), page, offset }), weight: 5 },
  { arbitrary: fc.constantFrom({ op: 'push' as const }, { op: 'pop' as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constantFrom('in' as const, 'out' as const), port, size: ioSize }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constantFrom('ins' as const, 'outs' as const), port, size: ioSize, rep: fc.integer({ min: 1, max: 4 }), df: fc.boolean(), page, offset }),
    weight: 2,
  },
  { arbitrary: fc.constantFrom({ op: 'cpuid' as const }, { op: 'hlt' as const }, { op: 'hypercall' as const }, { op: 'mov-cr3' as const }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('invlpg' as const), page }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constantFrom('rdmsr' as const, 'wrmsr' as const), msr: fc.constantFrom(...PROGRAM_MSRS) }), weight: 1 },
);

/** #UD, #GP and #PF are the exceptions the streams raise. */
const exceptionBitmap = fc.subarray([6, 13, 14]).map((v) => v.reduce((b, x) => b | (1 << x), 0));
/** PFEC mask / match over P, W, U, RSVD, ID (mostly 0/0: bit 14 alone decides). */
const pfecBits = fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.nat({ max: 0x1f }), weight: 1 });

const l1Controls: fc.Arbitrary<L1Controls> = fc.record({
  io_ports: fc.subarray([...PROGRAM_PORTS]),
  msr_read: fc.subarray([...PROGRAM_MSRS]),
  msr_write: fc.subarray([...PROGRAM_MSRS]),
  cpuid: fc.boolean(),
  hlt: fc.boolean(),
  hypercall: fc.boolean(),
  invlpg: fc.boolean(),
  cr3_load: fc.boolean(),
  exception_bitmap: exceptionBitmap,
  pfec_mask: pfecBits,
  pfec_match: pfecBits,
});

export function l2ProgramChoice(): fc.Arbitrary<L2ProgramChoice> {
  return fc.record({ ops: fc.array(opChoice, { minLength: 1, maxLength: 4 }), l1: l1Controls, rspOffset: fc.nat({ max: 0xfff }) });
}

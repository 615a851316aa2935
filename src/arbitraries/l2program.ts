// l2ProgramChoice(): an L2 instruction stream (1–4 instructions) and the controls of L1 that route
// its exits (issue #5 §4). Instructions address three pages of L2's linear space, chosen so that a
// page-crossing access meets two different L2 page tables: the MMIO page just below the data page
// (its L2 GPA is mapped by L1's TDP to an L1 GPA without a memslot, so L0 emulates the instruction),
// the data page, and the page above it. Shrinking heads to fewer instructions, no intercepts, and
// the first page.

import fc from 'fast-check';
import type { L1Controls, L2Op, L2Program } from '../engine/emulate/l2_insn.ts';
import { memWordKey, type PhysMem } from '../engine/mmu/types.ts';

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

/**
 * Ports the instructions use: ordinary ones, and the edges of the I/O bitmaps (a 2/4-byte access at
 * 0x7ffe crosses from VMX bitmap A into B; at 0xfffe / 0xffff it wraps past 0xffff).
 */
export const PROGRAM_PORTS = [0x1f0, 0x60, 0x3f8, 0x7ffe, 0xfffe, 0xffff] as const;
/** Ports whose permission bit L1 may set: the ones above and their neighbours. */
export const INTERCEPTABLE_PORTS = [0x0, 0x60, 0x1f0, 0x1f1, 0x3f8, 0x7fff, 0x8000, 0xffff] as const;
/**
 * MSRs: known to L0 (TSC, SYSENTER_CS, KERNEL_GS_BASE), one only SVM's MSRPM covers (0xc0010000:
 * outside VMX's bitmap ranges, so it always exits there), one no bitmap covers, unknown to L0 (#GP).
 */
export const PROGRAM_MSRS = [0x10, 0xc0000102, 0x174, 0xc0010000, 0x12345] as const;

/** Where L1 keeps its bitmaps (L1 GPAs clear of every table page). */
export const IOPM_BASE = 0x1c0000n;
export const MSRPM_BASE = 0x1c4000n;

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

/** L1's controls as chosen: the intercept flags, and which permission bits its bitmaps set. */
export interface L1ControlChoice extends Omit<L1Controls, 'io' | 'msr' | 'iopm_base' | 'msrpm_base'> {
  /** SVM IOIO_PROT / VMX "use I/O bitmaps". */
  ioBitmaps: boolean;
  /** VMX only: unconditional I/O exiting (used when the bitmaps are off). */
  ioUncond: boolean;
  /** SVM MSR_PROT / VMX "use MSR bitmaps". */
  msrBitmaps: boolean;
  io_ports: number[];
  msr_read: number[];
  msr_write: number[];
}

export interface L2ProgramChoice {
  ops: L2OpChoice[];
  l1: L1ControlChoice;
  /** RSP's offset in the data page. */
  rspOffset: number;
}

export const NO_INTERCEPTS: L1ControlChoice = {
  ioBitmaps: false, ioUncond: false, msrBitmaps: false, io_ports: [], msr_read: [], msr_write: [],
  cpuid: false, hlt: false, hypercall: false, invlpg: false, cr3_load: false, exception_bitmap: 0, pfec_mask: 0, pfec_match: 0,
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

function setBit(mem: PhysMem, gpa: bigint, bit: number): void {
  const key = memWordKey(gpa);
  mem.words[key] = (mem.words[key] ?? 0n) | (1n << ((gpa & 7n) * 8n + BigInt(bit)));
}

/**
 * Writes L1's permission bitmaps into L1 memory. SVM (APM §15.10.1, §15.11): IOPM one bit per port;
 * MSRPM two bits per MSR (read, write) in three 2 KiB ranges from 0, 0xc0000000, 0xc0010000. VMX
 * (SDM §25.6.4, §25.6.9): I/O bitmap A for ports 0-0x7fff, B for 0x8000-0xffff; MSR bitmap with
 * read-low, read-high, write-low, write-high quarters of 1 KiB for 0-0x1fff and 0xc0000000-0xc0001fff.
 */
function writeBitmaps(flavour: 'svm' | 'vmx', l1: L1ControlChoice, mem: PhysMem): void {
  for (const port of l1.io_ports) {
    const base = flavour === 'vmx' && port >= 0x8000 ? IOPM_BASE + 0x1000n : IOPM_BASE;
    const n = flavour === 'vmx' ? port & 0x7fff : port;
    setBit(mem, base + BigInt(n >>> 3), n & 7);
  }
  const msrBit = (msr: number, write: boolean): void => {
    if (flavour === 'svm') {
      const ranges = [0, 0xc0000000, 0xc0010000];
      const r = ranges.findIndex((b) => msr >= b && msr < b + 0x2000);
      if (r < 0) return;
      const bit = r * 0x4000 + (msr - ranges[r]) * 2 + (write ? 1 : 0);
      setBit(mem, MSRPM_BASE + BigInt(bit >>> 3), bit & 7);
      return;
    }
    const high = msr >= 0xc0000000;
    const index = high ? msr - 0xc0000000 : msr;
    if (index >= 0x2000) return;
    setBit(mem, MSRPM_BASE + (write ? 0x800n : 0n) + (high ? 0x400n : 0n) + BigInt(index >>> 3), index & 7);
  };
  for (const msr of l1.msr_read) msrBit(msr, false);
  for (const msr of l1.msr_write) msrBit(msr, true);
}

/** The program, with L1's bitmaps written into `mem` (L1 memory). */
export function buildL2Program(c: L2ProgramChoice, flavour: 'svm' | 'vmx', mem: PhysMem): L2Program {
  const { ioBitmaps, ioUncond, msrBitmaps, io_ports: _p, msr_read: _r, msr_write: _w, ...flags } = c.l1;
  writeBitmaps(flavour, c.l1, mem);
  const l1: L1Controls = {
    ...flags,
    io: ioBitmaps ? 'bitmap' : flavour === 'vmx' && ioUncond ? 'all' : 'none',
    iopm_base: IOPM_BASE,
    // VMX without MSR bitmaps exits on every RDMSR/WRMSR; SVM without MSR_PROT on none.
    msr: msrBitmaps ? 'bitmap' : flavour === 'vmx' ? 'all' : 'none',
    msrpm_base: MSRPM_BASE,
  };
  return { ops: c.ops.map(buildOp), l1, rip: 0x1000n, rsp: PROGRAM_PAGES.data + BigInt(c.rspOffset & 0xff8) };
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

const l1Controls: fc.Arbitrary<L1ControlChoice> = fc.record({
  ioBitmaps: fc.boolean(),
  ioUncond: fc.boolean(),
  msrBitmaps: fc.boolean(),
  io_ports: fc.subarray([...INTERCEPTABLE_PORTS]),
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

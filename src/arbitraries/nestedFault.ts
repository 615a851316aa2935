// nestedFaultCase(): a two-dimensional mapping complete by construction (paging.ts), then 0–3 holes
// punched into either layer, and what runs on it: one L2 access performed by the CPU or by L0's
// emulator (which runs with arbitrary stale exit information in vmcb02 / vmcs02), one INS/OUTS, or
// an L2 instruction stream (l2program.ts) whose own exits to L0 leave the stale information. VMX
// cases may carry a cached shadow-EPT root. Shrinking heads back to the complete mapping, the
// single access and fewer instructions.

import fc from 'fast-check';
import { CR0, CR4, EFER } from '../arch/svm/defs.ts';
import type { NestedFaultScenario } from '../engine/mmu/nested_fault.ts';
import { buildL2Program, l2ProgramChoice, type L2ProgramChoice } from './l2program.ts';
import { buildPaging, GVA, MAXPHYADDR, PAGING_HOLES, type Built } from './paging.ts';

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
  /** An L2 instruction stream run instead of the single access (absent in choices stored before streams). */
  program?: L2ProgramChoice | null;
  /**
   * VMX: a shadow-EPT root L0 cached earlier for the same EPT tables with A/D toggled in the EPTP
   * ('same'), the same but invalidated ('same-invalid'), or for other tables ('other'); it holds
   * translations for every page the scenario maps. Absent in older choices: none.
   */
  prevRoot?: 'none' | 'same' | 'same-invalid' | 'other';
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

function build(c: NestedFaultChoice): Built {
  const layout = buildPaging(c, !!c.program);
  const { mem, tdp, guest, dataGpa, nextGpa, mmioGpa } = layout;
  const kind = c.flavour === 'svm' ? 'npt' : 'ept';
  const nptPae = kind === 'npt' && c.nptPae;
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
    ...(c.program ? { program: buildL2Program(c.program, c.flavour, mem) } : {}),
  };
  if (kind === 'ept' && s.tdp.kind === 'ept' && c.prevRoot && c.prevRoot !== 'none') {
    const mapped = [...guest.tables, dataGpa, ...(c.program ? [nextGpa, mmioGpa] : [])];
    const eptp = c.prevRoot === 'other' ? 0x1ff01en : s.tdp.eptp ^ (1n << 6n);
    s.prev_roots = [{ eptp, valid: c.prevRoot !== 'same-invalid', mapped }];
  }
  return { ...layout, s };
}

export const NESTED_FAULT_MUTATIONS = PAGING_HOLES;

export const NESTED_FAULT_MUTATION_IDS: readonly string[] = NESTED_FAULT_MUTATIONS.map((m) => m.id);

export function buildNestedFaultCase(choice: NestedFaultChoice, muts: readonly [string, number][]): NestedFaultCase {
  const base = build(choice).s;
  // A stream's valid base runs no instruction: the revert-to-base shrink stage then drops every
  // instruction the failure does not need, and 1-minimality covers instructions as well as holes.
  if (base.program) base.program = { ...base.program, ops: [] };
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

export interface NestedFaultConstraints {
  flavour?: 'svm' | 'vmx';
  maxMutations?: number;
  mutations?: readonly string[];
  /** 'never': single accesses only (what the CPU-vs-emulator and walk oracles compare); 'only': streams only. */
  programs?: 'never' | 'mixed' | 'only';
}

export function nestedFaultCase(constraints: NestedFaultConstraints = {}): fc.Arbitrary<NestedFaultCase> {
  const programs = constraints.programs ?? 'mixed';
  const program: fc.Arbitrary<L2ProgramChoice | null> = programs === 'never' ? fc.constant(null)
    : programs === 'only' ? l2ProgramChoice() : fc.oneof(fc.constant(null), l2ProgramChoice());
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
    program,
    prevRoot: fc.constantFrom('none' as const, 'same' as const, 'same-invalid' as const, 'other' as const),
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

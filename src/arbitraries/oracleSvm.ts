// oracleSvmCase(cpu): a state both the engine and an emulator can run — the harness's valid base
// (builders/oracleSvmBase.ts) plus 0–3 of the boundary mutations that touch vmcb12 alone. L1's
// own state and CPUID are the emulated CPU's, so mutations of L1 (l1-*, rax-*, feature gates),
// of KVM-only inputs (races, SMM, KVM_SET_NESTED_STATE, memslots) and ones that would leave L2
// running with nothing to exit on (dropping the HLT intercept) are not drawn here.

import fc from 'fast-check';
import { CR0, EFER, EVTINJ, RFLAGS, SEG_ATTR } from '../arch/svm/defs.ts';
import { cloneScenario, type SvmScenario } from '../engine/svm/scenario.ts';
import type { OracleCpu } from '../oracle/cpu.ts';
import { GUEST_SNIPPET_NAMES, NPT_VARIANT_NAMES } from '../oracle/image.ts';
import { DEFAULT_ORACLE_SVM_CHOICE, ORACLE_SVM_MODES, oracleSvmBase, type OracleSvmChoice } from './_internals/builders/oracleSvmBase.ts';
import { getSvmMutation, type SvmMutation } from './_internals/mutations/svmMutations.ts';

const pick = <T>(xs: readonly T[], k: number): T => xs[k % xs.length];

/** Shared-table mutations that edit vmcb12 only. */
const SHARED_IDS = [
  'efer-svme-clear', 'cr0-nw-without-cd', 'cr0-cd-nw', 'cr0-upper', 'dr6-upper', 'dr7-upper', 'long-mode-pae-clear',
  'long-mode-pe-clear', 'cr3-mbz', 'cs-l-and-d', 'cr4-reserved', 'efer-reserved', 'gpat-invalid', 'vmrun-intercept-clear',
  'asid-zero', 'asid-large', 'ncr3-mbz', 'ncr3-low-bits', 'msrpm-at-limit', 'iopm-at-limit', 'bitmap-low-bits', 'tlb-ctl',
  'vnmi-without-nmi-intercept', 'event-inj', 'event-inj-reserved-bits', 'event-inj-soft-or-nmi', 'int-ctl-no-intr-masking',
  'int-ctl-vgif', 'int-vector-state-high', 'vls-requested', 'np-off', 'intercepts-extra', 'l2-cr3-mbz-32bit', 'msr-prot',
] as const;

/**
 * Mutations aimed at where implementations are known to part (oracle.md §5): inputs the APM lists
 * no check for, which a reference engine must still get right.
 */
const ORACLE_ONLY: readonly SvmMutation[] = [
  // EFER.LMA as given, disagreeing with LME/PG (the CPU recomputes nothing at VMRUN: APM 15.5.1 lists no LMA check).
  { id: 'efer-lma-mismatch', targets: ['long-mode'], apply: (s, k) => { const e = s.vmcb12.save; if (k % 2) { e.efer = (e.efer | EFER.LMA) & ~EFER.LME; e.cr0 &= ~CR0.PG; } else e.efer &= ~EFER.LMA; } },
  // Segment attributes and CPL are loaded as given (no segment checks on VMRUN).
  {
    id: 'segment-attr', targets: ['segments'],
    apply: (s, k) => {
      const v = s.vmcb12.save;
      const variant = k % 4;
      if (variant === 0) v.cs.attrib &= ~SEG_ATTR.P;
      else if (variant === 1) v.ss.attrib |= 3 << 5;
      else if (variant === 2) v.tr.attrib = 0;
      else v.cpl = 3;
    },
  },
  // RFLAGS bit 1 is fixed to 1 and bit 3 reserved; VMRUN loads them as given.
  { id: 'rflags-reserved', targets: ['rflags'], apply: (s, k) => { s.vmcb12.save.rflags = pick([0n, 0x2n | (1n << 3n), 0x2n | (1n << 15n), 0x2n | RFLAGS.AC], k); } },
  // Exception vector 31 is reserved (APM 15.20: injecting a reserved vector is illegal).
  { id: 'event-inj-vector-31', targets: ['event-inj-exception-vector-invalid'], apply: (s) => { s.vmcb12.control.event_inj = (EVTINJ.VALID | (3 << 8) | 31) >>> 0; } },
];

const MUTATIONS: readonly SvmMutation[] = [...SHARED_IDS.map((id) => getSvmMutation(id)!), ...ORACLE_ONLY];
const BY_ID = new Map(MUTATIONS.map((m) => [m.id, m]));
export const ORACLE_SVM_MUTATION_IDS: readonly string[] = MUTATIONS.map((m) => m.id);

export interface OracleSvmCase {
  scenario: SvmScenario;
  choice: OracleSvmChoice;
  /** Applied mutations as "id:k". */
  mutations: string[];
}

export function buildOracleSvmCase(cpu: OracleCpu, choice: OracleSvmChoice, muts: readonly [string, number][]): OracleSvmCase {
  const scenario = cloneScenario(oracleSvmBase(cpu, choice));
  for (const [id, k] of muts) BY_ID.get(id)?.apply(scenario, k);
  return { scenario, choice, mutations: muts.map(([id, k]) => `${id}:${k}`) };
}

export function oracleSvmCase(cpu: OracleCpu, maxMutations = 3): fc.Arbitrary<OracleSvmCase> {
  const choice: fc.Arbitrary<OracleSvmChoice> = fc.record({
    mode: fc.constantFrom(...ORACLE_SVM_MODES),
    np: fc.constantFrom(DEFAULT_ORACLE_SVM_CHOICE.np, !DEFAULT_ORACLE_SVM_CHOICE.np),
    snippet: fc.constantFrom(...GUEST_SNIPPET_NAMES),
    // One state in three runs L2 under an NPT that faults (#NPF compared field by field).
    npt: fc.oneof({ arbitrary: fc.constant('identity' as const), weight: 2 }, { arbitrary: fc.constantFrom(...NPT_VARIANT_NAMES), weight: 1 }),
  });
  const mutation = fc.tuple(fc.constantFrom(...ORACLE_SVM_MUTATION_IDS), fc.nat({ max: 255 }));
  return fc.tuple(choice, fc.array(mutation, { maxLength: maxMutations })).map(([c, m]) => buildOracleSvmCase(cpu, c, m));
}

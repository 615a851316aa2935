// vmxCase(): a valid-by-construction nested-VMX scenario (baseVmxScenario) plus 0–3 boundary
// mutations drawn from two tables: the vmcs12 table (_internals/mutations/vmxMutations.ts, applied to
// scenario.vmcs12, ids "vmcs12:<id>") and the scenario table (vmxScenarioMutations.ts, applied to the
// whole scenario, ids "scn:<id>"). An applied mutation is recorded as "<prefixed id>:<k>". Shrinking
// heads back to the valid base: fewer mutations, lower k, default base choices; a stored case can be
// shrunk again (the unmapper recovers [choice, mutations]).

import fc from 'fast-check';
import { VMCS12_FIELDS } from '../arch/vmx/fields.ts';
import { fieldStoredValue, type Vmcs12 } from '../arch/vmx/vmcs12.ts';
import { cloneVmxScenario, type VmxScenario } from '../engine/vmx/scenario.ts';
import {
  baseVmxScenario, DEFAULT_VMX_BASE, L2_MSR_CHOICES, VMX_AFTERS, VMX_APICV, VMX_GUEST_MODES, VMX_INJECTIONS, VMX_L0_MODES,
  VMX_L2_KINDS, VMX_MSR_COUNTS, VMX_MSR_LISTS, VMX_PATHS, type VmxBaseChoice,
} from './_internals/builders/baseVmxScenario.ts';
import { getVmxMutation, VMX_LATE_MUTATION_IDS, VMX_MUTATION_IDS } from './_internals/mutations/vmxMutations.ts';
import { getVmxScenarioMutation, VMX_SCN_MUTATION_IDS } from './_internals/mutations/vmxScenarioMutations.ts';

export interface VmxCase {
  scenario: VmxScenario;
  base: VmxScenario;
  /** Applied mutations as "<vmcs12|scn>:<table id>:<k>", in order. */
  mutations: string[];
  choice: VmxBaseChoice;
}

export interface VmxCaseConstraints {
  /** Mutations at most (default 3). */
  maxMutations?: number;
  /** Only these prefixed mutation ids (default: both tables). */
  mutations?: readonly string[];
}

export const VMCS12_PREFIX = 'vmcs12:';
export const SCN_PREFIX = 'scn:';

/** Every mutation id of both tables, prefixed with the table it comes from. */
export const VMX_SCENARIO_MUTATION_IDS: readonly string[] = [
  ...VMX_MUTATION_IDS.map((id) => VMCS12_PREFIX + id),
  ...VMX_LATE_MUTATION_IDS.map((id) => VMCS12_PREFIX + id),
  ...VMX_SCN_MUTATION_IDS.map((id) => SCN_PREFIX + id),
];

/** A mutation as applied: prefixed id and variant index (["scn:l1-cpl3", 0]). */
export type AppliedVmxCaseMutation = [id: string, k: number];

/** Every vmcs12 member truncated to its field width (as VMWRITE stores it). */
function normaliseVmcs12(v: Vmcs12): void {
  const r = v as unknown as Record<string, bigint | number>;
  for (const f of VMCS12_FIELDS) r[f.name] = fieldStoredValue(f, r[f.name] ?? 0);
}

/**
 * Apply one prefixed mutation in place; an unknown id is a no-op. A vmcs12 mutation's result is
 * truncated to the field widths (a few table entries overflow a u16 field, e.g. vpid-zero with k ≥ 16).
 */
export function applyVmxCaseMutation(s: VmxScenario, id: string, k: number): void {
  if (id.startsWith(VMCS12_PREFIX)) {
    const m = getVmxMutation(id.slice(VMCS12_PREFIX.length));
    if (m) { m.apply(s.vmcs12, k); normaliseVmcs12(s.vmcs12); }
  }
  else if (id.startsWith(SCN_PREFIX)) getVmxScenarioMutation(id.slice(SCN_PREFIX.length))?.apply(s, k);
}

export function buildVmxCase(choice: VmxBaseChoice, muts: readonly AppliedVmxCaseMutation[]): VmxCase {
  const base = baseVmxScenario(choice);
  const scenario = cloneVmxScenario(base);
  for (const [id, k] of muts) applyVmxCaseMutation(scenario, id, k);
  return { scenario, base, mutations: muts.map(([id, k]) => `${id}:${k}`), choice };
}

export function parseVmxCaseMutations(mutations: readonly string[]): AppliedVmxCaseMutation[] {
  return mutations.map((m) => {
    const i = m.lastIndexOf(':');
    return [m.slice(0, i), Number(m.slice(i + 1))];
  });
}

/** The base choice; constantFrom shrinks toward its first value, which is DEFAULT_VMX_BASE's. */
export function vmxBaseChoice(): fc.Arbitrary<VmxBaseChoice> {
  const d = DEFAULT_VMX_BASE;
  const first = <T>(def: T, xs: readonly T[]): T[] => [def, ...xs.filter((x) => x !== def)];
  return fc.record({
    l0: fc.constantFrom(...first(d.l0, VMX_L0_MODES)),
    guestMode: fc.constantFrom(...first(d.guestMode, VMX_GUEST_MODES)),
    path: fc.constantFrom(...first(d.path, VMX_PATHS)),
    runPending: fc.boolean(),
    msrLists: fc.constantFrom(...first(d.msrLists, VMX_MSR_LISTS)),
    msrCount: fc.constantFrom(...first(d.msrCount, VMX_MSR_COUNTS)),
    apicv: fc.constantFrom(...first(d.apicv, VMX_APICV)),
    preemptionTimer: fc.boolean(),
    injection: fc.constantFrom(...first(d.injection, VMX_INJECTIONS)),
    l2: fc.constantFrom(...first(d.l2, VMX_L2_KINDS)),
    l2Msr: fc.nat({ max: L2_MSR_CHOICES - 1 }),
    hltExiting: fc.boolean(),
    after: fc.constantFrom(...first(d.after, VMX_AFTERS)),
  });
}

export function vmxCase(constraints: VmxCaseConstraints = {}): fc.Arbitrary<VmxCase> {
  const ids = constraints.mutations ?? VMX_SCENARIO_MUTATION_IDS;
  const maxLength = ids.length === 0 ? 0 : Math.max(0, constraints.maxMutations ?? 3);
  // fc.array (even with maxLength 0) keeps a stored case's mutation list re-shrinkable.
  const mutation = fc.tuple(fc.constantFrom(...(ids.length ? ids : [''])), fc.nat({ max: 255 }));
  const muts = fc.array(mutation, { maxLength });
  return fc
    .tuple(vmxBaseChoice(), muts)
    .map(
      ([choice, ms]) => buildVmxCase(choice, ms as AppliedVmxCaseMutation[]),
      (value) => {
        const c = value as VmxCase;
        if (!c || typeof c !== 'object' || !c.choice || typeof c.choice !== 'object' || !Array.isArray(c.mutations)) {
          throw new Error('vmxCase: not a generated case');
        }
        return [c.choice, parseVmxCaseMutations(c.mutations)];
      },
    );
}

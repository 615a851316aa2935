// svmCase(): a valid-by-construction nested-SVM scenario plus 0–3 boundary mutations drawn from a
// table with one entry per rule (src/arbitraries/_internals/mutations/svmMutations.ts). Shrinking
// heads back to the valid base: fewer mutations, lower variant indices, default base choices.

import fc from 'fast-check';
import type { SvmCase } from '../../properties/types.ts';
import { cloneScenario, type EntryPath } from '../engine/svm/scenario.ts';
import { baseScenario, DEFAULT_BASE, L1_MODES, L2_MODES, type BaseChoice } from './_internals/builders/baseScenario.ts';
import { getSvmMutation, SVM_MUTATION_IDS } from './_internals/mutations/svmMutations.ts';
import { l2insns } from './l2insns.ts';

export interface SvmCaseConstraints {
  /** Restrict the entry path (default: mostly VMRUN, some RSM and SET_NESTED_STATE). */
  entry?: EntryPath;
  /** Mutations at most (default 3). */
  maxMutations?: number;
  /** Only these mutation ids (default: the whole table). */
  mutations?: readonly string[];
}

/** A mutation as applied: table id and variant index ("asid-zero:0"). */
export type AppliedMutation = [id: string, k: number];

export function buildCase(choice: BaseChoice, muts: readonly AppliedMutation[]): SvmCase {
  const base = baseScenario(choice);
  const scenario = cloneScenario(base);
  for (const [id, k] of muts) getSvmMutation(id)?.apply(scenario, k);
  return { scenario, base, mutations: muts.map(([id, k]) => `${id}:${k}`), choice };
}

function parseMutations(c: SvmCase): AppliedMutation[] {
  return c.mutations.map((m) => {
    const i = m.lastIndexOf(':');
    return [m.slice(0, i), Number(m.slice(i + 1))];
  });
}

function baseChoice(c: SvmCaseConstraints): fc.Arbitrary<BaseChoice> {
  const entry: fc.Arbitrary<EntryPath> = c.entry
    ? fc.constant(c.entry)
    : fc.oneof({ arbitrary: fc.constant<EntryPath>('vmrun'), weight: 6 }, { arbitrary: fc.constant<EntryPath>('rsm'), weight: 1 }, { arbitrary: fc.constant<EntryPath>('set_nested_state'), weight: 1 });
  // constantFrom shrinks toward its first value, which is the default.
  return fc.record({
    entry,
    l1Mode: fc.constantFrom(...L1_MODES),
    l2Mode: fc.constantFrom(...L2_MODES),
    program: l2insns(),
    maxphyaddr: fc.constantFrom(DEFAULT_BASE.maxphyaddr, 36, 39, 40, 46, 52),
    vgif: fc.constantFrom(true, false),
    vnmi: fc.constantFrom(true, false),
    nrips: fc.constantFrom(true, false),
    vls: fc.constantFrom(true, false),
    avic: fc.constantFrom(true, false),
    // One case in four runs L2 without vmcb12's VMMCALL intercept (the default program is a lone
    // VMMCALL), half of them with #UD intercepted, so both VMMCALL routes are drawn often.
    vmmcallIntercept: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
    udIntercept: fc.constantFrom(false, true),
  });
}

export function svmCase(constraints: SvmCaseConstraints = {}): fc.Arbitrary<SvmCase> {
  const ids = constraints.mutations ?? SVM_MUTATION_IDS;
  const mutation = fc.tuple(fc.constantFrom(...ids), fc.nat({ max: 255 }));
  return fc
    .tuple(baseChoice(constraints), fc.array(mutation, { maxLength: constraints.maxMutations ?? 3 }))
    .map(
      ([choice, muts]) => buildCase(choice, muts as AppliedMutation[]),
      (value) => {
        const c = value as SvmCase;
        if (!c || typeof c !== 'object' || !c.choice || !Array.isArray(c.mutations)) throw new Error('svmCase: not a generated case');
        return [c.choice, parseMutations(c)];
      },
    );
}

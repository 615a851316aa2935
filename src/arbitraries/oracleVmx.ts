// oracleVmxCase(cpu): a VMCS state both the engine and Bochs's VMX harness can run — the harness's
// valid base (builders/oracleVmxBase.ts, controls from the dumped capability MSRs) plus 0–3 of the
// boundary mutations that edit vmcs12 alone (KVM's control, host-state and guest-state checks and
// the checks the CPU makes on vmcs02). Mutations of L1, of KVM-only inputs (MSR lists in L1
// memory, KVM_SET_NESTED_STATE, memslots) and of the entry path are not drawn here.

import fc from 'fast-check';
import { cloneVmxScenario, type VmxScenario } from '../engine/vmx/scenario.ts';
import type { OracleVmxCpu } from '../oracle/vmx/cpu.ts';
import { DEFAULT_ORACLE_VMX_CHOICE, ORACLE_VMX_SNIPPETS, oracleVmxBase, type OracleVmxChoice } from './_internals/builders/oracleVmxBase.ts';
import { VMX_LATE_MUTATIONS, VMX_MUTATIONS, type VmxMutation } from './_internals/mutations/vmxMutations.ts';

const MUTATIONS: readonly VmxMutation[] = [...VMX_MUTATIONS, ...VMX_LATE_MUTATIONS];
const BY_ID = new Map(MUTATIONS.map((m) => [m.id, m]));
export const ORACLE_VMX_MUTATION_IDS: readonly string[] = MUTATIONS.map((m) => m.id);

export interface OracleVmxCase {
  scenario: VmxScenario;
  choice: OracleVmxChoice;
  /** Applied mutations as "id:k". */
  mutations: string[];
}

export function buildOracleVmxCase(cpu: OracleVmxCpu, choice: OracleVmxChoice, muts: readonly [string, number][]): OracleVmxCase {
  const scenario = cloneVmxScenario(oracleVmxBase(cpu, choice));
  for (const [id, k] of muts) BY_ID.get(id)?.apply(scenario.vmcs12, k);
  return { scenario, choice, mutations: muts.map(([id, k]) => `${id}:${k}`) };
}

export function oracleVmxCase(cpu: OracleVmxCpu, maxMutations = 3): fc.Arbitrary<OracleVmxCase> {
  const choice: fc.Arbitrary<OracleVmxChoice> = fc.record({
    snippet: fc.constantFrom(...ORACLE_VMX_SNIPPETS),
    ept: fc.constantFrom(DEFAULT_ORACLE_VMX_CHOICE.ept, !DEFAULT_ORACLE_VMX_CHOICE.ept),
  });
  const mutation = fc.tuple(fc.constantFrom(...ORACLE_VMX_MUTATION_IDS), fc.nat({ max: 255 }));
  return fc.tuple(choice, fc.array(mutation, { maxLength: maxMutations })).map(([c, m]) => buildOracleVmxCase(cpu, c, m));
}

// vmcs12Case(): a vmcs12 valid by construction (validVmcs12 with KVM's default nested caps, plus a
// few feature toggles that keep it valid) and 0–3 boundary mutations from the table in
// _internals/mutations/vmxMutations.ts. Shrinking heads back to the valid base.

import fc from 'fast-check';
import { kvmNestedVmxMsrs } from '../arch/vmx/caps.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../arch/vmx/controls.ts';
import type { Vmcs12 } from '../arch/vmx/vmcs12.ts';
import { validVmcs12 } from '../engine/vmx/nested/vmcs12_base.ts';
import { getVmxMutation, VMX_MUTATION_IDS } from './_internals/mutations/vmxMutations.ts';

/** Feature toggles on top of validVmcs12 (each keeps every consistency check passing). */
export interface Vmcs12Choice {
  ioBitmaps: boolean;
  tprShadow: boolean;
  loadPat: boolean;
  loadDebugControls: boolean;
  vmfunc: boolean;
}

export const DEFAULT_VMCS12_CHOICE: Vmcs12Choice = { ioBitmaps: false, tprShadow: false, loadPat: false, loadDebugControls: false, vmfunc: false };

export interface Vmcs12Case {
  vmcs12: Vmcs12;
  base: Vmcs12;
  /** Applied mutations as "id:k". */
  mutations: string[];
  choice: Vmcs12Choice;
}

export interface Vmcs12CaseConstraints {
  maxMutations?: number;
  mutations?: readonly string[];
}

export type AppliedVmxMutation = [id: string, k: number];

export function baseVmcs12(choice: Vmcs12Choice): Vmcs12 {
  const v = validVmcs12(kvmNestedVmxMsrs());
  if (choice.ioBitmaps) v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control | CPU_BASED.USE_IO_BITMAPS) >>> 0;
  if (choice.tprShadow) v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control | CPU_BASED.TPR_SHADOW) >>> 0;
  if (choice.loadPat) {
    v.vm_exit_controls = (v.vm_exit_controls | VM_EXIT.LOAD_IA32_PAT | VM_EXIT.SAVE_IA32_PAT) >>> 0;
    v.vm_entry_controls = (v.vm_entry_controls | VM_ENTRY.LOAD_IA32_PAT) >>> 0;
  }
  if (choice.loadDebugControls) v.vm_entry_controls = (v.vm_entry_controls | VM_ENTRY.LOAD_DEBUG_CONTROLS) >>> 0;
  if (choice.vmfunc) {
    v.secondary_vm_exec_control = (v.secondary_vm_exec_control | SECONDARY.ENABLE_VMFUNC) >>> 0;
    v.vm_function_control = 1n;
  }
  return v;
}

export function buildVmcs12Case(choice: Vmcs12Choice, muts: readonly AppliedVmxMutation[]): Vmcs12Case {
  const base = baseVmcs12(choice);
  const vmcs12 = structuredClone(base);
  for (const [id, k] of muts) getVmxMutation(id)?.apply(vmcs12, k);
  return { vmcs12, base, mutations: muts.map(([id, k]) => `${id}:${k}`), choice };
}

function parseMutations(c: Vmcs12Case): AppliedVmxMutation[] {
  return c.mutations.map((m) => {
    const i = m.lastIndexOf(':');
    return [m.slice(0, i), Number(m.slice(i + 1))];
  });
}

export function vmcs12Case(constraints: Vmcs12CaseConstraints = {}): fc.Arbitrary<Vmcs12Case> {
  const ids = constraints.mutations ?? VMX_MUTATION_IDS;
  const mutation = fc.tuple(fc.constantFrom(...ids), fc.nat({ max: 255 }));
  // fc.boolean shrinks toward false, i.e. the default choice.
  const choice: fc.Arbitrary<Vmcs12Choice> = fc.record({
    ioBitmaps: fc.boolean(), tprShadow: fc.boolean(), loadPat: fc.boolean(), loadDebugControls: fc.boolean(), vmfunc: fc.boolean(),
  });
  return fc
    .tuple(choice, fc.array(mutation, { maxLength: constraints.maxMutations ?? 3 }))
    .map(
      ([c, muts]) => buildVmcs12Case(c, muts as AppliedVmxMutation[]),
      (value) => {
        const c = value as Vmcs12Case;
        if (!c || typeof c !== 'object' || !c.choice || !Array.isArray(c.mutations)) throw new Error('vmcs12Case: not a generated case');
        return [c.choice, parseMutations(c)];
      },
    );
}

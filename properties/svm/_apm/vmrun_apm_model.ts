// What VMRUN does according to the AMD APM vol. 2, written as data: the instruction's gates (§15.5
// and the VMRUN instruction reference), the list in §15.5.1 "Canonicalization and Consistency
// Checks", event-injection legality (§15.20), NMI virtualisation (§15.21.4) and the nested-paging
// rules (§15.25.3, §15.25.4). Each rule is a record; `applies` returns true when the rule makes
// VMRUN fail.
//
// This model shares no code with src/engine: it imports only types and the architectural constants
// of src/arch. Where KVM knowingly departs from the APM, the departure is a record in
// KVM_DEVIATIONS (what KVM does, why, where), and `apmVmrunVerdict` applies those records, so on
// the kvm-next profile its verdict is KVM's. `apmVmrunVerdictStrict` applies none of them.



import { type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import type { L1State } from '../../../src/engine/svm/scenario.ts';
import { APM_VMRUN_RULES } from './rules.ts';
import { KVM_DEVIATIONS } from './deviations.ts';
import { vmrunEnv } from './memory.ts';
import type { KvmDeviation, VmrunEnv, VmrunOutcome, VmrunRule, VmrunVerdict } from './types.ts';

export * from './types.ts';
export { APM_VMRUN_RULES } from './rules.ts';
export { KVM_DEVIATIONS } from './deviations.ts';
export { vmrunEnv } from './memory.ts';
export { vmcb12GpaFromRax } from './helpers.ts';

// ---------------------------------------------------------------------------------------------
// Verdicts

/** The rule list KVM evaluates: APM rules with the deviations' replacements, removals and additions. */
export function kvmVmrunRules(deviations: readonly KvmDeviation[] = KVM_DEVIATIONS): VmrunRule[] {
  const rules: VmrunRule[] = APM_VMRUN_RULES.map((r) => ({ ...r }));
  for (const d of deviations) {
    const e = d.effect;
    const i = rules.findIndex((r) => r.id === d.rule);
    if (e.kind === 'replace' && i >= 0) rules[i] = { ...rules[i], applies: e.applies, source: `${rules[i].source}; KVM: ${d.source}` };
    else if (e.kind === 'remove' && i >= 0) rules.splice(i, 1);
    else if (e.kind === 'add') {
      const at = rules.findIndex((r) => r.id === e.after);
      const rule: VmrunRule = { id: d.rule, source: e.source, stage: e.stage, outcome: e.outcome, applies: e.applies };
      rules.splice(at >= 0 ? at + 1 : rules.length, 0, rule);
    }
  }
  return rules;
}

const KVM_RULES = kvmVmrunRules();

function judge(rules: readonly VmrunRule[], l1: L1State, vmcb12: Vmcb, env: VmrunEnv): { outcome: VmrunOutcome; rules: string[]; stage: 'early' | 'late' | null } {
  const violated = rules.filter((r) => r.applies(l1, vmcb12, env));
  const gate = violated.find((r) => r.stage === 'gate');
  const ids = violated.map((r) => r.id);
  if (gate) return { outcome: gate.outcome, rules: ids, stage: null };
  if (violated.length === 0) return { outcome: 'entered', rules: ids, stage: null };
  return { outcome: 'vmexit-invalid', rules: ids, stage: violated.some((r) => r.stage === 'check') ? 'early' : 'late' };
}

/** The APM alone: no KVM deviation applied (what `--strict-arch` compares against). */
export function apmVmrunVerdictStrict(l1: L1State, vmcb12: Vmcb): VmrunVerdict {
  return { ...judge(APM_VMRUN_RULES, l1, vmcb12, vmrunEnv(l1, vmcb12)), deviations: [] };
}

/**
 * The APM with KVM's known deviations applied, as KVM applies them: vmcb12 sanitised first, then
 * the rules in KVM's order. On the kvm-next profile this equals the engine's VMRUN outcome.
 */
export function apmVmrunVerdict(l1: L1State, vmcb12: Vmcb): VmrunVerdict {
  const env = vmrunEnv(l1, vmcb12);
  let v = vmcb12;
  const touched: string[] = [];
  for (const d of KVM_DEVIATIONS) {
    if (d.effect.kind !== 'sanitize') continue;
    const out = d.effect.apply(v, l1);
    if (out) {
      v = out;
      touched.push(d.id);
    }
  }
  const kvm = judge(KVM_RULES, l1, v, env);
  const apm = new Set(APM_VMRUN_RULES.filter((r) => r.applies(l1, vmcb12, env)).map((r) => r.id));
  const got = new Set(kvm.rules);
  const deviations = KVM_DEVIATIONS.filter((d) => {
    switch (d.effect.kind) {
      case 'sanitize': return touched.includes(d.id);
      case 'add': return got.has(d.rule);
      case 'remove': return apm.has(d.rule);
      case 'replace': return apm.has(d.rule) !== got.has(d.rule);
    }
  }).map((d) => d.id);
  return { ...kvm, deviations };
}

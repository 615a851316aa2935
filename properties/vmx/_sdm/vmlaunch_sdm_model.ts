// What VMLAUNCH/VMRESUME does according to the Intel SDM (vol. 3C §31.3 instruction reference and
// ch. 27 "VM Entries" §27.1–§27.4; older editions: §30.3, ch. 26), written as data: every rule is a
// row of rules.ts, evaluated in the SDM's order, and the first failing row gives the verdict. It is
// the oracle of the invariant `vmlaunch-verdict-matches-sdm`.
//
// It shares no code with src/engine: it imports only types (VmxScenario and friends) and
// architectural constants of src/arch. Where the SDM leaves a case undefined, the row says so and
// points at the KVM choice recorded in deviations.ts; KVM's other documented departures are listed
// there as data (not applied here).

import { CONTROL_RULES, GUEST_RULES, HOST_RULES, INSTRUCTION_RULES, MSR_LOAD_RULES } from './rules.ts';
import { eferAfterGuestLoad, msrRow } from './msrs.ts';
import { type View, view } from './helpers.ts';
import type { MsrEntry, MsrLoadState, SdmJudgement, SdmRule, SdmStage, SdmVerdict, VmxScenario } from './types.ts';

export type { SdmJudgement, SdmRule, SdmMsrRule, SdmStage, SdmVerdict, MsrEntry } from './types.ts';
export { CONTROL_RULES, GUEST_RULES, HOST_RULES, INSTRUCTION_RULES, MSR_LOAD_RULES } from './rules.ts';
export { WRMSR_TABLE, MSR_INDEX } from './msrs.ts';

/** Every single-outcome rule in evaluation order, with the stage it belongs to. */
export const SDM_RULE_TABLE: readonly { stage: SdmStage; rules: readonly SdmRule[] }[] = [
  { stage: 'ud', rules: INSTRUCTION_RULES.filter((r) => r.outcome.kind === '#UD') },
  { stage: 'gp', rules: INSTRUCTION_RULES.filter((r) => r.outcome.kind === '#GP') },
  { stage: 'vmcs', rules: INSTRUCTION_RULES.filter((r) => r.outcome.kind === 'vmfail-invalid') },
  { stage: 'basic', rules: INSTRUCTION_RULES.filter((r) => r.outcome.kind === 'vmfail-valid') },
  { stage: 'controls', rules: CONTROL_RULES },
  { stage: 'host', rules: HOST_RULES },
  { stage: 'guest', rules: GUEST_RULES },
];

/** Number of rows: the table rules plus the per-entry MSR-load rules. */
export const SDM_RULE_COUNT = SDM_RULE_TABLE.reduce((n, t) => n + t.rules.length, 0) + MSR_LOAD_RULES.length;

const ruleFails = (r: SdmRule, x: View): boolean => (r.when === undefined || r.when(x)) && r.fails(x);

/** The entries of the VM-entry MSR-load area as L1's memory holds them (16 bytes each, §25.8.2). */
export function entryMsrLoadList(x: View): MsrEntry[] {
  const count = x.v.vm_entry_msr_load_count >>> 0;
  const base = BigInt.asUintN(64, x.v.vm_entry_msr_load_addr);
  const out: MsrEntry[] = [];
  for (let i = 0; i < count; i++) {
    const gpa = base + 16n * BigInt(i);
    const readable = x.mem.inRam(gpa, 16);
    out.push({
      n: i + 1, gpa, readable,
      index: readable ? Number(x.mem.read(gpa, 4)) : 0,
      reserved: readable ? Number(x.mem.read(gpa + 4n, 4)) : 0,
      value: readable ? x.mem.read(gpa + 8n, 8) : 0n,
    });
  }
  return out;
}

/**
 * §27.4: the entries are processed in order; the first one that cannot be loaded ends the VM entry
 * with exit 34 and its 1-based index as the qualification. A loaded entry changes what later entries
 * see (IA32_EFER only, in this model).
 */
function msrLoad(x: View): SdmJudgement | null {
  const st: MsrLoadState = { efer: eferAfterGuestLoad(x) };
  for (const e of entryMsrLoadList(x)) {
    const bad = MSR_LOAD_RULES.find((r) => r.fails(x, e, st));
    if (bad) return { verdict: { kind: 'exit', reason: 34, qual: BigInt(e.n) }, rule: bad.id };
    msrRow(e.index)?.apply?.(e.value, st);
  }
  return null;
}

/** Every single-outcome rule this scenario violates, in evaluation order (for diagnostics). */
export function sdmViolations(s: VmxScenario, opts: { launch: boolean }): { id: string; stage: SdmStage; outcome: SdmVerdict }[] {
  const x = view(s, opts.launch);
  const out: { id: string; stage: SdmStage; outcome: SdmVerdict }[] = [];
  for (const t of SDM_RULE_TABLE) for (const r of t.rules) if (ruleFails(r, x)) out.push({ id: r.id, stage: t.stage, outcome: r.outcome });
  return out;
}

/** What the SDM says VMLAUNCH (`launch: true`) or VMRESUME does in this scenario. */
export function sdmVmlaunch(s: VmxScenario, opts: { launch: boolean }): SdmJudgement {
  const x = view(s, opts.launch);
  for (const t of SDM_RULE_TABLE) {
    for (const r of t.rules) if (ruleFails(r, x)) return { verdict: r.outcome, rule: r.id };
  }
  return msrLoad(x) ?? { verdict: { kind: 'entered' }, rule: null };
}

/** The stage a rule id belongs to ('msr-load' for the per-entry rules), or undefined. */
export function sdmStageOf(ruleId: string): SdmStage | undefined {
  for (const t of SDM_RULE_TABLE) if (t.rules.some((r) => r.id === ruleId)) return t.stage;
  return MSR_LOAD_RULES.some((r) => r.id === ruleId) ? 'msr-load' : undefined;
}

// Check coverage: how often each consistency-check id (the engine's CC() sites) was evaluated and
// how often it failed. The engine records every evaluation in `trace.checked`; the campaign feeds
// traces in here.
//
// Sampling: properties call run() themselves and do not hand their traces back, so the runner
// re-runs the engine on every COVERAGE_SAMPLE_EVERY-th generated case (not on shrink candidates)
// with the pair's first profile. A property calls run() at least once per case, so this adds at
// most 1/16 ≈ 6% to the hot loop; counts are therefore per sampled case.
//
// "Hit" means the rule fired (failed) in at least one sampled case: on a valid base every check is
// evaluated and passes, so evaluation alone says nothing about whether the fuzzer reached the
// boundary the check guards.

import { SVM_CHECK_IDS } from '../engine/svm/nested/checks.ts';
import { VMX_CONTROL_CHECK_IDS } from '../engine/vmx/nested/checks_controls.ts';
import { VMX_GUEST_CHECK_IDS } from '../engine/vmx/nested/checks_guest.ts';
import { VMX_HOST_CHECK_IDS } from '../engine/vmx/nested/checks_host.ts';
import { VMX_INSN_CHECK_IDS } from '../engine/vmx/instructions.ts';
import { VMX_HARDWARE_RULE_IDS } from '../engine/vmx/nested/hardware.ts';
import { VMX_MSR_LIST_CHECK_IDS } from '../engine/vmx/nested/msr_list.ts';
import { VMX_RUN_CHECK_IDS } from '../engine/vmx/nested/run.ts';
import { VMX_PREPARE_CHECK_IDS } from '../engine/vmx/nested/vmcs02.ts';
import { VMX_SET_NESTED_STATE_CHECK_IDS } from '../engine/vmx/nested_state.ts';
import { MMU_WALK_CHECK_IDS } from '../engine/mmu/walker.ts';
import type { Trace } from '../engine/trace.ts';
import { SVM_MUTATION_IDS } from '../arbitraries/_internals/mutations/svmMutations.ts';
import { NESTED_FAULT_MUTATION_IDS } from '../arbitraries/nestedFault.ts';
import { VMX_SCENARIO_MUTATION_IDS } from '../arbitraries/vmxScenario.ts';

export const COVERAGE_SAMPLE_EVERY = 16;

/**
 * Check ids outside nested_vmcb_check_* (checks.ts exports those as SVM_CHECK_IDS): the VMRUN
 * gates of nested_svm_vmrun (vmrun.ts), the late checks of nested_svm_load_cr3 / PDPTE loads
 * (cr3.ts) and the MSRPM merge (msrpm.ts), and svm_set_nested_state's (nested_state.ts).
 * tests/campaign/coverage.spec.ts greps the engine for cc() ids so this list cannot drift.
 */
export const ENGINE_GATE_CHECK_IDS = [
  'vmrun-efer-svme-clear', 'vmrun-cr0-pg-clear', 'vmrun-cpl-nonzero', 'vmrun-hsave-unset', 'vmrun-in-smm',
  'vmrun-vmcb12-gpa-invalid', 'vmrun-vmcb12-unmappable',
  'cr3-illegal', 'pdpt-unreadable', 'pdpte-reserved-bits', 'msrpm-unreadable',
  'nested-state-flags-invalid', 'nested-state-svme-clear-with-flags', 'nested-state-smm-guest-mode',
  'nested-state-vmcb-pa-invalid', 'nested-state-l2-cr0-cd-clear-nw-set', 'nested-state-l1-cr0-pg-clear',
  'nested-state-l1-cr0-pe-clear', 'nested-state-l1-rflags-vm', 'nested-state-gpat-invalid',
] as const;

/** Every nested-SVM check id the engine can report: gates first, then nested_vmcb_check_* in order. */
export function allSvmCheckIds(): string[] {
  return [...new Set<string>([...ENGINE_GATE_CHECK_IDS, ...SVM_CHECK_IDS])];
}

/**
 * Every nested-VMX check id: the VMX-instruction gates, nested_vmx_run's own, nested_vmx_check_controls
 * / _host_state / _guest_state, prepare_vmcs02 and nested_vmx_load_cr3, the MSR lists,
 * vmx_set_nested_state, and the CPU's checks of vmcs02 (hardware.ts).
 */
export function allVmxCheckIds(): string[] {
  return [...new Set<string>([
    ...VMX_INSN_CHECK_IDS, ...VMX_RUN_CHECK_IDS, ...VMX_CONTROL_CHECK_IDS, ...VMX_HOST_CHECK_IDS, ...VMX_GUEST_CHECK_IDS,
    ...VMX_PREPARE_CHECK_IDS, ...VMX_MSR_LIST_CHECK_IDS, ...VMX_SET_NESTED_STATE_CHECK_IDS, ...VMX_HARDWARE_RULE_IDS,
  ])];
}

/** Every check id of the nested MMU walkers (L2's own tables 'walk-*', L1's TDP 'nested-*'). */
export function allMmuCheckIds(): string[] {
  return [...MMU_WALK_CHECK_IDS];
}

/** Every check id of every area (a campaign's coverage universe). */
export function allCheckIds(): string[] {
  return [...allSvmCheckIds(), ...allVmxCheckIds(), ...allMmuCheckIds()];
}

export interface CheckCount {
  /** Evaluations where the rule held (a check a mutant profile dropped counts here). */
  passed: number;
  failed: number;
}

/** Every mutation kind a campaign over these areas can apply (the tables' ids, as cases name them). */
export function allMutationKinds(areas: ReadonlySet<string>): string[] {
  return [
    ...(areas.has('svm') ? SVM_MUTATION_IDS : []), ...(areas.has('vmx') ? VMX_SCENARIO_MUTATION_IDS : []), ...(areas.has('mmu') ? NESTED_FAULT_MUTATION_IDS : []),
  ];
}

export class Coverage {
  private readonly counts = new Map<string, CheckCount>();
  /** Sampled cases per outcome ("svm:vmexit-invalid", "mmu-pf:efault", …). */
  readonly outcomes = new Map<string, number>();
  /** Sampled cases per mutation kind applied ("asid-zero", "scn:l1-cpl3", …). */
  readonly mutationKinds = new Map<string, number>();
  /** Traces recorded. */
  samples = 0;

  /** One sampled case: its outcome (the engine's, per scenario kind) and the mutation kinds it applied. */
  recordCase(kind: string, outcome: string, mutations: readonly string[]): void {
    const key = `${kind}:${outcome}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    for (const m of mutations) {
      const i = m.lastIndexOf(':');
      const k = i > 0 ? m.slice(0, i) : m;
      this.mutationKinds.set(k, (this.mutationKinds.get(k) ?? 0) + 1);
    }
  }

  recordTrace(trace: Pick<Trace, 'checked'>): void {
    this.samples++;
    for (const r of trace.checked) {
      let c = this.counts.get(r.id);
      if (!c) {
        c = { passed: 0, failed: 0 };
        this.counts.set(r.id, c);
      }
      if (r.failed) c.failed++;
      else c.passed++;
    }
  }

  merge(other: Coverage): void {
    this.samples += other.samples;
    for (const [k, n] of other.outcomes) this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + n);
    for (const [k, n] of other.mutationKinds) this.mutationKinds.set(k, (this.mutationKinds.get(k) ?? 0) + n);
    for (const [id, c] of other.counts) {
      const mine = this.counts.get(id);
      if (mine) {
        mine.passed += c.passed;
        mine.failed += c.failed;
      } else this.counts.set(id, { ...c });
    }
  }

  /** id → counts for every known id (zeros for never-hit ones) plus any id only traces named. */
  toRecord(known: readonly string[] = allCheckIds()): Record<string, CheckCount> {
    const out: Record<string, CheckCount> = {};
    for (const id of known) out[id] = { ...(this.counts.get(id) ?? { passed: 0, failed: 0 }) };
    for (const [id, c] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) if (!(id in out)) out[id] = { ...c };
    return out;
  }

  /** Ids that failed in at least one sampled case. */
  hit(known: readonly string[] = allCheckIds()): string[] {
    return Object.entries(this.toRecord(known)).filter(([, c]) => c.failed > 0).map(([id]) => id);
  }

  /** Known ids that never failed in a sampled case. */
  neverHit(known: readonly string[] = allCheckIds()): string[] {
    return known.filter((id) => (this.counts.get(id)?.failed ?? 0) === 0);
  }
}

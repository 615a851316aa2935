// Vocabulary of the declarative APM model of VMRUN (see vmrun_apm_model.ts).

import type { Vmcb } from '../../../src/arch/svm/vmcb.ts';
import type { GuestCpuid, L1State } from '../../../src/engine/svm/scenario.ts';

// ---------------------------------------------------------------------------------------------
// Vocabulary

/** How a rule makes VMRUN fail. 'userspace-exit' only for KVM-only rules (KVM exits to its VMM). */
export type VmrunFailure = '#UD' | '#GP' | 'vmexit-invalid' | 'userspace-exit';
export type VmrunOutcome = 'entered' | VmrunFailure;

/**
 * When a rule is evaluated: 'gate' = before vmcb12's contents matter (an exception or a VMM exit);
 * 'check' = a consistency check on vmcb12 (KVM: nested_vmcb_check_save/controls, "early");
 * 'late' = a failure while L2's state is being loaded (KVM: after vmcb02 is built).
 */
export type RuleStage = 'gate' | 'check' | 'late';

/** L1's physical memory as VMRUN's own reads see it (vmcb12's page included). */
export interface PhysMem {
  /** Is the 4 KiB page holding `gpa` inside a memslot? */
  pageBacked(gpa: bigint): boolean;
  /** `len` bytes from `gpa`, or null when any of them is unbacked. */
  read(gpa: bigint, len: number): Uint8Array | null;
}

/** What a rule may consult besides L1's state and vmcb12. */
export interface VmrunEnv {
  /** L1's (virtual) processor: the CPUID KVM exposes to L1. */
  cpu: GuestCpuid;
  /** Physical-address width of L1's processor. */
  maxphyaddr: number;
  /** The vmcb12 address VMRUN takes from rAX (EAX outside 64-bit mode). */
  vmcb12Gpa: bigint;
  mem: PhysMem;
}

export type RuleFn = (l1: L1State, vmcb12: Vmcb, env: VmrunEnv) => boolean;

export interface VmrunRule {
  id: string;
  /** The manual section (and the rule's words, paraphrased) or, for KVM-only rules, KVM's function. */
  source: string;
  stage: RuleStage;
  outcome: VmrunFailure;
  /** true = this rule makes VMRUN fail. */
  applies: RuleFn;
}

/** How KVM departs from one APM rule. */
export type DeviationEffect =
  /** KVM evaluates its own condition instead of the APM's. */
  | { kind: 'replace'; applies: RuleFn }
  /** KVM has no such check. */
  | { kind: 'remove' }
  /** A failure only KVM has, evaluated right after rule `after` (KVM's order). */
  | { kind: 'add'; after: string; stage: RuleStage; outcome: VmrunFailure; source: string; applies: RuleFn }
  /** KVM rewrites vmcb12 before any rule runs; returns null when this input is left as it is. */
  | { kind: 'sanitize'; apply: (vmcb12: Vmcb, l1: L1State) => Vmcb | null };

export interface KvmDeviation {
  id: string;
  /** The APM rule it changes, the KVM-only rule it adds, or the vmcb12 field a sanitising step rewrites. */
  rule: string;
  /** What KVM does. */
  kvm: string;
  /** Why (or why it does not matter). */
  reason: string;
  /** KVM function / commit (spec section). */
  source: string;
  effect: DeviationEffect;
}

export interface VmrunVerdict {
  outcome: VmrunOutcome;
  /** Every violated rule id, in evaluation order (the outcome comes from the first failing gate). */
  rules: string[];
  /** For 'vmexit-invalid': 'early' when a consistency check fails, 'late' when only a late rule does. */
  stage: 'early' | 'late' | null;
  /** Deviations that changed some rule's result for this input (empty for the strict verdict). */
  deviations: string[];
}

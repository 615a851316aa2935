// Vocabulary of the declarative SDM model of VMLAUNCH/VMRESUME (see vmlaunch_sdm_model.ts).

import type { VmxScenario } from '../../../src/engine/vmx/scenario.ts';
import type { View } from './helpers.ts';

/** What the instruction does, per the SDM. An exit reason is given without bit 31 (always set for 33/34). */
export type SdmVerdict =
  | { kind: '#UD' | '#GP' }
  | { kind: 'vmfail-invalid' }
  | { kind: 'vmfail-valid'; error: number }
  | { kind: 'exit'; reason: 33 | 34; qual: bigint }
  | { kind: 'entered' };

export interface SdmJudgement {
  verdict: SdmVerdict;
  /** Id of the first failing rule (SDM order), or null when the entry succeeds. */
  rule: string | null;
}

/** The steps of the instruction, in the order the SDM evaluates them. */
export type SdmStage =
  | 'ud' // VMLAUNCH/VMRESUME "Operation": #UD conditions
  | 'gp' // CPL > 0
  | 'vmcs' // VMfailInvalid: no usable current VMCS
  | 'basic' // VMfailValid 26 / 4 / 5
  | 'controls' // §27.2.1 ⇒ VMfailValid(7)
  | 'host' // §27.2.2–27.2.4 ⇒ VMfailValid(8)
  | 'guest' // §27.3.1 ⇒ exit 33
  | 'msr-load'; // §27.4 ⇒ exit 34 (qual = 1-based entry index)

/**
 * One rule of the SDM as a row: `fails` is true when the rule is violated. `when` (optional) is the
 * rule's precondition ("if the X control is 1, ..."); a rule whose `when` is false holds.
 */
export interface SdmRule {
  id: string;
  /** Section of the SDM (vol. 3C; older editions number chapter 27 as 26, §31.3 as §30.3). */
  sdm: string;
  /** The rule, paraphrased. */
  rule: string;
  when?: (s: View) => boolean;
  fails: (s: View) => boolean;
  outcome: SdmVerdict;
  /**
   * Set when the SDM leaves the case undefined and the row models KVM's documented choice (see
   * deviations.ts, the row with this id).
   */
  deviation?: string;
}

/** One 16-byte entry of an MSR-load area. */
export interface MsrEntry {
  /** 1-based position in the list (the exit-34 qualification). */
  n: number;
  gpa: bigint;
  /** False when any of its 16 bytes lies outside L1's memory. */
  readable: boolean;
  index: number;
  reserved: number;
  value: bigint;
}

/** Processor state that earlier MSR-load entries may have changed (loads are sequential). */
export interface MsrLoadState {
  efer: bigint;
}

/** A rule on one MSR-load entry (§27.4): `fails` true ⇒ the entry cannot be loaded. */
export interface SdmMsrRule {
  id: string;
  sdm: string;
  rule: string;
  fails: (s: View, e: MsrEntry, st: MsrLoadState) => boolean;
}

export type { VmxScenario };

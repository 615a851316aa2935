// What every invariant file exports (one invariant per file; file name = id).

import type fc from 'fast-check';
import type { Profile } from '../src/engine/profiles.ts';
import type { SvmScenario } from '../src/engine/svm/scenario.ts';
import type { BaseChoice } from '../src/arbitraries/_internals/builders/baseScenario.ts';
import type { NestedFaultCase } from '../src/arbitraries/nestedFault.ts';
import type { VmxCase } from '../src/arbitraries/vmxScenario.ts';
import type { PermissionScenario } from '../src/engine/mmu/permission_check.ts';
import type { PageFaultScenario } from '../src/engine/mmu/page_fault/scenario.ts';

export type { NestedFaultCase, VmxCase };

/**
 * A generated case: the concrete scenario, the valid base it was mutated from, and the names of the
 * mutations applied (0–3). Shrinking heads back to `base`.
 */
export interface SvmCase {
  scenario: SvmScenario;
  base: SvmScenario;
  /** Applied mutations as "<table id>:<variant>", in order. */
  mutations: string[];
  /** The base choice the arbitrary drew (lets a stored case be shrunk again). */
  choice?: BaseChoice;
}

/** One permission_fault check (issue #6): the inputs, their valid base, the mutations applied. */
export interface PermissionCase {
  scenario: PermissionScenario;
  base: PermissionScenario;
  mutations: string[];
}

/** One fault through KVM's MMU page-fault path (issue #6). */
export interface PageFaultCase {
  scenario: PageFaultScenario;
  base: PageFaultScenario;
  mutations: string[];
}

/** A generated case of any kind; the scenario's `arch` tells them apart (isVmxCase, …). */
export type AnyCase = SvmCase | VmxCase | NestedFaultCase | PermissionCase | PageFaultCase;

export function isVmxCase(c: AnyCase): c is VmxCase {
  return c.scenario.arch === 'vmx';
}

export function isNestedFaultCase(c: AnyCase): c is NestedFaultCase {
  return c.scenario.arch === 'mmu';
}

export function isPermissionCase(c: AnyCase): c is PermissionCase {
  return c.scenario.arch === 'mmu-perm';
}

export function isPageFaultCase(c: AnyCase): c is PageFaultCase {
  return c.scenario.arch === 'mmu-pf';
}

export interface PropertyContext {
  profile: Profile;
  /** For cross-profile properties (`fuzz --compare a,b`): the second profile. */
  other?: Profile;
  /** `--strict-arch`: listed, known deviations count as failures too. */
  strictArch: boolean;
}

/** A finding is data with a code; words are rendered by the reporter. */
export type Verdict =
  | { ok: true }
  | { ok: false; code: string; message: string; details?: Record<string, unknown> };

/** One invariant. `C` is the case type its arbitrary produces (SvmCase for 'svm', VmxCase for 'vmx'). */
export interface NestfuzzProperty<C extends AnyCase = AnyCase> {
  id: string;
  /** 'mmu': nested paging and fault synthesis (either flavour). */
  area: 'svm' | 'vmx' | 'mmu';
  title: string;
  /** APM/SDM section and KVM function or commit the invariant comes from. */
  rationale: string;
  /** Runs on pairs of profiles (`--compare`) instead of one. */
  compares?: boolean;
  arbitrary(): fc.Arbitrary<C>;
  // Method syntax on purpose: a registry of NestfuzzProperty<AnyCase> holds both flavours.
  predicate(c: C, ctx: PropertyContext): Verdict;
}

export const HOLDS: Verdict = { ok: true };

export function fail(code: string, message: string, details?: Record<string, unknown>): Verdict {
  return { ok: false, code, message, details };
}

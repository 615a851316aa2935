// One entry point over every scenario kind for code that only needs the trace and outcome of a case
// (coverage sampling, replay); the scenario's `arch` picks the engine.

import type { Profile } from './profiles.ts';
import { run as runSvm } from './svm/run.ts';
import type { SvmScenario } from './svm/scenario.ts';
import type { Trace } from './trace.ts';
import { runVmx } from './vmx/run.ts';
import type { VmxScenario } from './vmx/scenario.ts';
import { runNestedFault, type NestedFaultScenario } from './mmu/nested_fault.ts';
import { runPermission, type PermissionScenario } from './mmu/permission_check.ts';
import { runPageFault } from './mmu/page_fault/run.ts';
import type { PageFaultScenario } from './mmu/page_fault/scenario.ts';

export type AnyScenario = SvmScenario | VmxScenario | NestedFaultScenario | PermissionScenario | PageFaultScenario;

export function isVmxScenario(s: AnyScenario): s is VmxScenario {
  return s.arch === 'vmx';
}

export function runAny(s: AnyScenario, p: Profile): { trace: Trace; outcome: string } {
  if (s.arch === 'mmu') return runNestedFault(s, p);
  if (s.arch === 'mmu-perm') return runPermission(s, p);
  if (s.arch === 'mmu-pf') return runPageFault(s, p);
  return isVmxScenario(s) ? runVmx(s, p) : runSvm(s, p);
}

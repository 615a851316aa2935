// One entry point over both flavours for code that only needs the trace and outcome of a case
// (coverage sampling, replay): a scenario with a vmcs12 is nested VMX, otherwise nested SVM.

import type { Profile } from './profiles.ts';
import { run as runSvm } from './svm/run.ts';
import type { SvmScenario } from './svm/scenario.ts';
import type { Trace } from './trace.ts';
import { runVmx } from './vmx/run.ts';
import type { VmxScenario } from './vmx/scenario.ts';
import { runNestedFault, type NestedFaultScenario } from './mmu/nested_fault.ts';

export type AnyScenario = SvmScenario | VmxScenario | NestedFaultScenario;

export function isVmxScenario(s: AnyScenario): s is VmxScenario {
  return s.arch === 'vmx';
}

export function runAny(s: AnyScenario, p: Profile): { trace: Trace; outcome: string } {
  if (s.arch === 'mmu') return runNestedFault(s, p);
  return isVmxScenario(s) ? runVmx(s, p) : runSvm(s, p);
}

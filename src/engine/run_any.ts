// One entry point over both flavours for code that only needs the trace and outcome of a case
// (coverage sampling, replay): a scenario with a vmcs12 is nested VMX, otherwise nested SVM.

import type { Profile } from './profiles.ts';
import { run as runSvm } from './svm/run.ts';
import type { SvmScenario } from './svm/scenario.ts';
import type { Trace } from './trace.ts';
import { runVmx } from './vmx/run.ts';
import type { VmxScenario } from './vmx/scenario.ts';

export function isVmxScenario(s: SvmScenario | VmxScenario): s is VmxScenario {
  return s.arch === 'vmx';
}

export function runAny(s: SvmScenario | VmxScenario, p: Profile): { trace: Trace; outcome: string } {
  return isVmxScenario(s) ? runVmx(s, p) : runSvm(s, p);
}

// What the nested-VMX consistency checks receive: the trace (for cc()), the kernel profile, the
// nested capability MSRs KVM advertises to L1 (arch/vmx/caps.ts kvmNestedVmxMsrs), and the
// guest-visible facts the checks consult. Checks are pure functions of their vmcs12 and this.

import type { NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import type { Profile } from '../profiles.ts';
import type { GuestCpuid } from '../svm/scenario.ts';
import type { Trace } from '../trace.ts';

export interface VmxGuestFacts {
  maxphyaddr: number;
  /** Guest CPUID (set `vmx: true` for a VMX guest: CR4.VMXE is legal then). */
  cpuid: GuestCpuid;
  /** Guest CPUID features the VMX checks consult beyond GuestCpuid. */
  mpx: boolean;
  /** Number of general-purpose / fixed vPMU counters (IA32_PERF_GLOBAL_CTRL validity). */
  pmu_gp_counters: number;
  pmu_fixed_counters: number;
  /** KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM. */
  quirk_allow_freeze_in_smm: boolean;
}

export interface VmxCheckCtx {
  t: Trace;
  p: Profile;
  caps: NestedVmxMsrs;
  guest: VmxGuestFacts;
  /** nested_run_pending: guest EFER is checked only for a VMLAUNCH/VMRESUME in flight. */
  nested_run_pending: boolean;
}

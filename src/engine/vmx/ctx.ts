// What the nested-VMX consistency checks receive: the trace (for cc()), the kernel profile, the
// nested capability MSRs KVM advertises to L1 (arch/vmx/caps.ts kvmNestedVmxMsrs), and the
// guest-visible facts the checks consult. Checks are pure functions of their vmcs12 and this.

import type { NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import type { Profile } from '../profiles.ts';
import type { GuestCpuid } from '../svm/scenario.ts';
import { Trace } from '../trace.ts';

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

/**
 * A 64-bit Intel guest with VMX, shadow stacks, PCID, SMEP/SMAP, no LA57 / PKU / LAM — the guest
 * CPUID the VMX base state is valid for. `over` adjusts single features.
 */
export function vmxGuestCpuid(over: Partial<GuestCpuid> = {}): GuestCpuid {
  return {
    svm: false, vmx: true, npt: false, nrips: false, vgif: false, vnmi: false, lbrv: false, v_vmsave_vmload: false,
    lm: true, nx: true, ffxsr: false, xsave: true, invpcid: true, rdtscp: true, skinit: false, rdpru: false,
    shstk: true, sev_es: false, la57: false, smep: true, smap: true, pku: false, fsgsbase: true, pcid: true,
    umip: true, gmet: false, lam: false, pausefilter: false, pfthreshold: false, ...over,
  };
}

/** Guest facts matching vmxGuestCpuid: MAXPHYADDR 46, MPX, 8 GP + 3 fixed vPMU counters. */
export function defaultVmxGuestFacts(over: Partial<VmxGuestFacts> = {}): VmxGuestFacts {
  return { maxphyaddr: 46, cpuid: vmxGuestCpuid(), mpx: true, pmu_gp_counters: 8, pmu_fixed_counters: 3, quirk_allow_freeze_in_smm: false, ...over };
}

export interface VmxCheckCtxOptions {
  p: Profile;
  caps: NestedVmxMsrs;
  t?: Trace;
  guest?: VmxGuestFacts;
  /** Default true: a VMLAUNCH/VMRESUME in flight (guest EFER is checked). */
  nested_run_pending?: boolean;
}

export function newVmxCheckCtx(o: VmxCheckCtxOptions): VmxCheckCtx {
  return { t: o.t ?? new Trace(), p: o.p, caps: o.caps, guest: o.guest ?? defaultVmxGuestFacts(), nested_run_pending: o.nested_run_pending ?? true };
}

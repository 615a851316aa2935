// "The emulated VMX-preemption timer lives only while L2 can run" (CVE-2019-7221): after any run, an
// armed hrtimer means the vCPU is in guest mode, in VMX operation, not freed, and vmcs12 activates
// the timer; an entry that did not reach L2 leaves no timer armed (KVM starts it only after a
// successful entry and cancels it in nested_vmx_vmexit and free_nested).

import fc from 'fast-check';
import { PIN_BASED } from '../../src/arch/vmx/controls.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { buildVmxCase, vmxBaseChoice, vmxCase, VMX_SCENARIO_MUTATION_IDS, type AppliedVmxCaseMutation } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';

/** vmxCase biased to the preemption timer on and L2 destroying the vCPU (plain vmxCase a quarter of the time). */
export function timerCase(): fc.Arbitrary<VmxCase> {
  const muts = fc.array(fc.tuple(fc.constantFrom(...VMX_SCENARIO_MUTATION_IDS), fc.nat({ max: 255 })), { maxLength: 3 });
  const biased = fc
    .tuple(vmxBaseChoice(), fc.constantFrom('vcpu-destroy', 'vcpu-destroy', 'vmcall', 'hlt') as fc.Arbitrary<'vcpu-destroy' | 'vmcall' | 'hlt'>, muts)
    .map(([choice, l2, ms]) => buildVmxCase({ ...choice, preemptionTimer: true, l2 }, ms as AppliedVmxCaseMutation[]));
  return fc.oneof({ arbitrary: biased, weight: 3 }, { arbitrary: vmxCase(), weight: 1 });
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'preemption-timer-lifetime',
  area: 'vmx',
  title: 'the emulated preemption timer is armed only in guest mode of a live vCPU whose vmcs12 activates it',
  rationale: 'SDM vol.3C §26.5.1 (VMX-preemption timer runs in VMX non-root operation); KVM nested.c vmx_start_preemption_timer, nested_vmx_vmexit (hrtimer_cancel), free_nested; ecec76885bcf (CVE-2019-7221); spec vmx-mmu.md §2.3 "start the preemption timer only after success"',
  arbitrary: () => timerCase(),
  predicate(c, ctx): Verdict {
    const r = runVmx(c.scenario, ctx.profile);
    const a = r.after;
    if (a.timer_armed) {
      const pinOn = (a.vmcs12.pin_based_vm_exec_control & PIN_BASED.VMX_PREEMPTION_TIMER) !== 0;
      const why = !a.guest_mode ? 'outside guest mode' : !a.vmxon ? 'outside VMX operation' : a.freed ? 'after the vCPU was freed' : !pinOn ? 'with vmcs12\'s preemption timer off' : null;
      if (why) return fail('timer-armed', `the preemption timer is armed ${why} (outcome ${r.outcome}${r.l2_event ? `, L2 ${r.l2_event}` : ''})`, { outcome: r.outcome, guest_mode: a.guest_mode, vmxon: a.vmxon, freed: a.freed });
      if (r.outcome !== 'entered') return fail('timer-armed-after-failure', `the preemption timer is armed after ${r.outcome}`, { outcome: r.outcome });
    }
    return HOLDS;
  },
};

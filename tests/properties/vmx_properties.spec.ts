// The nested-VMX invariants (properties/vmx): each holds on kvm-next for generated cases, and each
// fails on a directed counterexample from the bug profile it is meant to catch (profile_list.ts
// caughtBy), or — for the result-shape invariants — on a hand-broken VmxRunResult.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4 } from '../../src/arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY } from '../../src/arch/vmx/controls.ts';
import { INTR_INFO } from '../../src/arch/vmx/intr_info.ts';
import { cloneVmcs12 } from '../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { cloneVmxL1, memKey, type VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { validVmxScenario } from '../../src/engine/vmx/scenario_base.ts';
import { buildVmxCase, type VmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { DEFAULT_VMX_BASE } from '../../src/arbitraries/_internals/builders/baseVmxScenario.ts';
import { getProperty, PROPERTY_LIST } from '../../properties/index.ts';
import type { NestfuzzProperty, PropertyContext } from '../../properties/types.ts';
import { property as outcomeOrder } from '../../properties/vmx/vmlaunch-outcome-order.ts';
import { property as vmfailClean, vmfailSideEffects } from '../../properties/vmx/vmfail-no-side-effects.ts';
import { failedEntryProblem, property as failedEntry } from '../../properties/vmx/failed-entry-exit-exact.ts';
import { property as launchState } from '../../properties/vmx/launch-state.ts';
import { property as roundtrip, roundtripProblem } from '../../properties/vmx/vmx-exit-roundtrip.ts';
import { property as pathParity } from '../../properties/vmx/vmx-entry-path-parity.ts';
import { property as noWarn } from '../../properties/vmx/vmx-no-warn.ts';
import { property as x2apic } from '../../properties/vmx/x2apic-msrs-intercepted.ts';
import { property as timer } from '../../properties/vmx/preemption-timer-lifetime.ts';

const kvm = getProfile('kvm-next') as Profile;
const bug = (name: string): Profile => getProfile(name) as Profile;
const ctxOf = (profile: Profile, strictArch = false): PropertyContext => ({ profile, strictArch });

const VMX_PROPS: NestfuzzProperty<VmxCase>[] = [outcomeOrder, vmfailClean, failedEntry, launchState, roundtrip, pathParity, noWarn, x2apic, timer];

/** A case around a hand-made scenario (the base is the valid default). */
function caseOf(edit: (s: VmxScenario) => void, l0?: Parameters<typeof validVmxScenario>[0]): VmxCase {
  const c = buildVmxCase({ ...DEFAULT_VMX_BASE }, []);
  const s = validVmxScenario(l0);
  edit(s);
  return { ...c, scenario: s };
}

function msrList(s: VmxScenario, gpa: bigint, entries: [number, bigint][]): void {
  entries.forEach(([index, value], i) => {
    s.mem[memKey(gpa + BigInt(i) * 16n)] = BigInt(index);
    s.mem[memKey(gpa + BigInt(i) * 16n + 8n)] = value;
  });
}

describe('vmx properties: registry', () => {
  it('registers the VMX invariants after the SVM ones (and before the nested-paging ones), with unique ids', () => {
    const ids = PROPERTY_LIST.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of VMX_PROPS) {
      expect(getProperty(p.id)).toBe(p);
      expect(p.area).toBe('vmx');
    }
    const areas = PROPERTY_LIST.map((p) => p.area);
    const firstVmx = areas.indexOf('vmx');
    const lastVmx = areas.lastIndexOf('vmx');
    expect(areas.slice(0, firstVmx).every((a) => a === 'svm')).toBe(true);
    expect(areas.slice(firstVmx, lastVmx + 1).every((a) => a === 'vmx')).toBe(true);
    expect(areas.slice(lastVmx + 1).every((a) => a === 'mmu')).toBe(true);
  });
});

describe('vmx properties: hold on kvm-next', () => {
  for (const p of VMX_PROPS) {
    it(`${p.id} holds for 300 generated cases`, () => {
      fc.assert(
        fc.property(p.arbitrary(), (c) => {
          const v = p.predicate(c, ctxOf(kvm));
          if (!v.ok) throw new Error(`${v.code}: ${v.message} [${c.mutations.join(' ')}] ${JSON.stringify(c.choice)}`);
        }),
        { numRuns: 300, seed: 0x5eed },
      );
    });
  }
});

describe('vmx properties: catch their bug profiles', () => {
  it('vmlaunch-outcome-order: CVE-2023-30456 (UG, CR0.PG without PE) is a missed consistency check', () => {
    const c = caseOf((s) => {
      s.vmcs12.secondary_vm_exec_control |= SECONDARY.UNRESTRICTED_GUEST;
      s.vmcs12.guest_cr0 &= ~CR0.PE;
    });
    expect(outcomeOrder.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = outcomeOrder.predicate(c, ctxOf(bug('cve-2023-30456')));
    expect(v.ok ? null : v.code).toBe('missed-consistency-check');
  });
  it('vmlaunch-outcome-order: error-code-high-bits is a late VMfail for a KVM-owned rule', () => {
    const c = caseOf((s) => {
      s.vmcs12.vm_entry_intr_info_field = (INTR_INFO.VALID | INTR_INFO.DELIVER_CODE | (3 << 8) | 14) >>> 0;
      s.vmcs12.vm_entry_exception_error_code = 0x10002;
    });
    expect(outcomeOrder.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = outcomeOrder.predicate(c, ctxOf(bug('error-code-high-bits')));
    expect(v.ok ? null : v.code).toBe('missed-consistency-check');
  });
  it('vmlaunch-outcome-order: CVE-2018-12904 enters L2 from CPL 3 past the #GP gate', () => {
    const c = caseOf((s) => { s.l1.cpl = 3; });
    expect(outcomeOrder.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = outcomeOrder.predicate(c, ctxOf(bug('cve-2018-12904')));
    expect(v.ok ? null : v.code).toBe('gate-skipped');
  });
  it('vmlaunch-outcome-order: strict-arch reports exit 34 where the CPU would refuse the guest state first', () => {
    const c = caseOf((s) => {
      s.vmcs12.guest_tr_ar_bytes = 0x0083; // TR type 3 in IA-32e mode: a rule KVM leaves to hardware
      s.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      s.vmcs12.vm_entry_msr_load_count = 1;
      msrList(s, 0x1b000n, [[0xc0000100, 0n]]);
    });
    expect(outcomeOrder.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = outcomeOrder.predicate(c, ctxOf(kvm, true));
    expect(v.ok ? null : v.code).toBe('listed-order-difference');
  });

  it('vmfail-no-side-effects: error-code-high-bits with an entry MSR-load list keeps the loaded MSRs', () => {
    const c = caseOf((s) => {
      s.vmcs12.vm_entry_intr_info_field = (INTR_INFO.VALID | INTR_INFO.DELIVER_CODE | (3 << 8) | 14) >>> 0;
      s.vmcs12.vm_entry_exception_error_code = 0x10002;
      s.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      s.vmcs12.vm_entry_msr_load_count = 1;
      msrList(s, 0x1b000n, [[0xc0000082, 0xffffffff81000000n]]);
    });
    expect(vmfailClean.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = vmfailClean.predicate(c, ctxOf(bug('error-code-high-bits')));
    expect(v.ok ? null : v.code).toBe('vmfail-side-effect');
  });
  it('vmfail-no-side-effects: a hand-broken VMfail result fails', () => {
    const r = runVmx(caseOf((s) => { s.vmcs12.virtual_processor_id = 0; s.l1.rflags = 0x102n; }).scenario, kvm);
    expect(r.outcome).toBe('vmfail-valid');
    expect(vmfailSideEffects(r)).toEqual([]);
    const broken = { ...r, after: { ...r.after, l1: cloneVmxL1(r.after.l1), vmcs12: cloneVmcs12(r.after.vmcs12) } };
    broken.after.l1.rip += 1n;
    broken.after.vmcs12.exit_qualification = 7n;
    broken.after.timer_armed = true;
    expect(vmfailSideEffects(broken).map((d) => d.path)).toEqual(expect.arrayContaining(['l1.rip', 'vmcs12.exit_qualification', 'timer_armed']));
  });

  it('failed-entry-exit-exact: a hand-broken failed entry fails', () => {
    const r = runVmx(caseOf((s) => { s.vmcs12.guest_activity_state = 2; }).scenario, kvm);
    expect(r.outcome).toBe('entry-failure');
    expect(failedEntryProblem(r)).toBeNull();
    const withL1 = (edit: (l1: ReturnType<typeof cloneVmxL1>) => void) => {
      const l1 = cloneVmxL1(r.after.l1);
      edit(l1);
      return { ...r, after: { ...r.after, l1 } };
    };
    expect(failedEntryProblem(withL1((l1) => { l1.dr7 = 0x4ffn; }))?.code).toBe('host-state');
    expect(failedEntryProblem(withL1((l1) => { l1.seg.tr.limit = 0xffff; }))?.code).toBe('host-state');
    const v12 = cloneVmcs12(r.after.vmcs12);
    v12.vm_exit_intr_info = 0x80000300;
    expect(failedEntryProblem({ ...r, after: { ...r.after, vmcs12: v12 } })?.code).toBe('exit-info-written');
    expect(failedEntryProblem({ ...r, after: { ...r.after, launch_state: 'launched' } })?.code).toBe('launch-state-changed');
    expect(failedEntryProblem({ ...r, exit_qualification: 3n })?.code).toBe('exit-qualification');
  });
  it('failed-entry-exit-exact: mutant-timer-armed-early does not disturb the exit itself', () => {
    const c = caseOf((s) => { s.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER; s.vmcs12.guest_activity_state = 2; });
    expect(failedEntry.predicate(c, ctxOf(bug('mutant-timer-armed-early'))).ok).toBe(true);
  });

  it('exit-roundtrip: a hand-broken exit fails', () => {
    const c = caseOf(() => {});
    const r = runVmx(c.scenario, kvm);
    expect(r.l2_exit?.reason).toBe(18);
    expect(roundtripProblem(c.scenario, r)).toBeNull();
    const v12 = cloneVmcs12(r.after.vmcs12);
    v12.vm_exit_instruction_len = 2;
    expect(roundtripProblem(c.scenario, { ...r, after: { ...r.after, vmcs12: v12 } })?.code).toBe('instruction-len');
    expect(roundtripProblem(c.scenario, { ...r, after: { ...r.after, launch_state: 'clear' } })?.code).toBe('launch-state');
    expect(roundtripProblem(c.scenario, { ...r, after: { ...r.after, timer_armed: true } })?.code).toBe('timer-armed');
    const l1 = cloneVmxL1(r.after.l1);
    l1.gdtr.limit = 0x7f;
    expect(roundtripProblem(c.scenario, { ...r, after: { ...r.after, l1 } })?.code).toBe('host-state');
  });

  it('launch-state: holds around the valid base on both paths', () => {
    expect(launchState.predicate(caseOf(() => {}), ctxOf(kvm)).ok).toBe(true);
    expect(launchState.predicate(caseOf((s) => { s.path = 'vmresume'; s.launch_state = 'launched'; }), ctxOf(kvm)).ok).toBe(true);
  });

  it('vmx-entry-path-parity: holds for a control and a guest-state failure; strict-arch reports the listed MSR-list difference', () => {
    expect(pathParity.predicate(caseOf((s) => { s.vmcs12.virtual_processor_id = 0; }), ctxOf(kvm)).ok).toBe(true);
    expect(pathParity.predicate(caseOf((s) => { s.vmcs12.guest_activity_state = 2; }), ctxOf(kvm)).ok).toBe(true);
    const c = caseOf((s) => {
      s.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      s.vmcs12.vm_entry_msr_load_count = 1;
      msrList(s, 0x1b000n, [[0xc0000100, 0n]]);
    });
    expect(pathParity.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = pathParity.predicate(c, ctxOf(kvm, true));
    expect(v.ok ? null : v.code).toBe('listed-path-difference');
  });

  it('vmx-no-warn: warn_on_missed_cc turns a missed check (CVE-2023-30456) into a WARN', () => {
    const c = caseOf((s) => { s.vmcs12.guest_cr4 &= ~CR4.PAE; s.l0.warn_on_missed_cc = true; });
    expect(noWarn.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = noWarn.predicate(c, ctxOf(bug('cve-2023-30456')));
    expect(v.ok ? null : v.code).toBe('warn');
  });

  it('x2apic-msrs-intercepted: CVE-2019-3887 passes x2APIC reads without virtualize-x2APIC mode', () => {
    const c = caseOf((s) => {
      s.vmcs12.cpu_based_vm_exec_control |= CPU_BASED.TPR_SHADOW;
      s.vmcs12.secondary_vm_exec_control |= SECONDARY.APIC_REGISTER_VIRT;
      s.l2 = { kind: 'rdmsr', msr: 0x802 };
    });
    expect(x2apic.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = x2apic.predicate(c, ctxOf(bug('cve-2019-3887')));
    expect(v.ok ? null : v.code).toBe('l0-x2apic-accessed');
    const quiet = { ...c, scenario: { ...c.scenario, l2: { kind: 'vmcall' as const } } };
    const q = x2apic.predicate(quiet, ctxOf(bug('cve-2019-3887')));
    expect(q.ok ? null : q.code).toBe('passthrough-without-x2apic-mode');
  });

  it('preemption-timer-lifetime: CVE-2019-7221 leaves the timer armed after the vCPU is freed', () => {
    const c = caseOf((s) => {
      s.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER;
      s.vmcs12.vmx_preemption_timer_value = 1000;
      s.l2 = { kind: 'vcpu-destroy' };
    });
    expect(timer.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = timer.predicate(c, ctxOf(bug('cve-2019-7221')));
    expect(v.ok ? null : v.code).toBe('timer-armed');
  });
  it('preemption-timer-lifetime: mutant-timer-armed-early leaves the timer armed after a failed entry', () => {
    const c = caseOf((s) => { s.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER; s.vmcs12.guest_activity_state = 2; });
    expect(timer.predicate(c, ctxOf(kvm)).ok).toBe(true);
    const v = timer.predicate(c, ctxOf(bug('mutant-timer-armed-early')));
    expect(v.ok ? null : v.code).toBe('timer-armed');
  });
});

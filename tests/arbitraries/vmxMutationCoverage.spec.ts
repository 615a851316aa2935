// Directed coverage of the boundary mutations aimed at the CPU's own VM-entry checks of vmcs02
// (engine hardware.ts) and at the KVM checks the generator used to miss: on the default base each
// mutation (k = 0) must make kvm-next report its target in the trace's failed checks, and a hardware
// rule must be the verdict's rule.

import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/engine/profile_list.ts';
import { HARDWARE_GUEST_STATE_RULES } from '../../src/engine/vmx/nested/checks_guest.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { DEFAULT_VMX_BASE } from '../../src/arbitraries/_internals/builders/baseVmxScenario.ts';
import { buildVmxCase, VMX_SCENARIO_MUTATION_IDS } from '../../src/arbitraries/vmxScenario.ts';

const kvmNext = getProfile('kvm-next')!;

/** Runs the default base with one mutation; the failed checks and the hardware rule (if any). */
function fire(id: string, k = 0): { failed: string[]; hw: string | null } {
  const r = runVmx(buildVmxCase(DEFAULT_VMX_BASE, [[id, k]]).scenario, kvmNext);
  return { failed: r.trace.failedChecks(), hw: r.hardware?.rule ?? null };
}

/** vmcs12-only mutations of the hardware rules (vmxMutations.ts). */
const VMCS12_HW = [
  'hw-guest-cr4-pcide-without-ia32e', 'hw-guest-sysenter-noncanonical', 'hw-guest-tr-selector-ti', 'hw-guest-ldtr-selector-ti',
  'hw-guest-v86-segments', 'hw-guest-segment-bases', 'hw-guest-cs-type', 'hw-guest-ss-type', 'hw-guest-ds-es-fs-gs-type',
  'hw-guest-segment-s-flag', 'hw-guest-segment-dpl', 'hw-guest-segment-present', 'hw-guest-segment-ar-reserved',
  'hw-guest-segment-limit-granularity', 'hw-guest-cs-l-and-d', 'hw-guest-tr-type', 'hw-guest-ldtr-type', 'hw-guest-gdtr-idtr-base',
  'hw-guest-gdtr-idtr-limit', 'hw-guest-rip-upper-bits', 'hw-guest-rip-noncanonical', 'hw-guest-rflags-reserved', 'hw-guest-rflags-vm',
  'hw-guest-rflags-if-injection', 'hw-guest-activity-hlt-ss-dpl', 'hw-guest-activity-blocking', 'hw-guest-activity-event-injection',
  'hw-guest-interruptibility-reserved', 'hw-guest-interruptibility-sti-mov-ss', 'hw-guest-interruptibility-sti-if',
  'hw-guest-interruptibility-ext-int', 'hw-guest-interruptibility-nmi', 'hw-guest-interruptibility-smi', 'hw-guest-pending-dbg-reserved',
  'hw-guest-pending-dbg-bs', 'hw-guest-pending-dbg-rtm',
] as const;

/** Scenario mutations of hardware rules (need the path, L1 memory, PAE mode or ram_top). */
const SCN_HW = [
  'hw-guest-ss-rpl-cs-rpl', 'hw-guest-vmcs-link-ptr-current', 'hw-guest-pdpte-reserved', 'hw-ctl-tpr-threshold-above-vtpr', 'hw-ctl-virtual-apic-page',
] as const;

/** Mutations of KVM's own checks (not hardware rules). */
const KVM_CHECKS: readonly [prefixed: string, check: string][] = [
  ['vmcs12:load-cr3-illegal', 'load-cr3-illegal'],
  ...([
    'eptp-memtype-wb-unsupported', 'eptp-pwl4-unsupported', 'eptp-pwl5-unsupported', 'eptp-ad-unsupported', 'entry-intr-type-other-without-mtf',
    'exit-msr-load-end-illegal', 'exit-msr-store-end-illegal', 'entry-msr-load-end-illegal', 'guest-vmcs-link-ptr-unreadable',
    'prepare-vmcs02-guest-state-invalid', 'get-vmcs12-pages-apic-access-unmappable', 'set-nested-state-no-vmx-cpuid', 'set-nested-state-vmcs12-pa-invalid',
  ] as const).map((id): [string, string] => [`scn:${id}`, id]),
];

const HW_MUTATIONS: readonly string[] = [...VMCS12_HW.map((id) => `vmcs12:${id}`), ...SCN_HW.map((id) => `scn:${id}`)];

describe('hardware-rule and coverage mutations (kvm-next, default base)', () => {
  const known = [...VMX_SCENARIO_MUTATION_IDS];

  it('every mutation listed here exists in the tables', () => {
    for (const id of [...HW_MUTATIONS, ...KVM_CHECKS.map(([m]) => m)]) expect(known, id).toContain(id);
  });

  it('the late-VMfail and unbacked-page mutations are drawn like every other (their KVM behaviour is listed data)', () => {
    for (const id of ['hw-ctl-virtual-apic-page', 'hw-ctl-tpr-threshold-above-vtpr', 'get-vmcs12-pages-apic-access-unmappable']) {
      expect(VMX_SCENARIO_MUTATION_IDS).toContain(`scn:${id}`);
    }
  });

  for (const id of HW_MUTATIONS) {
    const rule = id.slice(id.indexOf(':') + 1);
    it(`${id} fails the CPU's entry with ${rule}`, () => {
      for (const k of [0, 1, 2, 3]) {
        const r = fire(id, k);
        expect(r.failed, `k = ${k}`).toContain(rule);
        expect(r.hw, `k = ${k}`).toBe(rule);
      }
    });
  }

  for (const [id, check] of KVM_CHECKS) {
    it(`${id} fails ${check}`, () => {
      for (const k of [0, 1, 2, 3]) expect(fire(id, k).failed, `k = ${k}`).toContain(check);
    });
  }

  it('every HARDWARE_GUEST_STATE_RULES id has a mutation that fires it', () => {
    const missing: string[] = [];
    for (const { id } of HARDWARE_GUEST_STATE_RULES) {
      const muts = VMX_SCENARIO_MUTATION_IDS.filter((m) => m.slice(m.indexOf(':') + 1) === id);
      if (!muts.some((m) => fire(m).hw === id)) missing.push(id);
    }
    expect(missing).toEqual([]);
    expect(HARDWARE_GUEST_STATE_RULES.length).toBe(39);
  });
});

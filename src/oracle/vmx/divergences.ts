// Known divergences between the engine (KVM's nested VMX) and Bochs's VMX, as data: who departs
// from the SDM (Bochs, KVM knowingly, or the engine's scope), why, and the SDM section (26.x/27.x
// checks) or KVM function/commit behind it. `explains` matches only the disagreement it describes.
// Anything no entry explains is an unexplained divergence.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { VM_ENTRY } from '../../arch/vmx/controls.ts';
import type { Divergence } from '../svm/divergences.ts';
import type { VmxVerdict } from './verdict.ts';
import { getProfile } from '../../engine/profile_list.ts';
import { runVmx } from '../../engine/vmx/run.ts';
import { cloneVmxScenario } from '../../engine/vmx/scenario.ts';

export interface VmxDivergenceCtx {
  c: OracleVmxCase;
  engine: VmxVerdict;
  emu: VmxVerdict;
  diff: string[];
  /** The engine's failed consistency checks, in order. */
  engineFailed: string[];
  /** The hardware rule the engine's CPU model of vmcs02 entry failed, if any. */
  hardwareRule: string | null;
}

const vmfail = (v: VmxVerdict, error: number): boolean => v.kind === 'vmfail-valid' && v.error === error;
const entryFailure33 = (v: VmxVerdict): boolean => v.kind === 'entry-failure' && (v.reason & 0xffff) === 33;
/**
 * Bochs let the state through the check: it entered L2 (an exit), or entered and hung in L2 (run,
 * or held back on a confirmed prediction of that hang: holdBack.ts).
 */
const bochsEntered = (v: VmxVerdict): boolean => v.kind === 'exit' || (v.kind === 'crash' && /^(not run, predicted \(.*\): )?hang/.test(v.detail));
const KVM_NEXT = getProfile('kvm-next')!;

/**
 * The state has a guest-state defect besides its VMCS link pointer: with the pointer repaired
 * (all ones: no shadow VMCS, SDM 26.3.1.5) the engine still fails the entry, with qualification 0.
 */
function failsGuestStateWithoutLinkPointer(c: OracleVmxCase): boolean {
  const s = cloneVmxScenario(c.scenario);
  s.vmcs12.vmcs_link_pointer = 0xffff_ffff_ffff_ffffn;
  const r = runVmx(s, KVM_NEXT);
  return r.outcome === 'entry-failure' && r.exit_qualification === 0n;
}

const failedFirst = (x: VmxDivergenceCtx, re: RegExp): boolean => x.engineFailed.length > 0 && re.test(x.engineFailed[0]);

export const VMX_DIVERGENCES: readonly Divergence<VmxDivergenceCtx>[] = [
  {
    id: 'bochs-entry-type7-without-mtf',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'Injection type 7 (other event) is reserved on a CPU without the 1-setting of "monitor trap flag"; the model has no MTF (PROCBASED_CTLS allowed-1 bit 27 clear) yet Bochs 2.7 accepts the type at the control checks (then fails a later check, enters, or PANICs "unsupported event injection type 7").',
    source: 'SDM vol. 3C 26.2.1.3 (VM-entry control fields: interruption type 7 reserved without MTF); KVM nested_check_vm_entry_controls; measured here',
    explains: (x) => vmfail(x.engine, 7) && failedFirst(x, /^entry-intr-type-other-without-mtf$/) && !vmfail(x.emu, 7),
  },
  {
    id: 'kvm-msr-list-count-limit',
    adapters: ['bochs-vmx'],
    departs: 'kvm',
    reason: 'KVM fails VM entry (VMfailValid 7) when an MSR-load/store count exceeds (IA32_VMX_MISC[27:25] + 1) * 512; the SDM only recommends that maximum and lists no such VM-entry check, so the CPU (Bochs) goes on to its other checks or reads the list.',
    source: 'KVM nested_vmx_check_msr_switch (nested_vmx_max_atomic_switch_msrs); SDM vol. 3D A.6 (recommended maximum), 26.2.1.2 (no count check)',
    explains: (x) => vmfail(x.engine, 7) && failedFirst(x, /msr-(load|store)-count-too-high$|^vmx-check-msr-list-count$/) && !vmfail(x.emu, 7),
  },
  {
    id: 'bochs-guest-non-register-state-unchecked',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'Bochs 2.7 does not make these checks on guest non-register state: pending-debug-exceptions reserved bits and the BS-without-TF rule, and the events an HLT activity state accepts; it enters L2 (and with activity HLT and nothing to wake it, L2 halts until the watchdog).',
    source: 'SDM vol. 3C 26.3.1.5 (checks on guest non-register state); engine nested/hardware.ts; measured here',
    explains: (x) => entryFailure33(x.engine) && bochsEntered(x.emu)
      && ['hw-guest-pending-dbg-reserved', 'hw-guest-pending-dbg-bs', 'hw-guest-activity-event-injection'].includes(x.hardwareRule ?? ''),
  },
  {
    id: 'bochs-perf-global-ctrl-unchecked',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'With "load IA32_PERF_GLOBAL_CTRL" set, reserved bits of the host (VM exit) or guest (VM entry) value must be 0; the model has no performance counters, so every bit is reserved to KVM (kvm_valid_perf_global_ctrl against the vPMU), but Bochs 2.7 does not check the value.',
    source: 'SDM vol. 3C 26.2.2 (host IA32_PERF_GLOBAL_CTRL), 26.3.1.1 (guest); KVM nested_vmx_check_host_state / nested_vmx_check_guest_state (kvm_valid_perf_global_ctrl)',
    explains: (x) => (vmfail(x.engine, 8) || entryFailure33(x.engine)) && failedFirst(x, /^(host|guest)-perf-global-ctrl-invalid$/) && x.emu.kind !== x.engine.kind,
  },
  {
    id: 'bochs-guest-debugctl-unchecked',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'With "load debug controls" set, reserved bits of the guest IA32_DEBUGCTL must be 0 (KVM: vmx_is_valid_debugctl against what it lets L1 set); Bochs 2.7 loads the value without the check.',
    source: 'SDM vol. 3C 26.3.1.1 (guest IA32_DEBUGCTL reserved bits); KVM nested_vmx_check_guest_state',
    explains: (x) => entryFailure33(x.engine) && failedFirst(x, /^guest-debugctl-invalid$/) && bochsEntered(x.emu),
  },
  {
    id: 'bochs-guest-rip-noncanonical-unchecked',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'For a 64-bit guest (IA-32e mode, CS.L=1) RIP must be canonical; Bochs 2.7 entered with RIP 1<<63 and 0x800000000fff (measured here), and the first fetch then raised #GP, which exits with reason 0 under the all-ones exception bitmap. With activity state HLT (which Bochs also enters unchecked, e.g. with pending-debug BS) L2 never fetches, and Bochs hangs instead (measured).',
    source: 'SDM vol. 3C 26.3.1.4 (checks on guest RIP), 26.3.1.5 (activity state); measured here',
    explains: (x) => entryFailure33(x.engine) && x.hardwareRule === 'hw-guest-rip-noncanonical' &&
      ((x.emu.kind === 'exit' && x.emu.reason === 0) || (x.c.scenario.vmcs12.guest_activity_state === 1 && x.emu.kind === 'crash' && bochsEntered(x.emu))),
  },
  {
    id: 'smm-entry-controls-offered-by-model',
    adapters: ['bochs-vmx'],
    departs: 'engine-scope',
    reason: 'Outside SMM the "entry to SMM" and "deactivate dual-monitor treatment" VM-entry controls must be 0 (a VM-entry control check, VMfailValid 7). KVM never offers either to L1 (nested_vmx_setup_entry_ctls), so its checks have no rule for them; the engine runs with the model\'s ENTRY_CTLS, which allow both, and enters. Bochs rejects the state with VMfail 7 or, for some states, as invalid guest state (exit 33).',
    source: 'SDM vol. 3C 26.2.1.3 (VM-entry control fields); KVM nested_vmx_setup_entry_ctls; measured here',
    explains: (x) => (x.c.scenario.vmcs12.vm_entry_controls & (VM_ENTRY.SMM | VM_ENTRY.DEACT_DUAL_MONITOR)) !== 0 && !vmfail(x.engine, 7) && (entryFailure33(x.emu) || vmfail(x.emu, 7)),
  },
  {
    id: 'bochs-ia32e-without-pg-unchecked',
    adapters: ['bochs-vmx'],
    departs: 'emulator',
    reason: 'With the "IA-32e mode guest" VM-entry control set, guest CR0.PG must be 1 (unrestricted guest does not lift it); Bochs 2.7 enters such a guest (CR0.PG=0, PE=1: L2 runs) or, with PE=0 too, PANICs loading it ("change_cpu_mode: EFER.LMA is set when CR0.PE=0").',
    source: 'SDM vol. 3C 26.3.1.1 (checks on guest control registers); KVM nested_vmx_check_guest_state; measured here',
    explains: (x) => entryFailure33(x.engine) && failedFirst(x, /^guest-ia32e-without-pg$/) && (x.emu.kind === 'exit' || (x.emu.kind === 'crash' && /PANIC/.test(x.emu.detail))),
  },
  {
    id: 'kvm-check-order-link-pointer-first',
    adapters: ['bochs-vmx'],
    departs: 'kvm',
    reason: 'A state that fails both the VMCS link-pointer check and another guest-state check (a segment rule the CPU makes, or one of KVM\'s own later in nested_vmx_check_guest_state: EFER.LMA/LME, guest CR3): KVM checks the link pointer early in software (exit 33, qualification 4), while Bochs makes the other check first (qualification 0). The SDM does not order the guest-state checks. Measured on seeds 9, 13 and 14 with the EFER and CR3 rules.',
    source: 'SDM vol. 3C 26.3.1.2 / 26.3.1.5, 26.8 (exit qualification 4 = VMCS link pointer); KVM nested_vmx_check_guest_state (nested_vmx_check_vmcs_link_ptr before the EFER checks), nested_vmx_load_cr3',
    explains: (x) => x.engine.kind === 'entry-failure' && x.emu.kind === 'entry-failure' && x.diff.join() === 'qualification'
      && x.engine.qualification === 4n && x.emu.qualification === 0n && failsGuestStateWithoutLinkPointer(x.c),
  },
  {
    id: 'activity-shutdown-offered-by-model',
    adapters: ['bochs-vmx'],
    departs: 'engine-scope',
    reason: 'Activity state 2 (shutdown) is valid where IA32_VMX_MISC[7] says so, as it does on this model; KVM never offers it to L1 (nested_vmx_setup_misc_data) and refuses it in nested_check_guest_non_reg_state whatever the caps, so the engine reports exit 33 where Bochs enters L2 in the shutdown state and waits (the watchdog ends it).',
    source: 'SDM vol. 3C 26.3.1.5 (activity state), A.6 (IA32_VMX_MISC[8:6]); KVM nested_check_guest_non_reg_state; measured here',
    explains: (x) => entryFailure33(x.engine) && failedFirst(x, /^guest-activity-state-invalid$/) && x.c.scenario.vmcs12.guest_activity_state === 2 && bochsEntered(x.emu),
  },
];

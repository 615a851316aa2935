// The VMX adapters: how a batch of VMCS states reaches an emulator and which CPU model it is.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { BOCHS_VMX_CPU, runBochsVmx } from '../bochs.ts';
import type { VmxBatchRun } from '../raw.ts';
import { VM_ENTRY } from '../../arch/vmx/controls.ts';
import type { Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import { CR0 } from '../../arch/svm/defs.ts';
import { getProfile } from '../../engine/profile_list.ts';
import { runVmx } from '../../engine/vmx/run.ts';
import { cloneVmxScenario, type VmxScenario } from '../../engine/vmx/scenario.ts';
import type { StatePages } from '../statePages.ts';
import type { Segment } from '../image.ts';

export interface VmxAdapter {
  name: string;
  model: string;
  /**
   * Runs each lane in order on an emulator instance of its own (lanes.ts), at most `jobs` at once;
   * `memory`: L1 memory the states read beyond the harness's image (a projected counterexample's
   * MSR lists, vmx/project.ts).
   */
  runBatch(lanes: readonly StatePages[], jobs: number, memory?: readonly Segment[]): Promise<VmxBatchRun>;
  /** VMCS encodings the CPU model lacks (VMWRITE fails with error 12): never written (fieldList.ts). */
  absentFields: ReadonlySet<number>;
  /** States after which later VM entries in the same process are known to misbehave (run last). */
  poisons(c: OracleVmxCase): boolean;
  /** Why a state is known to kill or hang the emulator, or null (holdBack.ts holds such states back). */
  predictCrash?(c: OracleVmxCase): string | null;
}

/**
 * Fields of KVM's vmcs12 that Bochs 2.7's corei7_sandy_bridge_2600k lacks, measured here (each
 * written alone into the valid base: VMfailValid(12)): posted interrupts, virtual-interrupt
 * delivery, PML, VM functions and EPTP switching, VMCS shadowing, XSAVES, ENCLS, TSC scaling, MPX
 * and CET — none of which the model's capability MSRs offer.
 */
export const BOCHS_VMX_ABSENT_FIELDS: ReadonlySet<number> = new Set([
  0x0002, 0x0810, 0x0812, 0x200e, 0x2016, 0x2018, 0x201c, 0x201e, 0x2020, 0x2022, 0x2024, 0x2026, 0x2028, 0x202c,
  0x202e, 0x2032, 0x2812, 0x6828, 0x682a, 0x682c, 0x6c18, 0x6c1a, 0x6c1c,
]);

const KVM_NEXT = getProfile('kvm-next')!;

/** L2 ran: VM entry passed every check (KVM's and the modelled CPU's). */
function enters(s: VmxScenario): boolean {
  return runVmx(s, KVM_NEXT).outcome === 'entered';
}

/**
 * VM entry got past the control and host-state checks (VMfail) to the guest state: L2 ran, or the
 * entry failed with a VM exit (reason 33/34, bit 31 set), which loads the host state and the
 * VM-exit MSR-load list like any VM exit (SDM 26.8).
 */
function reachesVmExit(s: VmxScenario): boolean {
  const o = runVmx(s, KVM_NEXT).outcome;
  return o === 'entered' || o === 'entry-failure';
}

/**
 * Rules Bochs 2.7 does not check at VM entry (the 'emulator' and 'kvm' entries of
 * vmx/divergences.ts, measured here), each as the repair that takes its defect away: a state
 * whose other defects are all of these gets past Bochs's checks as if it had none. Measured on
 * 2,000 states each of seeds 9 and 10: hangs and PANICs came from states whose only other defects
 * were a non-canonical RIP, a host IA32_PERF_GLOBAL_CTRL reserved bit or an MSR count.
 */
const BOCHS_VMX_UNCHECKED: readonly ((v: Vmcs12) => void)[] = [
  // KVM's MSR-list count limit (kvm-msr-list-count-limit): the SDM recommends it, checks nothing.
  (v) => {
    if (v.vm_exit_msr_load_count > 512) v.vm_exit_msr_load_count = 0;
    if (v.vm_exit_msr_store_count > 512) v.vm_exit_msr_store_count = 0;
    if (v.vm_entry_msr_load_count > 512) v.vm_entry_msr_load_count = 0;
  },
  // Reserved bits of IA32_PERF_GLOBAL_CTRL, host and guest (bochs-perf-global-ctrl-unchecked).
  (v) => {
    v.host_ia32_perf_global_ctrl = 0n;
    v.guest_ia32_perf_global_ctrl = 0n;
  },
  // Reserved bits of the guest IA32_DEBUGCTL (bochs-guest-debugctl-unchecked).
  (v) => { v.guest_ia32_debugctl = 0n; },
  // An IA-32e mode guest needs CR0.PG (bochs-ia32e-without-pg-unchecked: with PE set, L2 runs).
  (v) => {
    if ((v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0 && (v.guest_cr0 & CR0.PE) !== 0n) v.guest_cr0 |= CR0.PG;
  },
  // A 64-bit guest's RIP must be canonical (bochs-guest-rip-noncanonical-unchecked).
  (v) => { v.guest_rip = BigInt.asUintN(64, BigInt.asIntN(48, v.guest_rip)); },
  // Pending-debug-exceptions reserved bits and BS without TF (bochs-guest-non-register-state-unchecked):
  // B0-B3, enabled breakpoint (12) and RTM (16, a rule Bochs does check) stay.
  (v) => { v.guest_pending_dbg_exceptions &= 0x1100fn; },
];

/**
 * The states Bochs dies or hangs on (measured here, 500 generated states of seed 8: every state of
 * these kinds did, and no other did). Each is a rule Bochs does not check, so the state reaches
 * the part of Bochs that dies only when the rule is its sole defect: the gate repairs that one
 * field and asks the engine whether the rest enters L2.
 */
const BOCHS_VMX_KILLS: readonly { why: string; applies: (v: Vmcs12) => boolean; repair: (v: Vmcs12) => void; gate?: (s: VmxScenario) => boolean }[] = [
  {
    // Type 7 (other event) is legal only with vector 0 and MTF (SDM 26.2.1.3); Bochs checks
    // neither and PANICs injecting it.
    why: 'VM-entry injection of type 7 (other event): Bochs PANICs ("unsupported event injection type 7")',
    applies: (v) => (v.vm_entry_intr_info_field & 0x80000000) !== 0 && ((v.vm_entry_intr_info_field >>> 8) & 7) === 7,
    repair: (v) => { v.vm_entry_intr_info_field = 0; },
  },
  {
    // "IA-32e mode guest" requires guest CR0.PG = 1 (SDM 26.3.1.1); Bochs does not check it and,
    // with CR0.PE clear too, PANICs loading the guest ("EFER.LMA is set when CR0.PE=0").
    why: 'IA-32e mode guest with CR0.PG and CR0.PE clear: Bochs PANICs loading the guest',
    applies: (v) => (v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0 && (v.guest_cr0 & (CR0.PG | CR0.PE)) === 0n,
    repair: (v) => { v.guest_cr0 |= CR0.PG | CR0.PE; },
  },
  {
    // Activity HLT with pending-debug BS and RFLAGS.TF clear fails VM entry (SDM 26.3.1.5); Bochs
    // skips the rule, enters L2 halted, and nothing wakes it.
    why: 'activity HLT with pending-debug BS and TF clear: Bochs enters L2 halted and hangs',
    applies: (v) => v.guest_activity_state === 1 && (v.guest_pending_dbg_exceptions & (1n << 14n)) !== 0n && (v.guest_rflags & (1n << 8n)) === 0n,
    repair: (v) => { v.guest_pending_dbg_exceptions &= ~(1n << 14n); },
  },
  {
    // Activity state 2 (shutdown) is one this model's IA32_VMX_MISC offers (SDM 26.3.1.5, A.6);
    // Bochs enters L2 in it, and nothing the harness sends ends the wait (measured: seed 8).
    why: 'activity state shutdown: Bochs enters L2 shut down and waits',
    applies: (v) => v.guest_activity_state === 2,
    repair: (v) => { v.guest_activity_state = 0; },
  },
  {
    // More than 512 VM-exit MSR-load entries (IA32_VMX_MISC[27:25], SDM 26.7.2/A.6): KVM fails
    // VM entry (nested_vmx_check_exit_msr_switch_controls); Bochs goes on and never finishes the
    // VM exit, a failed entry's (exit 33) included: measured on 2,000 states of seed 8, where
    // four hangs paired the count with a guest-state defect (IA-32e guest without PAE, an
    // STI/MOV-SS blocking rule) whose entry failure loads the same list.
    why: 'VM-exit MSR-load count above 512: Bochs hangs in the VM exit',
    applies: (v) => v.vm_exit_msr_load_count > 512,
    repair: (v) => { v.vm_exit_msr_load_count = 0; },
    gate: reachesVmExit,
  },
  {
    // The same for the VM-exit MSR-store list (measured: Bochs never finishes the VM exit).
    why: 'VM-exit MSR-store count above 512: Bochs hangs in the VM exit',
    applies: (v) => v.vm_exit_msr_store_count > 512,
    repair: (v) => { v.vm_exit_msr_store_count = 0; },
  },
];

/**
 * Why Bochs is known to die or hang on this state, or null (holdBack.ts). The gate asks the engine
 * about the state with the kill's own defect and every rule Bochs does not check repaired; the
 * SMM entry controls, which Bochs refuses where the engine does not (smm-entry-controls-offered-by-model),
 * are never predicted.
 */
export function bochsVmxKills(c: OracleVmxCase): string | null {
  const v = c.scenario.vmcs12;
  const kill = BOCHS_VMX_KILLS.find((k) => k.applies(v));
  if (!kill || (v.vm_entry_controls & (VM_ENTRY.SMM | VM_ENTRY.DEACT_DUAL_MONITOR)) !== 0) return null;
  const repaired = cloneVmxScenario(c.scenario);
  kill.repair(repaired.vmcs12);
  for (const repair of BOCHS_VMX_UNCHECKED) repair(repaired.vmcs12);
  return (kill.gate ?? enters)(repaired) ? kill.why : null;
}

export const BOCHS_VMX: VmxAdapter = {
  name: 'bochs-vmx',
  model: BOCHS_VMX_CPU,
  absentFields: BOCHS_VMX_ABSENT_FIELDS,
  runBatch: (lanes, jobs, memory) => runBochsVmx(lanes, jobs, memory),
  poisons: () => false,
  predictCrash: bochsVmxKills,
};

const ADAPTERS: readonly VmxAdapter[] = [BOCHS_VMX];

export function getVmxAdapter(name: string): VmxAdapter | undefined {
  return ADAPTERS.find((a) => a.name === name);
}

export const VMX_ADAPTER_NAMES: readonly string[] = ADAPTERS.map((a) => a.name);

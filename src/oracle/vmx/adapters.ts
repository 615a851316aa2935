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

export interface VmxAdapter {
  name: string;
  model: string;
  runBatch(pages: Uint8Array[], jobs: number): Promise<VmxBatchRun>;
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
 * The states Bochs dies or hangs on (measured here, 500 generated states of seed 8: every state of
 * these kinds did, and no other did). Each is a rule Bochs does not check, so the state reaches
 * the part of Bochs that dies only when the rule is its sole defect: the gate repairs that one
 * field and asks the engine whether the rest enters L2.
 */
const BOCHS_VMX_KILLS: readonly { why: string; applies: (v: Vmcs12) => boolean; repair: (v: Vmcs12) => void }[] = [
  {
    // Type 7 (other event) is legal only with vector 0 and MTF (SDM 26.2.1.3); Bochs checks
    // neither and PANICs injecting it.
    why: 'VM-entry injection of type 7 (other event): Bochs PANICs ("unsupported event injection type 7")',
    applies: (v) => (v.vm_entry_intr_info_field & 0x80000000) !== 0 && ((v.vm_entry_intr_info_field >>> 8) & 7) === 7,
    repair: (v) => { v.vm_entry_intr_info_field = 0; },
  },
  {
    // Activity HLT with pending-debug BS and RFLAGS.TF clear fails VM entry (SDM 26.3.1.5); Bochs
    // skips the rule, enters L2 halted, and nothing wakes it.
    why: 'activity HLT with pending-debug BS and TF clear: Bochs enters L2 halted and hangs',
    applies: (v) => v.guest_activity_state === 1 && (v.guest_pending_dbg_exceptions & (1n << 14n)) !== 0n && (v.guest_rflags & (1n << 8n)) === 0n,
    repair: (v) => { v.guest_pending_dbg_exceptions &= ~(1n << 14n); },
  },
  {
    // More than 512 VM-exit MSR-load entries (IA32_VMX_MISC[27:25], SDM 26.7.2/A.6): KVM fails
    // VM entry (nested_vmx_check_exit_msr_switch_controls); Bochs enters and never finishes the
    // VM exit.
    why: 'VM-exit MSR-load count above 512: Bochs hangs in the VM exit',
    applies: (v) => v.vm_exit_msr_load_count > 512,
    repair: (v) => { v.vm_exit_msr_load_count = 0; },
  },
  {
    // The same for the VM-exit MSR-store list (measured: Bochs never finishes the VM exit).
    why: 'VM-exit MSR-store count above 512: Bochs hangs in the VM exit',
    applies: (v) => v.vm_exit_msr_store_count > 512,
    repair: (v) => { v.vm_exit_msr_store_count = 0; },
  },
  {
    // "IA-32e mode guest" requires guest CR0.PG = 1 (SDM 26.3.1.1); Bochs does not check it and,
    // with CR0.PE clear too, PANICs loading the guest ("EFER.LMA is set when CR0.PE=0").
    why: 'IA-32e mode guest with CR0.PG and CR0.PE clear: Bochs PANICs loading the guest',
    applies: (v) => (v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0 && (v.guest_cr0 & (CR0.PG | CR0.PE)) === 0n,
    repair: (v) => { v.guest_cr0 |= CR0.PG | CR0.PE; },
  },
];

/** Why Bochs is known to die or hang on this state, or null (holdBack.ts). */
export function bochsVmxKills(c: OracleVmxCase): string | null {
  const v = c.scenario.vmcs12;
  const kill = BOCHS_VMX_KILLS.find((k) => k.applies(v));
  if (!kill) return null;
  const repaired = cloneVmxScenario(c.scenario);
  kill.repair(repaired.vmcs12);
  return enters(repaired) ? kill.why : null;
}

export const BOCHS_VMX: VmxAdapter = {
  name: 'bochs-vmx',
  model: BOCHS_VMX_CPU,
  absentFields: BOCHS_VMX_ABSENT_FIELDS,
  runBatch: (pages, jobs) => runBochsVmx(pages, jobs),
  poisons: () => false,
  predictCrash: bochsVmxKills,
};

const ADAPTERS: readonly VmxAdapter[] = [BOCHS_VMX];

export function getVmxAdapter(name: string): VmxAdapter | undefined {
  return ADAPTERS.find((a) => a.name === name);
}

export const VMX_ADAPTER_NAMES: readonly string[] = ADAPTERS.map((a) => a.name);

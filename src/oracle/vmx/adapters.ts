// The VMX adapters: how a batch of VMCS states reaches an emulator and which CPU model it is.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { BOCHS_VMX_CPU, runBochsVmx } from '../bochs.ts';
import type { VmxBatchRun } from '../raw.ts';

export interface VmxAdapter {
  name: string;
  model: string;
  runBatch(pages: Uint8Array[], jobs: number): Promise<VmxBatchRun>;
  /** VMCS encodings the CPU model lacks (VMWRITE fails with error 12): never written (fieldList.ts). */
  absentFields: ReadonlySet<number>;
  /** States after which later VM entries in the same process are known to misbehave (run last). */
  poisons(c: OracleVmxCase): boolean;
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

export const BOCHS_VMX: VmxAdapter = {
  name: 'bochs-vmx',
  model: BOCHS_VMX_CPU,
  absentFields: BOCHS_VMX_ABSENT_FIELDS,
  runBatch: (pages, jobs) => runBochsVmx(pages, jobs),
  poisons: () => false,
};

const ADAPTERS: readonly VmxAdapter[] = [BOCHS_VMX];

export function getVmxAdapter(name: string): VmxAdapter | undefined {
  return ADAPTERS.find((a) => a.name === name);
}

export const VMX_ADAPTER_NAMES: readonly string[] = ADAPTERS.map((a) => a.name);

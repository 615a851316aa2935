// The L1 CPU a VMX reproducer's expected verdicts assume: Bochs 2.7's corei7_sandy_bridge_2600k as
// harness/vmx.asm reads it at boot (the CPUID leaves and capability MSRs probeVmxCpu returns;
// tests/oracle/exportVmx.spec.ts checks it still is). It is the VMX CPU the image runs on here;
// QEMU TCG has no VMX at all, and under KVM L1 sees the host's capabilities as KVM filters them.
// The image prints the capability MSRs it finds in the same shape as the assumed ones and fits the
// controls to them, so a reviewer can tell when a verdict rests on a different CPU.

import { vmxMsrName } from '../../arch/vmx/caps.ts';
import { BOCHS_VMX_CPU } from '../bochs.ts';
import { VMX_CAP_MSRS } from '../layout.ts';
import { vmxCpuFromDump, type OracleVmxCpu } from '../vmx/cpu.ts';

/** [eax, ebx, ecx, edx] per leaf, in layout.ts CPUID_LEAVES order (0x1, 0x7, 0x80000001, 0x80000008, 0x8000000A). */
export const REPRO_VMX_CPUID: readonly (readonly number[])[] = [
  [0x000206a7, 0x00010800, 0x179ae3bf, 0xbfebfbff],
  [0, 0, 0, 0],
  [0, 0, 0x00000001, 0x28100800],
  [0x00003028, 0, 0, 0],
  // An Intel CPU answers an unknown extended leaf with its highest basic leaf (here leaf 0xD).
  [0x00000007, 0x00000240, 0x00000340, 0],
];

/** IA32_VMX_BASIC (0x480) .. IA32_VMX_TRUE_ENTRY_CTLS (0x490), as harness/vmx.asm dumps them (all-ones: #GP). */
export const REPRO_VMX_CAPS: readonly bigint[] = [
  0x00d810000000002bn, 0x0000007f00000016n, 0xf7f9fffe0401e172n, 0x007fffff00036dffn, 0x0000ffff000011ffn, 0x00000000000401e0n,
  0x0000000080000021n, 0x00000000ffffffffn, 0x0000000000002000n, 0x00000000000627ffn, 0x0000000000000034n, 0x000000ff00000000n,
  0x00000f0106114141n, 0x0000007f00000016n, 0xf7f9fffe04006172n, 0x007fffff00036dfbn, 0x0000ffff000011fbn,
];

export function reproVmxCpu(): OracleVmxCpu {
  return vmxCpuFromDump(BOCHS_VMX_CPU, REPRO_VMX_CPUID.map((l) => [...l]), REPRO_VMX_CAPS);
}

/** The capability MSRs the image prints after MAXPHYADDR, in harness/vmx_repro.inc repro_cpu_msrs order. */
export const REPRO_VMX_CPU_MSRS: readonly number[] = [0x480, 0x485, 0x486, 0x487, 0x488, 0x489, 0x48b, 0x48c];

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** What the image prints after "l1 cpu here:" on a CPU like `cpu` (MAXPHYADDR and REPRO_VMX_CPU_MSRS). */
export function reproVmxCpuLine(cpu: OracleVmxCpu, dump: readonly bigint[] = REPRO_VMX_CAPS): string {
  const msrs = REPRO_VMX_CPU_MSRS.map((i) => `${vmxMsrName(i)} ${hex(dump[VMX_CAP_MSRS.indexOf(i)] ?? 0xffffffffffffffffn)}`);
  return [`MAXPHYADDR ${hex(cpu.maxphyaddr)}`, ...msrs].join(' ');
}

// The L1 CPU a reproducer's expected verdicts assume. Export runs no emulator, so the engine gets
// the CPUID the harness dumps at boot under QEMU 7.2 TCG with -cpu qemu64,+svm,+npt (the oracle's
// model, read by probeCpu; tests/oracle/export.spec.ts checks it still is). Under real KVM, L1
// sees the host's CPU as KVM filters it: the image prints MAXPHYADDR and the SVM feature leaf it
// found, so a reviewer can tell when a verdict rests on a different CPU.

import { cpuFromCpuid, type OracleCpu } from '../cpu.ts';
import { QEMU_CPU } from '../qemu.ts';

/** [eax, ebx, ecx, edx] per leaf, in layout.ts CPUID_LEAVES order (0x1, 0x7, 0x80000001, 0x80000008, 0x8000000A). */
export const REPRO_CPUID: readonly (readonly number[])[] = [
  [0x00060fb1, 0x00000800, 0x80002001, 0x078bfbfd],
  [0, 0, 0, 0],
  [0x00060fb1, 0x00000000, 0x00000005, 0x2193fbfd],
  [0x00003028, 0, 0, 0],
  [0x00000001, 0x00000010, 0, 0x00000001],
];

export function reproCpu(): OracleCpu {
  return cpuFromCpuid(QEMU_CPU, REPRO_CPUID.map((l) => [...l]));
}

/** What the image prints as "l1 cpu here", for the CPU the expected verdicts assume. */
export function reproCpuLine(cpu: OracleCpu): string {
  const svmEdx = cpu.cpuid[4]?.[3] ?? 0;
  return `MAXPHYADDR 0x${cpu.maxphyaddr.toString(16)} CPUID 0x8000000A EDX 0x${(svmEdx >>> 0).toString(16)}`;
}

// repro.elf for a nested-VMX counterexample: the REPRO variant of the VMX harness (harness/vmx.asm,
// vmx_repro.inc) with the state's data block appended, wrapped in ELF32. The block holds the memory
// the harness expects (its host tables, L2's code and IDT, the identity EPT, the state's MSR lists,
// a batch header for one state and its field list), the expected verdicts as record matches, the header and the line it
// prints where the CPU has no VMX. The same block after the harness assembled with BOCHS as well
// is an option-RAM image Bochs runs (the only VMX CPU here; tests/oracle/exportVmx.spec.ts).

import type { NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import { memorySegment } from '../vmx/project.ts';
import { inputHeader, vmxReproImage, type Segment } from '../image.ts';
import { LAYOUT, statePage } from '../layout.ts';
import { BOCHS_VMX_ABSENT_FIELDS } from '../vmx/adapters.ts';
import type { OracleVmxCpu } from '../vmx/cpu.ts';
import { encodeVmxStatePage } from '../vmx/fieldList.ts';
import { describeVmxVerdict, diffVmxVerdicts, type VmxVerdict } from '../vmx/verdict.ts';
import { encodeDataBlock, type ExpectedRecord } from './dataBlock.ts';
import { wrapElf32 } from './elf.ts';
import { reproFlat, reproTitleLine } from './image.ts';
import { REPRO_KVM_COMMAND } from './readme.ts';
import { reproVmxCpuLine } from './vmxCpu.ts';
import type { VmxReproSource } from './vmxSource.ts';

/** harness/vmx_repro.inc: an expected verdict no record matches (no hardware counterpart). */
const NEVER = 0xffffffff;
/** Record words compared (vmx_repro.inc): a at +8, b at +16, c at +24. */
const W = { A: 1, B: 2, C: 4 } as const;
/** The harness's code for VMLAUNCH in a record's "which instruction" word (vmx.asm vmfail). */
const AT_VMLAUNCH = -1n;

/**
 * The control fields the harness fits to its CPU at run time (vmx_repro.inc repro_ctls, SDM App. B
 * encodings) and their allowed-0 / allowed-1 settings on the assumed CPU (SDM A.3; the TRUE MSRs).
 */
const CONTROL_FIELDS: readonly { encoding: number; allowed: (c: NestedVmxMsrs) => [number, number] }[] = [
  { encoding: 0x4000, allowed: (c) => [c.pinbasedCtlsLow, c.pinbasedCtlsHigh] },
  { encoding: 0x4002, allowed: (c) => [c.procbasedCtlsLow, c.procbasedCtlsHigh] },
  { encoding: 0x401e, allowed: (c) => [c.secondaryCtlsLow, c.secondaryCtlsHigh] },
  { encoding: 0x400c, allowed: (c) => [c.exitCtlsLow, c.exitCtlsHigh] },
  { encoding: 0x4012, allowed: (c) => [c.entryCtlsLow, c.entryCtlsHigh] },
];

/** Whether the comparison of two VMX verdicts looks at this exit's qualification (verdict.ts, SDM 28.2.1). */
const qualificationCompared = (v: VmxVerdict & { kind: 'exit' | 'entry-failure' }): boolean =>
  diffVmxVerdicts(v, { ...v, qualification: v.qualification ^ 1n }).length > 0;

/** A verdict as the record the harness must write to match it, compared as verdict.ts compares them. */
export function expectedVmxRecord(v: VmxVerdict): ExpectedRecord {
  const rec = (kind: number, mask: number, a = 0n, b = 0n, c = 0n): ExpectedRecord => ({ kind, mask, a, b, c, d: 0n });
  switch (v.kind) {
    // SDM 31.2: VMfailInvalid / VMfailValid(error) of VMLAUNCH itself, not of a VMWRITE before it.
    case 'vmfail-invalid':
      return rec(LAYOUT.REC_VMFAIL_INVALID, W.B, 0n, AT_VMLAUNCH);
    case 'vmfail-valid':
      return rec(LAYOUT.REC_VMFAIL_VALID, W.A | W.B, BigInt(v.error), AT_VMLAUNCH);
    // SDM 27.8 / 28.2.1: the full exit reason (bit 31 for a failed entry) and, where defined, the qualification.
    case 'entry-failure':
    case 'exit':
      return rec(LAYOUT.REC_EXIT, W.A | (qualificationCompared(v) ? W.B : 0), BigInt(v.reason >>> 0), v.qualification);
    case 'host-exception':
      return rec(LAYOUT.REC_HOST_EXC, W.A | W.C, BigInt(v.vector), 0n, AT_VMLAUNCH);
    default:
      return rec(NEVER, 0);
  }
}

/**
 * The state page (fieldList.ts) with each control field's pad word set to the bits the harness must
 * keep when it fits the controls to the CPU it runs on: those outside the allowed settings of the
 * CPU the verdicts assume (SDM A.3), which a counterexample sets on purpose.
 */
export function reproVmxStatePage(src: VmxReproSource, cpu: OracleVmxCpu): Uint8Array {
  const page = encodeVmxStatePage(src.c.scenario.vmcs12, BOCHS_VMX_ABSENT_FIELDS);
  const dv = new DataView(page.buffer);
  for (let off = 0; dv.getUint32(off, true) !== 0xffffffff; off += 16) {
    const ctl = CONTROL_FIELDS.find((f) => f.encoding === dv.getUint32(off, true));
    if (!ctl) continue;
    const value = Number(dv.getBigUint64(off + 8, true) & 0xffffffffn);
    const [allowed0, allowed1] = ctl.allowed(cpu.caps);
    dv.setUint32(off + 4, ((~value & allowed0) | (value & ~allowed1)) >>> 0, true);
  }
  return page;
}

/** Printed where CPUID.1:ECX.VMX is clear (QEMU TCG): why nothing ran, and how to run it. */
export const VMX_NOT_RUN = `not run: this CPU has no VMX (CPUID.1:ECX bit 5 is clear; QEMU TCG does not emulate VMX): boot it on an Intel host with kvm_intel loaded with nested=1: ${REPRO_KVM_COMMAND}`;

/** The lines printed before the state runs: title, expected verdicts, the CPU they assume. */
export function reproVmxHeaderLines(src: VmxReproSource, cpu: OracleVmxCpu): string[] {
  return [
    reproTitleLine(src),
    ...src.expected.map((e) => `${e.label}: ${describeVmxVerdict(e.verdict)}`),
    `expected verdicts assume l1 cpu ${cpu.model}: ${reproVmxCpuLine(cpu)}`,
  ];
}

/** L1 memory the state uses (its MSR lists, vmx/project.ts): the scenario's words, zeros around them, as the engine reads it. */
function memorySegments(src: VmxReproSource): Segment[] {
  return src.memory.map((r) => memorySegment(src.c.scenario.mem, r.gpa, r.bytes));
}

export function reproVmxDataBlock(src: VmxReproSource, cpu: OracleVmxCpu): Uint8Array {
  return encodeDataBlock({
    segments: [...vmxReproImage(src.c.choice.snippet), ...memorySegments(src), inputHeader(1, 0), { gpa: statePage(0), bytes: reproVmxStatePage(src, cpu) }],
    expected: src.expected.map((e) => ({ label: e.label, record: expectedVmxRecord(e.verdict) })),
    header: `${reproVmxHeaderLines(src, cpu).join('\n')}\n`,
    notRun: `${VMX_NOT_RUN}\n`,
  });
}

/** repro.elf: the multiboot reproducer. */
export function reproVmxImage(src: VmxReproSource, cpu: OracleVmxCpu): Uint8Array {
  return wrapElf32(reproFlat(reproVmxDataBlock(src, cpu), 'vmx', ['REPRO']), LAYOUT.HARNESS_BASE);
}

/** The same reproducer entered from Bochs's option ROM (bochs.ts bootBochsImage). */
export function reproVmxBochsImage(src: VmxReproSource, cpu: OracleVmxCpu): Uint8Array {
  return reproFlat(reproVmxDataBlock(src, cpu), 'vmx', ['REPRO', 'BOCHS']);
}

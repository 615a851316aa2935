// repro.elf: the REPRO variant of the SVM harness with the state's data block appended (the
// block's label ends the harness, and the multiboot header loads the whole file), wrapped in ELF32.

import { readFileSync } from 'node:fs';
import { NestfuzzError } from '../../campaign/errors.ts';
import { assembleHarness } from '../assemble.ts';
import type { OracleCpu } from '../cpu.ts';
import { LAYOUT } from '../layout.ts';
import { describeSvmVerdict } from '../svm/verdict.ts';
import { reproCpuLine } from './cpu.ts';
import { reproDataBlock } from './dataBlock.ts';
import { wrapElf32 } from './elf.ts';
import type { ReproSource } from './source.ts';

/** Bytes kept free below the host stack top. */
const STACK_RESERVE = 0x10000;

/** The first line the image prints: which counterexample, and whether the image can show it. */
export function reproTitleLine(src: Pick<ReproSource, 'hash' | 'title' | 'lost'>): string {
  return `nestfuzz repro ${src.hash}: ${src.title}${src.lost ? ` [note: ${src.lost}]` : ''}`;
}

/** The lines printed before the state runs: title, expected verdicts, the CPU they assume. */
export function reproHeaderLines(src: ReproSource, cpu: OracleCpu): string[] {
  return [
    reproTitleLine(src),
    ...src.expected.map((e) => `${e.label}: ${describeSvmVerdict(e.verdict)}`),
    `expected verdicts assume l1 cpu ${cpu.model}: ${reproCpuLine(cpu)}`,
  ];
}

export function reproImage(src: ReproSource, cpu: OracleCpu): Uint8Array {
  return reproImageWith(reproDataBlock({ vmcb: src.c.scenario.vmcb12, expected: src.expected, header: `${reproHeaderLines(src, cpu).join('\n')}\n` }));
}

/** The SVM REPRO harness with `block` (dataBlock.ts) appended, as repro.elf. */
export function reproImageWith(block: Uint8Array): Uint8Array {
  return wrapElf32(reproFlat(block, 'svm', ['REPRO']), LAYOUT.HARNESS_BASE);
}

/** harness/<name>.asm assembled with `defines` (REPRO, and BOCHS for an option-ROM entry), `block` appended: the bytes loaded at HARNESS_BASE. */
export function reproFlat(block: Uint8Array, name: 'svm' | 'vmx', defines: readonly string[]): Uint8Array {
  const harness = readFileSync(assembleHarness(name, defines));
  // The loader puts the whole image at HARNESS_BASE: it must end well below the host stack.
  if (LAYOUT.HARNESS_BASE + harness.length + block.length > LAYOUT.STACK_TOP - STACK_RESERVE) {
    throw new NestfuzzError('NESTFUZZ_ORACLE', `the reproducer image would be ${harness.length + block.length} bytes, past the harness's stack at ${LAYOUT.STACK_TOP.toString(16)}`, 'move STACK_TOP in harness/layout.inc or shrink the static image');
  }
  const flat = new Uint8Array(harness.length + block.length);
  flat.set(harness);
  flat.set(block, harness.length);
  return flat;
}

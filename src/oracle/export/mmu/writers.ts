// repro.elf, repro.c and README.txt of a nested-walk reproducer. The image is the SVM REPRO
// harness (the same boot, VMRUN, report and match as a VMRUN reproducer) with L1's memory for the
// walk appended as extra segments; only the header and the words differ.

import type { StringIo } from '../../../engine/emulate/string_io.ts';
import type { OracleCpu } from '../../cpu.ts';
import type { Segment } from '../../image.ts';
import { LAYOUT } from '../../layout.ts';
import { describeSvmVerdict } from '../../svm/verdict.ts';
import { svmTestPair } from '../cSource.ts';
import { reproCpuLine } from '../cpu.ts';
import { reproDataBlock, REPRO_FLAG_L1_NXE } from '../dataBlock.ts';
import { reproImageWith, reproTitleLine } from '../image.ts';
import { REPRO_KVM_COMMAND, REPRO_TCG_COMMAND } from '../readme.ts';
import { ARENA_BASE } from './memory.ts';
import type { NptReproSource } from './source.ts';

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** Title, the expected verdicts (the boot test reads them right after the title), then the rest. */
export function nptHeaderLines(src: NptReproSource, cpu: OracleCpu): string[] {
  return [
    reproTitleLine(src),
    ...src.expected.map((e) => `${e.label}: ${describeSvmVerdict(e.verdict)}`),
    ...src.npt.accessLines,
    ...src.npt.imageLines,
    `expected verdicts assume l1 cpu ${cpu.model}: ${reproCpuLine(cpu)}`,
  ];
}

/**
 * The IOPM bytes that make L1 intercept the INS/OUTS: one bit per port the access touches, port to
 * port + size - 1 (APM 15.10.1), over the harness's zeroed IOPM.
 */
export function iopmSegments(io: StringIo | null): Segment[] {
  if (!io?.l1_intercepts) return [];
  const first = io.port >> 3;
  const last = (io.port + io.size - 1) >> 3;
  const bytes = new Uint8Array(last - first + 1);
  for (let port = io.port; port < io.port + io.size; port++) bytes[(port >> 3) - first] |= 1 << (port & 7);
  return [{ gpa: LAYOUT.IOPM_PA + first, bytes }];
}

export function nptImage(src: NptReproSource, cpu: OracleCpu): Uint8Array {
  return reproImageWith(reproDataBlock({
    vmcb: src.c.scenario.vmcb12, expected: src.expected, header: `${nptHeaderLines(src, cpu).join('\n')}\n`,
    extra: [...src.npt.plan.mem.segments(), ...iopmSegments(src.npt.plan.io)], flags: src.npt.plan.l1Nxe ? REPRO_FLAG_L1_NXE : 0,
  }));
}

/** L1's memory as built, one non-zero word a line. */
function memoryLines(src: NptReproSource): string[] {
  const words = Object.entries(src.npt.plan.mem.words).filter(([, v]) => v !== 0n).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return words.map(([k, v]) => `\t{ ${k}ULL, ${hex(v)}ULL },`);
}

export function nptC(src: NptReproSource, cpu: OracleCpu): string {
  const v = src.c.scenario.vmcb12;
  const name = `nestfuzz_${src.hash.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const plan = src.npt.plan;
  const width = Math.max(...src.expected.map((e) => e.label.length));
  const head = [
    `nestfuzz reproducer ${src.hash}: ${src.title}.`,
    `${src.property}: ${src.detail}`,
    ...(src.lost ? ['', `Note: ${src.lost}.`] : []),
    '',
    `L2 runs under L1's nested page tables (nested_cr3 ${hex(v.control.nested_cr3)}) with its own paging`,
    `(${plan.format}, cr3 ${hex(v.save.cr3)}) and makes one ${plan.io ? `${plan.io.kind} on port ${hex(BigInt(plan.io.port))}` : plan.kind} at ${hex(plan.rax)}: its code at`,
    `save.rip is \`${plan.code.text}\` (bytes ${plan.code.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}), and rax holds the address.`,
    `After VMRUN, L1 sees (nestfuzz's reference engine, hardware path, L1 CPU ${cpu.model}: ${reproCpuLine(cpu)}):`,
    ...src.expected.map((e) => `  ${`${e.label}:`.padEnd(width + 1)} ${describeSvmVerdict(e.verdict)}`),
    ...src.npt.accessLines.map((l) => `  ${l}`),
    '',
    `nestfuzz_l1_mem[] is L1's memory as repro.elf builds it (u64 words at L1 physical addresses): L1's`,
    `NPT, L2's tables and L2's code, moved to ${hex(ARENA_BASE)}+ away from the harness; nested_cr3 and`,
    `every NPT entry point into it. kvm-unit-tests' x86 tests run identity-mapped, so a test writes the`,
    `words where they are; to move them, rewrite nested_cr3 and the NPT entries' addresses alike.`,
    ...(plan.io?.l1_intercepts ? [`L1 intercepts port ${hex(BigInt(plan.io.port))}: its bit is set in the IOPM at control.iopm_base_pa (IOIO_PROT on).`] : []),
    `vmcb->save.rip and the harness addresses of the VMCB's other fields are as in repro.elf; every`,
    `field not assigned below is zero. Intercepts: VMMCALL, HLT, SHUTDOWN and every exception.`,
    `L1 runs with EFER.NXE ${plan.l1Nxe ? 'set' : 'clear'} (bit 63 of an NPT entry is ${plan.l1Nxe ? 'NX' : 'reserved'}).`,
    ...plan.notes.map((n) => `Note: ${n}.`),
  ];
  return [
    '/*',
    head.map((l) => (l ? ` * ${l}` : ' *')).join('\n'),
    ' */',
    `static const struct { u64 gpa, val; } ${name}_l1_mem[] = {`,
    ...memoryLines(src),
    '};',
    '',
    ...svmTestPair(name, v, [
      '\tunsigned i;',
      '',
      `\tfor (i = 0; i < ARRAY_SIZE(${name}_l1_mem); i++)`,
      `\t\t*(volatile u64 *)(uintptr_t)${name}_l1_mem[i].gpa = ${name}_l1_mem[i].val;`,
    ], src.expected),
  ].join('\n');
}

export function nptReadme(src: NptReproSource, cpu: OracleCpu): string {
  const plan = src.npt.plan;
  const heading = `nestfuzz reproducer ${src.hash}`;
  return `${heading}
${'='.repeat(heading.length)}

Counterexample: ${src.file}
${src.title}
${src.detail}
${src.lost ? `\nNOTE: ${src.lost}.\n` : ''}
A nested page-walk counterexample: L2's page tables and L1's nested page tables (NPT) in L1's
memory, and one L2 access. The image builds that memory, enters L2 with nested paging on (VMRUN
with NP_ENABLE and nested_cr3) in L2's paging mode, and L2 makes the access; the CPU then exits to
L1 with a #NPF (a fault in L1's NPT, APM 15.25.6), a #PF (a fault in L2's own tables, intercepted),
or VMMCALL (the access completed).

Files
  repro.elf   a Multiboot v1 image (ELF32, loaded at 1 MiB): L1 that enters long mode, builds the
              memory, runs VMRUN once, prints the exit and compares it with the expected verdicts
  repro.c     the memory and the vmcb as a kvm-unit-tests-style prepare/check pair
  README.txt  this file

What it prints (COM1 and port 0xE9), before the state runs:
${nptHeaderLines(src, cpu).map((l) => `  ${l}`).join('\n')}
then "l1 cpu here: ...", "observed: exit_code ... exit_info_1 ... exit_info_2 ..." and "observed
matches: <expected verdicts>" or "observed matches none of the expected verdicts" (exit_code and,
for #NPF, #PF and IOIO, exit_info_1 and exit_info_2 are compared).

Run it under QEMU TCG:
  ${REPRO_TCG_COMMAND}
Run it under real KVM on an AMD host (kvm_amd nested=1, npt=1):
  ${REPRO_KVM_COMMAND}

How the image lays the scenario out
- L2's addresses (GVAs, L2 GPAs: CR3 and every entry of L2's own tables) are the counterexample's.
  L1's pages are moved into a free region of the harness (from ${hex(ARENA_BASE)}), because the
  counterexample's L1 addresses collide with the harness's own (its code at 1 MiB, its page tables
  at 2 MiB) or lie above the image's 256 MiB; nested_cr3 and the NPT entries are rewritten to match.
  A #NPF reports only L2-side values (exit_info_2 is an L2 GPA), so the move changes no exit.
- L1 is the harness: 4-level long mode, EFER.NXE ${plan.l1Nxe ? 'set' : 'clear'} as in the counterexample (it makes an NPT
  entry's bit 63 NX, or reserved), the CPU's MAXPHYADDR. The expected verdicts are computed for the
  image's state, not the stored one.
- L2's instruction needs a mapping of its own: ${plan.placement === 'own-tables' ? `it gets fresh L2 tables below an entry the access's walk does not read, at
  fresh L2 GPAs mapped by NPT entries the access's walk does not read either, so the access walks
  exactly the counterexample's entries` : plan.placement === 'access-gva' ? 'for a fetch L2 simply starts at the access\'s GVA' : `no entry was free for one (see the notes), so the code sits in the
  access's own page and its fetch meets the access's fault first`}.
${plan.notes.map((n) => `- ${n}.`).join('\n')}
`;
}

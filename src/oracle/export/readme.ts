// README.txt of an exported reproducer: what it is, how to run it under QEMU TCG and under KVM,
// and how to read what it prints.

import type { OracleCpu } from '../cpu.ts';
import { QEMU_CPU } from '../qemu.ts';
import { reproHeaderLines } from './image.ts';
import type { ReproSource } from './source.ts';

export const REPRO_TCG_COMMAND = `qemu-system-x86_64 -accel tcg -cpu ${QEMU_CPU} -m 256 -nographic -no-reboot -kernel repro.elf -device isa-debug-exit,iobase=0xf4,iosize=4`;
export const REPRO_KVM_COMMAND = 'qemu-system-x86_64 -accel kvm -cpu host -m 256 -nographic -kernel repro.elf -device isa-debug-exit,iobase=0xf4,iosize=4';

export function reproReadme(src: ReproSource, cpu: OracleCpu): string {
  const lines = reproHeaderLines(src, cpu);
  return `nestfuzz reproducer ${src.hash}
${'='.repeat(`nestfuzz reproducer ${src.hash}`.length)}

Counterexample: ${src.file}
${src.title}
${src.detail}
${src.lost ? `\nNOTE: ${src.lost}. What makes the bug lies in what the image does not
reproduce: the counterexample's own L1 state, a race, KVM-internal state (SMM, nested state, caches),
or a step after L2's first exit. The image still runs the state and reports what the CPU does with
it; the counterexample itself replays with \`nestfuzz replay ${src.file}\`.\n` : ''}
Files
  repro.elf   a Multiboot v1 image (ELF32, loaded at 1 MiB): L1 that enters long mode, runs VMRUN
              once on the state below, prints the outcome and compares it with the expected verdicts
  repro.c     the same vmcb12 as a prepare/check pair in the style of kvm-unit-tests' SVM tests
  README.txt  this file

What it prints (COM1 and port 0xE9), before the state runs:
${lines.map((l) => `  ${l}`).join('\n')}
then "l1 cpu here: ..." (the CPU it found), "observed: ..." (exit_code, exit_info_1/2,
exit_int_info and its error code, L2's rip and next_rip as VMRUN left them, or the exception VMRUN
raised in L1), and "observed matches: <expected verdicts>" or "observed matches none of the expected
verdicts". A match compares exit_code bits 31:0 and, where the APM defines them for that exit,
exit_info_1/2 and exit_int_info; when several match on bits 31:0 the line also says which ones the
whole 64-bit exit_code matches. It then exits through isa-debug-exit (QEMU's exit status is 1) and
halts where that device is absent.

Run it under QEMU TCG (QEMU's own SVM model, no KVM needed):
  ${REPRO_TCG_COMMAND}

Run it under real KVM (L0 is the host's KVM: its nested SVM is what runs the state); on an AMD host
with kvm_amd loaded with nested=1:
  ${REPRO_KVM_COMMAND}
On an Intel host (or with nested SVM off) L1 has no SVM and the image prints that instead of
running the state. Either way it needs -m 256: the harness records its outcome at 128 MiB, and the
image refuses to run with less.

Reading the result
- The expected verdicts are the engine's, for L1's CPU as ${cpu.model} reports it. Under KVM, L1
  sees the host's CPU as KVM filters it: when its "l1 cpu here" line differs from the one assumed
  (MAXPHYADDR, SVM feature bits), a verdict that depends on them may differ too.
- QEMU TCG writes VMEXIT_INVALID as 0x00000000ffffffff (exit_code bits 63:32 zero, where KVM and the
  APM have -1), so under TCG a bug in those bits cannot be told apart; under KVM it can.
${src.projected ? `- The state is the counterexample's vmcb12 projected onto the harness: every value a consistency
  check or the exit path reads is the counterexample's, while addresses (IOPM, MSRPM, nCR3, CR3,
  RIP, GDT/IDT) point at what the image builds (bits above MAXPHYADDR are kept, so an illegal address
  stays illegal). L1 is this image, not the counterexample's L1, and L2 runs one instruction that
  exits. The harness keeps HLT, SHUTDOWN, VMMCALL and every exception intercepted so that L2 always
  exits.
` : ''}`;
}

// README.txt of an exported nested-VMX reproducer: what it is, where it runs (an Intel host with
// nested VMX, Bochs; not QEMU TCG, which has no VMX), and how to read what it prints.

import type { OracleVmxCpu } from '../vmx/cpu.ts';
import { REPRO_KVM_COMMAND, REPRO_TCG_COMMAND } from './readme.ts';
import { reproVmxHeaderLines, VMX_NOT_RUN } from './vmxImage.ts';
import type { VmxReproSource } from './vmxSource.ts';

export function reproVmxReadme(src: VmxReproSource, cpu: OracleVmxCpu): string {
  const title = `nestfuzz reproducer ${src.hash}`;
  return `${title}
${'='.repeat(title.length)}

Counterexample: ${src.file}
${src.title}
${src.detail}
${src.lost && src.projected ? `\nNOTE: ${src.lost}. What makes the bug lies in what the image does not
reproduce: the counterexample's own L1 state or entry path (CPL, VMRESUME, KVM_SET_NESTED_STATE),
L1 memory (MSR-load lists, bitmaps), KVM-internal state (timers, vCPU teardown), or a step after
L2's first exit. The image still runs the state and reports what the CPU does with it; the
counterexample itself replays with \`nestfuzz replay ${src.file}\`.\n` : ''}${src.lost && !src.projected ? `\nNOTE: ${src.lost}; the
image still runs the state and reports what the CPU does with it.\n` : ''}
Files
  repro.elf   a Multiboot v1 image (ELF32, loaded at 1 MiB): L1 that enters long mode, runs VMXON,
              VMCLEAR/VMPTRLD, VMWRITEs the state below and VMLAUNCH once, prints the outcome and
              compares it with the expected verdicts
  repro.c     the same state for kvm-unit-tests' VMX tests: the fields the counterexample changes as
              vmcs_write()s on top of init_vmcs(), the whole field list as a table, and the check
  README.txt  this file

What it prints (COM1 and port 0xE9), before the state runs:
${reproVmxHeaderLines(src, cpu).map((l) => `  ${l}`).join('\n')}
then, where the CPU has VMX: "l1 cpu here: ..." (MAXPHYADDR and the capability MSRs it found, in the
shape of the line above), one "adjusted <control> 0x.. -> 0x.. to this CPU's IA32_VMX_..." line per
control field it had to fit to this CPU (or "controls as exported: ..."), "observed: ..." (VMfailValid
with vm_instruction_error, VMfailInvalid, a VM exit or a VM-entry failure with vm_exit_reason,
exit_qualification, guest_rip, ..., or an exception in L1, each with the instruction it came from),
and "observed matches: <expected verdicts>" or "observed matches none of the expected verdicts". A
match compares the outcome kind, the VM-instruction error of a VMfailValid of VMLAUNCH, and the full
exit reason (bit 31 set for a failed VM entry, SDM 27.8) with the qualification where the SDM defines
one (SDM 28.2.1). It then exits through isa-debug-exit (QEMU's exit status is 1) and halts where that
device is absent.

Run it under real KVM (L0 is the host's KVM: its nested VMX is what runs the state); on an Intel host
with kvm_intel loaded with nested=1:
  ${REPRO_KVM_COMMAND}
It needs -m 256: the harness records its outcome at 128 MiB, and the image refuses to run with less.

Under QEMU TCG, or on an AMD host, L1 has no VMX: the image prints its header and
  ${VMX_NOT_RUN}
and exits without running the state:
  ${REPRO_TCG_COMMAND.replace(/-cpu \S+/, '-cpu qemu64')}

Reading the result
- The expected verdicts are the engine's for L1's CPU as ${cpu.model} (Bochs 2.7) reports it; that
  is where nestfuzz runs this image itself. Under KVM, L1 sees the host's VMX capabilities as KVM
  filters them: when the "l1 cpu here" line differs from the assumed one, a verdict that depends on
  the difference (MAXPHYADDR, CR0/CR4 fixed bits, IA32_VMX_MISC activity states, EPT/VPID
  capabilities) may differ too.
- Controls: the VMCS revision id comes from this CPU's IA32_VMX_BASIC, and each VM-execution,
  VM-exit and VM-entry control field is fitted to this CPU's IA32_VMX_TRUE_*_CTLS (the plain MSRs
  without IA32_VMX_BASIC[55]) the way kvm-unit-tests' init_vmcs() does it: bits whose allowed-0
  setting is 1 are set, bits whose allowed-1 setting is 0 are cleared (SDM A.3). Bits the state sets
  outside the assumed CPU's allowed settings are the counterexample's point and are kept.
${src.projected ? `- The state is the counterexample's vmcs12 projected onto the harness: every field it changed from
  nestfuzz's valid base is carried over (${src.changed.join(', ') || 'none'}), while host state,
  addresses (CR3, RIP, RSP, GDT/IDT/TR bases, EPTP) and controls are the harness's (bits the
  counterexample set or cleared in them are kept, so an illegal value stays illegal); MSR-load and
  MSR-store lists move with their entries to slots from 0x400000 (address bits 3:0 and those above
  MAXPHYADDR kept). ` : `- The state is an oracle counterexample as found: the harness's valid VMCS (the one the oracle
  generates its states from) with the fields its mutations changed (${src.changed.join(', ') || 'none'}).
  `}L1 is this
  image, not the counterexample's L1, and L2 runs one instruction that exits (${src.c.choice.snippet}). Every
  exception is intercepted (the exception bitmap is all ones) so that L2 always exits.
`;
}

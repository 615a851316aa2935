// Known divergences between the engine (KVM's nested SVM) and an emulator, as data. Each entry
// says who departs from the APM (the emulator, or KVM knowingly), why, and where that is written;
// `explains` matches only the disagreement it describes (the engine's failing check, the verdict
// pair, the fields that differ). Anything no entry explains is an unexplained divergence.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { CR0, EFER, MSRPM_SIZE } from '../../arch/svm/defs.ts';
import type { SvmVerdict } from './verdict.ts';

export interface SvmDivergenceCtx {
  c: OracleSvmCase;
  engine: SvmVerdict;
  emu: SvmVerdict;
  /** Fields that differ (verdict.ts diffSvmVerdicts). */
  diff: string[];
  /** The engine's failed consistency checks, in order. */
  engineFailed: string[];
}

export interface Divergence<Ctx> {
  id: string;
  adapters: readonly string[];
  /**
   * Who departs from the architecture: the emulator, KVM (knowingly), or neither — the engine's
   * scope stops short of something the emulator models (listed so it is never mistaken for a
   * KVM bug, and so `--strict` can show it).
   */
  departs: 'emulator' | 'kvm' | 'engine-scope';
  reason: string;
  /** APM/SDM section, KVM commit or function, emulator source, or an oracle.md measurement. */
  source: string;
  explains: (x: Ctx) => boolean;
}

const exitCode = (v: SvmVerdict): bigint | null => (v.kind === 'exit' ? v.exit_code : null);
const entered = (v: SvmVerdict): boolean => v.kind === 'exit';
const firstFailed = (x: SvmDivergenceCtx, id: string): boolean => x.engine.kind === 'invalid' && x.engineFailed[0] === id;
const EXIT_EXCP_BASE = 0x40n;

/**
 * The paging modes a CPU could run the state's L2 in: by EFER.LMA as given (QEMU) and by
 * LME && PG (what LMA should be). The harness built tables only for the base's mode.
 */
function loadedModes(c: OracleSvmCase): string[] {
  const s = c.scenario.vmcb12.save;
  const pg = (s.cr0 & CR0.PG) !== 0n;
  const pae = (s.cr4 & 0x20n) !== 0n;
  // With LMA set the CPU reads 64-bit IDT gates even with paging off.
  const mode = (lma: boolean): string => (lma ? 'long64' : !pg ? 'unpaged32' : pae ? 'pae32' : 'legacy32');
  return [mode((s.efer & EFER.LMA) !== 0n), mode((s.efer & EFER.LME) !== 0n && pg)];
}
const EXIT_NPF = 0x400n;

export const SVM_DIVERGENCES: readonly Divergence<SvmDivergenceCtx>[] = [
  {
    id: 'qemu-invalid-exit-code-low32',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU writes VMEXIT_INVALID as 0x00000000ffffffff; the APM defines it as the 64-bit -1 (KVM and Bochs write that).',
    source: 'APM vol.2 15.5.1 (VMEXIT_INVALID = -1); oracle.md §3.3, measured',
    explains: (x) => x.engine.kind === 'invalid' && x.emu.kind === 'invalid' && x.emu.exit_code === 0xffffffffn,
  },
  {
    id: 'qemu-int3-skips-bp-intercept',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU TCG delivers INT3 through the guest IDT although vmcb12 intercepts #BP; the APM makes the #BP that INT3 raises subject to the exception intercept.',
    source: 'APM vol.2 15.12 "Exception Intercepts" (#BP from INT3); measured here',
    // Delivered through an IDT whose gates run the INT3 again, it loops: an exception exit or a hang.
    explains: (x) => x.c.choice.snippet === 'int3' && exitCode(x.engine) === 0x43n && (x.emu.kind === 'crash' || (entered(x.emu) && exitCode(x.emu) !== 0x43n)),
  },
  {
    id: 'qemu-no-gpat-check',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU does not check g_pat when nested paging is enabled; KVM rejects an invalid gPAT for an L2 with its own PAT.',
    source: 'KVM nested_vmcb_check_save (kvm_pat_valid(g_pat) with check_gpat); svm.md §3.3 (QEMU ✗, Bochs ✓)',
    explains: (x) => firstFailed(x, 'gpat-invalid') && entered(x.emu),
  },

  {
    id: 'qemu-no-ncr3-check',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU loads nCR3 without checking the bits above MAXPHYADDR; KVM (and Bochs) fail VMRUN with VMEXIT_INVALID. QEMU then walks garbage tables (#NPF) or masks the bits.',
    source: 'KVM nested_vmcb_check_controls: NP_ENABLE && !kvm_vcpu_is_legal_gpa(nested_cr3) ("Add missing consistency check for nCR3 validity"); svm.md §3.3 (QEMU ✗)',
    explains: (x) => firstFailed(x, 'ncr3-illegal') && x.emu.kind === 'exit',
  },
  {
    id: 'kvm-vnmi-check-without-vnmi',
    adapters: ['qemu-svm'],
    departs: 'kvm',
    reason: 'KVM fails VMRUN for V_NMI_ENABLE without the NMI intercept even when L1\'s CPUID has no vNMI; a CPU without vNMI (this model) ignores int_ctl bit 26 and enters.',
    source: 'KVM nested_vmcb_check_controls (CC(int_ctl & V_NMI_ENABLE_MASK && !intercept NMI), on the unsanitised cache); CPUID 0x8000000A EDX[25] clear in the model',
    explains: (x) => firstFailed(x, 'vnmi-without-nmi-intercept') && !x.c.scenario.l1.guest.vnmi && x.emu.kind === 'exit',
  },
  {
    id: 'qemu-msrpm-exact-fit-rejected',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU rejects an MSRPM whose 8 KiB end exactly at the physical-address limit (base >= 2^pb - 8192); the map fits, and KVM enters.',
    source: 'APM vol.2 15.5.1 (MSRPM beyond the physical address limit); KVM nested_svm_check_bitmap_pa (end of range legal); svm.md §3.3',
    explains: (x) =>
      x.engine.kind === 'exit' && x.emu.kind === 'invalid' &&
      (x.c.scenario.vmcb12.control.msrpm_base_pa & ~0xfffn) === (1n << BigInt(x.c.scenario.l1.maxphyaddr)) - BigInt(MSRPM_SIZE),
  },
  {
    id: 'qemu-event-inj-reserved-vector',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU accepts an injected exception with a reserved vector below 31 (9, 15, 20, 22–27); KVM fails VMRUN for any vector that is not an exception.',
    source: 'APM vol.2 15.20 (an EXCEPTION type with a vector that is not an exception is illegal); KVM nested_svm_event_inj_valid_exept; svm.md §3.3 (QEMU: vector 2 or ≥31 only)',
    explains: (x) => firstFailed(x, 'event-inj-exception-vector-invalid') && (x.c.scenario.vmcb12.control.event_inj & 0xff) < 31 && x.emu.kind === 'exit',
  },
  {
    id: 'engine-l2-inconsistent-mode',
    adapters: ['qemu-svm'],
    departs: 'engine-scope',
    reason:
      'The state loads a paging mode the harness built no tables or gates for (EFER.LMA disagreeing with LME && PG, LME cleared under a 64-bit CR3, CR0.PG set in an unpaged guest), so the CPU faults fetching L2\'s first instruction or delivering the injected event; the engine models what KVM does with vmcb12, not L2\'s fetch and event delivery, and runs the instruction.',
    source: 'APM vol.2 15.5.1 lists no LMA check (KVM: "not checked", svm.md §3.2); oracle.md §5 (QEMU uses LMA as given)',
    explains: (x) => {
      const code = exitCode(x.emu);
      const faulted = code !== null && ((code >= EXIT_EXCP_BASE && code < EXIT_EXCP_BASE + 32n) || code === EXIT_NPF);
      return x.engine.kind === 'exit' && faulted && loadedModes(x.c).some((m) => m !== x.c.choice.mode);
    },
  },
  {
    id: 'qemu-cpl-from-ss-dpl',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU runs L2 at the DPL of the SS it loads, not at the VMCB\'s CPL field; with the two apart, a privileged instruction (HLT) #GPs or runs the other way round from KVM, which copies vmcb12.cpl to the CPU.',
    source: 'APM vol.2 15.5.1 (VMRUN loads CPL from the VMCB CPL field; SS.DPL is not checked); KVM nested_vmcb02_prepare_save (vmcb02.cpl = vmcb12.cpl)',
    explains: (x) => {
      const s = x.c.scenario.vmcb12.save;
      const ssDpl = (s.ss.attrib >> 5) & 3;
      const pair = [exitCode(x.engine), exitCode(x.emu)].map((v) => (v === null ? '' : v.toString(16))).sort().join(',');
      // HLT: #GP on one side, the HLT exit on the other; an injected event delivered at QEMU's CPL 3
      // faults
      // faults (#GP on the gate's DPL; #TS/#SS/#PF on the inner stack read from the TSS), the event in exit_int_info.
      const deliveryFault = x.emu.kind === 'exit' && [0x4an, 0x4bn, 0x4cn, 0x4dn, 0x4en].includes(x.emu.exit_code) && (x.emu.exit_int_info & 0x80000000n) !== 0n;
      return ssDpl !== s.cpl && ((x.c.choice.snippet === 'hlt' && pair === '4d,78') || deliveryFault);
    },
  },
  {
    id: 'qemu-abort-invalid-tss',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'QEMU aborts the whole process ("qemu: fatal: invalid tss type") when an event delivery changes privilege and TR holds a busy TSS (type 3/11, which is what TR always holds after LTR) or no TSS; the CPU reads the inner stack from a busy TSS, or raises #TS that L1 intercepts.',
    source: 'APM vol.2 12.2 (TSS descriptor types; LTR marks the TSS busy) and 8.7 (inner-level stack from the TSS); measured here (segment states whose SS.DPL or CPL make QEMU change privilege)',
    explains: (x) => x.emu.kind === 'crash' && x.emu.detail.includes('invalid tss type'),
  },
];

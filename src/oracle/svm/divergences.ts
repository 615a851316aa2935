// Known divergences between the engine (KVM's nested SVM) and an emulator, as data. Each entry
// says who departs from the APM (the emulator, or KVM knowingly), why, and where that is written;
// `explains` matches only the disagreement it describes (the engine's failing check, the verdict
// pair, the fields that differ). Anything no entry explains is an unexplained divergence.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { CR0, EFER, MISC_CTL, MSRPM_SIZE, SEG_ATTR } from '../../arch/svm/defs.ts';
import type { SvmVerdict } from './verdict.ts';

export interface SvmDivergenceCtx {
  c: OracleSvmCase;
  engine: SvmVerdict;
  emu: SvmVerdict;
  /** Fields that differ (verdict.ts diffSvmVerdicts). */
  diff: string[];
  /** The engine's failed consistency checks, in order. */
  engineFailed: string[];
  /**
   * L0 emulates L2's faulting access (a string I/O L1 does not intercept: export/mmu). Never set
   * by the oracle's own states, whose L2 code the CPU runs.
   */
  emulatedAccess?: boolean;
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

/**
 * The paging modes a CPU could run the state's L2 in: by EFER.LMA as given (QEMU) and by
 * LME && PG (what LMA should be). The harness built tables only for the base's mode.
 */
function loadedModes(c: OracleSvmCase): string[] {
  const s = c.scenario.vmcb12.save;
  const pg = (s.cr0 & CR0.PG) !== 0n;
  const pae = (s.cr4 & 0x20n) !== 0n;
  const pe = (s.cr0 & CR0.PE) !== 0n;
  // With LMA set the CPU reads 64-bit IDT gates even with paging off; without PE it is in real mode.
  const mode = (lma: boolean): string => (!pe ? 'real' : lma ? 'long64' : !pg ? 'unpaged32' : pae ? 'pae32' : 'legacy32');
  return [mode((s.efer & EFER.LMA) !== 0n), mode((s.efer & EFER.LME) !== 0n && pg)];
}
const EXIT_NPF = 0x400n;
const EXIT_PF = 0x4en;

/** Only exit_info_1 differs: the engine's has RSVD and P (a #PF-format error code), the emulator's the same without P. */
function rsvdWithoutP(x: SvmDivergenceCtx, code: bigint): boolean {
  return x.diff.length === 1 && x.diff[0] === 'exit_info_1' && x.engine.kind === 'exit' && x.emu.kind === 'exit' && x.engine.exit_code === code &&
    (x.engine.exit_info_1 & 0x9n) === 0x9n && x.emu.exit_info_1 === (x.engine.exit_info_1 & ~1n);
}

/**
 * KVM checks Bochs 2.7 does not make (svm.md §3.3, Bochs column; oracle.md §5, §7): CR3 MBZ in any
 * mode, the end of the IOPM/MSRPM range (only the base), V_NMI without the NMI intercept (no vNMI
 * in the model), and KVM's own requirement that the MSRPM be readable guest memory.
 */
const BOCHS_UNCHECKED = new Set(['cr3-illegal', 'long-mode-cr3-illegal', 'iopm-beyond-maxphyaddr', 'msrpm-beyond-maxphyaddr', 'vnmi-without-nmi-intercept', 'msrpm-unreadable']);
/** The engine failed VMRUN only on checks Bochs does not make, the first of them `id`. */
const bochsSkips = (x: SvmDivergenceCtx, id: string): boolean =>
  firstFailed(x, id) && x.engineFailed.every((f) => BOCHS_UNCHECKED.has(f)) && x.emu.kind === 'exit';
const longModeActive = (c: OracleSvmCase): boolean => (c.scenario.vmcb12.save.efer & EFER.LME) !== 0n && (c.scenario.vmcb12.save.cr0 & CR0.PG) !== 0n;

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
    adapters: ['qemu-svm', 'bochs-svm'],
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
    adapters: ['qemu-svm', 'bochs-svm'],
    departs: 'engine-scope',
    reason:
      'The state loads a mode the harness built no tables or gates for (EFER.LMA disagreeing with LME && PG, LME cleared under a 64-bit CR3, CR0.PG set in an unpaged guest, CR0.PE clear), so the CPU faults fetching L2\'s first instruction or delivering the injected event, or runs whatever a real-mode IVT points at; the engine models what KVM does with vmcb12, not L2\'s fetch and event delivery, and runs the instruction.',
    source: 'APM vol.2 15.5.1 lists no LMA check (KVM: "not checked", svm.md §3.2); oracle.md §5 (QEMU uses LMA as given)',
    explains: (x) => {
      // Under a mode the harness built nothing for, what L2 runs (a fault, or code reached through a
      // real-mode IVT) is outside the engine's model: any exit the emulator reports is explained.
      return x.engine.kind === 'exit' && x.emu.kind === 'exit' && loadedModes(x.c).some((m) => m !== x.c.choice.mode);
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
  {
    id: 'qemu-npf-rsvd-without-p',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'For a reserved-bit fault in L1\'s NPT (NX with L1\'s EFER.NXE clear, a bit above MAXPHYADDR) QEMU reports EXITINFO1 with RSVD but without P; the entry was present, and the #PF-format error code reports a reserved-bit violation with P set. KVM reflects the hardware\'s bits.',
    source: 'APM vol.2 8.4.2 (#PF error code: RSV with P=1) and 15.25.6 (#NPF EXITINFO1 uses the #PF format); nested_svm_inject_npf_exit',
    explains: (x) => rsvdWithoutP(x, EXIT_NPF),
  },
  {
    id: 'qemu-pf-rsvd-without-p',
    adapters: ['qemu-svm'],
    departs: 'emulator',
    reason: 'Under nested paging, for a reserved-bit fault in L2\'s own page tables (a bit above MAXPHYADDR in a present entry) QEMU gives the #PF error code RSVD without P; the entry was present, and the #PF error code reports a reserved-bit violation with P set.',
    source: 'APM vol.2 8.4.2 (#PF error code: RSV with P=1); measured here (nestfuzz export of nested-walk states with a reserved bit in L2\'s leaf, exit 0x4e)',
    explains: (x) => rsvdWithoutP(x, EXIT_PF),
  },
  {
    id: 'kvm-emulated-npf-page-gpa',
    adapters: ['qemu-svm'],
    departs: 'kvm',
    reason: 'When L0 emulates an L2 access (a string I/O L1 does not intercept: L0 intercepts all I/O) and its walk fails the final translation in L1\'s NPT, KVM synthesizes the #NPF with exit_info_2 = the page-aligned GPA its walker translated; a CPU running L2 itself (QEMU TCG, no L0) reports the byte address.',
    source: 'APM vol.2 15.25.6 (EXITINFO2: the faulting guest physical address); KVM paging_tmpl.h walk_addr_generic (kvm_translate_gpa of gfn_to_gpa(gfn)) and nested_svm_inject_npf_exit (exit_info_2 = fault->address); measured here (nestfuzz export, INS not intercepted)',
    explains: (x) =>
      x.emulatedAccess === true && x.diff.length === 1 && x.diff[0] === 'exit_info_2' && x.engine.kind === 'exit' && x.emu.kind === 'exit' && x.engine.exit_code === EXIT_NPF &&
      (x.engine.exit_info_1 & (1n << 32n)) !== 0n && (x.emu.exit_info_2 & 0xfffn) !== 0n && x.engine.exit_info_2 === (x.emu.exit_info_2 & ~0xfffn),
  },
  {
    id: 'engine-pae-pdptes-as-registers',
    adapters: ['qemu-svm'],
    departs: 'engine-scope',
    reason: 'The engine\'s walker takes a PAE L2\'s four PDPTEs as loaded registers; under nested paging they are read from CR3\'s page through L1\'s NPT (KVM reloads them lazily through the nested MMU), so an NPT hole at that page is a #NPF on the PDPTE\'s GPA (GUEST_PAGE) where the engine translates.',
    source: 'KVM nested_svm_load_cr3 (with nested NPT the PDPTRs are marked for lazy reload, svm.md §3); measured here (nestfuzz export of PAE nested-walk states, tdp-table-missing on the PDPT page)',
    explains: (x) => {
      const s = x.c.scenario.vmcb12.save;
      const paeLegacy = (s.cr4 & 0x20n) !== 0n && (s.efer & EFER.LMA) === 0n && (s.cr0 & CR0.PG) !== 0n;
      return paeLegacy && x.emu.kind === 'exit' && x.emu.exit_code === EXIT_NPF && (x.emu.exit_info_1 & (1n << 33n)) !== 0n &&
        (x.emu.exit_info_2 & ~0x1fn) === (s.cr3 & 0xffffffe0n) && !(x.engine.kind === 'exit' && x.engine.exit_code === EXIT_NPF && x.engine.exit_info_2 === x.emu.exit_info_2);
    },
  },
  {
    id: 'kvm-event-inj-reserved-bits-stripped',
    adapters: ['qemu-svm', 'bochs-svm'],
    departs: 'kvm',
    reason: 'KVM drops EVENTINJ bits 12–30 (reserved) when it caches vmcb12, so an event interrupted by a #VMEXIT comes back in EXITINTINFO without them; the CPU (QEMU here) keeps the bits it was given.',
    source: 'KVM __nested_copy_vmcb_control_to_cache (event_inj & ~reserved bits); svm.md §3.1 C8 note',
    explains: (x) => {
      if (x.diff.length !== 1 || x.diff[0] !== 'exit_int_info' || x.engine.kind !== 'exit' || x.emu.kind !== 'exit') return false;
      const reserved = 0x7ffff000n;
      return (x.engine.exit_int_info ^ x.emu.exit_int_info) === (BigInt(x.c.scenario.vmcb12.control.event_inj >>> 0) & reserved);
    },
  },
  // ---- Bochs 2.7 (phenom_8650_toliman) ----
  {
    id: 'bochs-no-cr3-mbz-check',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs loads guest CR3 without checking the bits above MAXPHYADDR (it only checks PDPTEs for PAE); KVM fails VMRUN (APM: CR3 MBZ bits set is illegal in long mode; KVM also checks it in nested_svm_load_cr3 for every mode). Bochs then runs L2 and exits on what L2 does (or #PF/#NPF on the bad table address).',
    source: 'APM vol.2 15.5.1 (illegal: any MBZ bit of CR3 set); KVM nested_vmcb_check_save / nested_svm_load_cr3 (kvm_vcpu_is_legal_cr3); svm.md §3.3 (Bochs: not checked); oracle.md §5, §7',
    explains: (x) => bochsSkips(x, 'cr3-illegal') || bochsSkips(x, 'long-mode-cr3-illegal'),
  },
  {
    id: 'bochs-cr3-mbz-host-segv',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'With the CR3 MBZ check missing (bochs-no-cr3-mbz-check) and no nested paging, a long-mode L2 whose CR3 points above the emulated RAM makes Bochs\'s page walk read outside its memory: the Bochs process dies with SIGSEGV. KVM fails VMRUN.',
    source: 'APM vol.2 15.5.1 (CR3 MBZ); svm.md §3.3 (Bochs: not checked); measured here (long64 guests, NP off, cr3-mbz)',
    explains: (x) =>
      firstFailed(x, 'long-mode-cr3-illegal') && x.engineFailed.every((f) => BOCHS_UNCHECKED.has(f)) && x.emu.kind === 'crash' && x.emu.detail.includes('SIGSEGV') &&
      (x.c.scenario.vmcb12.control.misc_ctl & MISC_CTL.NP_ENABLE) === 0n,
  },
  {
    id: 'bochs-bitmap-base-only',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs checks only that the IOPM/MSRPM base address is below the physical-address limit, not that the whole 12 KiB / 8 KiB map fits; KVM requires the last byte to be a legal GPA.',
    source: 'APM vol.2 15.5.1 (IOPM/MSRPM beyond the physical address limit is illegal); KVM nested_svm_check_bitmap_pa; svm.md §3.3 (Bochs: only the base, IsValidPhyAddr); oracle.md §5',
    explains: (x) => {
      const ctl = x.c.scenario.vmcb12.control;
      const limit = 1n << BigInt(x.c.scenario.l1.maxphyaddr);
      return (bochsSkips(x, 'iopm-beyond-maxphyaddr') || bochsSkips(x, 'msrpm-beyond-maxphyaddr')) && (ctl.iopm_base_pa & ~0xfffn) < limit && (ctl.msrpm_base_pa & ~0xfffn) < limit;
    },
  },
  {
    id: 'kvm-msrpm-unbacked',
    adapters: ['bochs-svm'],
    departs: 'kvm',
    reason: 'KVM fails VMRUN when it cannot read the MSRPM from L1 memory (no memslot behind it, here above the 256 MiB of RAM); the CPU reads whatever the bus returns and enters.',
    source: 'KVM nested_svm_merge_msrpm (kvm_vcpu_read_guest failure -> VMEXIT_INVALID); APM vol.2 15.11 (the MSRPM is only required to be below the physical-address limit)',
    explains: (x) => bochsSkips(x, 'msrpm-unreadable') && (x.c.scenario.vmcb12.control.msrpm_base_pa & ~0xfffn) < 1n << BigInt(x.c.scenario.l1.maxphyaddr),
  },
  {
    id: 'bochs-event-inj-reserved-vector',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs rejects an injected exception only for vector 2 or a vector above 31; KVM fails VMRUN for every vector that is not an exception the vCPU can raise (reserved 9, 15, 22–27, 31, and #CP/#VC/#HV without their features). Bochs delivers it through the guest IDT, whose gates run the state\'s snippet again.',
    source: 'APM vol.2 15.20 (an EXCEPTION type with a vector that is not an exception is illegal); KVM nested_svm_event_inj_valid_exept; svm.md §3.3 (Bochs: EXEPT vector 2 or > 31); oracle.md §5 (vector 31 measured)',
    explains: (x) => {
      const vector = x.c.scenario.vmcb12.control.event_inj & 0xff;
      return firstFailed(x, 'event-inj-exception-vector-invalid') && vector <= 31 && vector !== 2 && x.engineFailed.every((f) => f === 'event-inj-exception-vector-invalid' || BOCHS_UNCHECKED.has(f)) && x.emu.kind === 'exit';
    },
  },
  {
    id: 'bochs-cs-l-and-d-any-mode',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs fails VMRUN for CS.L=1 with CS.D=1 in every mode; the APM (and KVM) make it illegal only when EFER.LME and CR0.PG are set (long mode), so a legacy or unpaged guest enters on KVM.',
    source: 'APM vol.2 15.5.1 (EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all non-zero is illegal); KVM nested_vmcb_check_save (long-mode-cs-l-and-d); svm.md §3.3 (Bochs: every mode); oracle.md §5, §7',
    explains: (x) => {
      const cs = x.c.scenario.vmcb12.save.cs.attrib;
      return x.engine.kind === 'exit' && x.emu.kind === 'invalid' && (cs & SEG_ATTR.L) !== 0 && (cs & SEG_ATTR.DB) !== 0 && !longModeActive(x.c);
    },
  },
  {
    id: 'bochs-panic-lma-without-pe',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs does not check EFER.LME && CR0.PG && !CR0.PE before loading the guest and then PANICs ("change_cpu_mode: EFER.LMA is set when CR0.PE=0"), ending the process; KVM fails VMRUN with VMEXIT_INVALID.',
    source: 'APM vol.2 15.5.1 (EFER.LME and CR0.PG non-zero with CR0.PE zero is illegal); KVM nested_vmcb_check_save (long-mode-cr0-pe-clear); oracle.md §4.3, §5 (measured PANIC)',
    explains: (x) => firstFailed(x, 'long-mode-cr0-pe-clear') && x.emu.kind === 'crash' && x.emu.detail.includes('EFER.LMA is set when CR0.PE=0'),
  },
  {
    id: 'bochs-npf-fetch-bit-without-nxe',
    adapters: ['bochs-svm'],
    departs: 'emulator',
    reason: 'Bochs sets the I/D bit (bit 4) in the #NPF EXITINFO1 of every instruction fetch; the #PF-format error code reports I/D only when no-execute is enabled (L1\'s EFER.NXE, which the harness leaves clear) or SMEP, which is what KVM reflects.',
    source: 'APM vol.2 8.4.2 (#PF error code I/D bit: only with EFER.NXE or CR4.SMEP) and 15.25.6 (#NPF EXITINFO1 in the #PF format); KVM paging_tmpl.h walk_addr_generic (PFERR_FETCH_MASK gated on NX/SMEP); oracle.md §3.3, §5, §7',
    explains: (x) =>
      x.diff.length === 1 && x.diff[0] === 'exit_info_1' && x.engine.kind === 'exit' && x.emu.kind === 'exit' && x.engine.exit_code === EXIT_NPF &&
      (x.c.scenario.l1.efer & EFER.NX) === 0n && x.emu.exit_info_1 === (x.engine.exit_info_1 | 0x10n),
  },
  {
    id: 'engine-no-delivery-fault-bad-segments',
    adapters: ['bochs-svm'],
    departs: 'engine-scope',
    reason: 'An injected event delivered with the segment-attribute/CPL mutations (SS.DPL 3, CPL 3, TR attributes 0) faults during delivery (#TS/#NP/#SS/#GP, or #PF reading the inner stack from a TSS at base 0; the injected event in EXITINTINFO); the engine models what KVM does with vmcb12, not L2\'s event delivery, and runs the snippet.',
    source: 'APM vol.2 8.7 (inner-level stack and gate checks during delivery) and 15.7.2 (EXITINTINFO holds the event being delivered); oracle.md §7 ("faults during delivery of an injected event")',
    explains: (x) => {
      if (x.engine.kind !== 'exit' || x.emu.kind !== 'exit' || !x.c.mutations.some((m) => m.startsWith('segment-attr:'))) return false;
      const inj = BigInt(x.c.scenario.vmcb12.control.event_inj >>> 0);
      return [0x4an, 0x4bn, 0x4cn, 0x4dn, 0x4en].includes(x.emu.exit_code) && (inj & 0x80000000n) !== 0n && (x.emu.exit_int_info & 0x7ffn) === (inj & 0x7ffn);
    },
  },
];

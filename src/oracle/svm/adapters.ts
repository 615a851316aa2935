// The SVM adapters: how a batch of VMCB pages reaches an emulator, which CPU model it is, and which
// states leave the emulator in a state that leaks into later VMRUNs of the same process.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { decodeVmcb, encodeVmcb } from '../../arch/svm/codec.ts';
import { CR0, CR4, EFER, EVTINJ, INTERCEPT, isIntercept, MISC_CTL, SEG_ATTR } from '../../arch/svm/defs.ts';
import { BOCHS_SVM_CPU, runBochsSvm } from '../bochs.ts';
import { QEMU_CPU, runQemuSvm } from '../qemu.ts';
import type { BatchRun } from '../raw.ts';
import { getProfile } from '../../engine/profile_list.ts';
import type { Profile } from '../../engine/profiles.ts';
import { run } from '../../engine/svm/run.ts';
import type { StatePages } from '../statePages.ts';

const KVM_NEXT = getProfile('kvm-next')!;
const NO_EVENTINJ_CHECK = getProfile('no-eventinj-check')!;

export interface SvmAdapter {
  name: string;
  model: string;
  /** Runs each lane in order on an emulator instance of its own (lanes.ts), at most `jobs` at once. */
  runBatch(lanes: readonly StatePages[], jobs: number): Promise<BatchRun>;
  /**
   * States after which later VMRUNs in the same process are known to misbehave: the driver runs
   * them at the end of a batch, and re-runs any unexplained disagreement alone.
   */
  poisons(c: OracleSvmCase): boolean;
  /**
   * Why a state is known to make the emulator enter L2 and die or hang there, or null (each
   * adapter gates on its own model of whether the emulator enters): the driver runs one such
   * state per reason to confirm it and reports the rest as that crash without running them
   * (holdBack.ts).
   */
  predictCrash?(c: OracleSvmCase): string | null;
}

export const QEMU_SVM: SvmAdapter = {
  name: 'qemu-svm',
  model: QEMU_CPU,
  runBatch: runQemuSvm,
  poisons: (c) => {
    const s = c.scenario.vmcb12.save;
    // oracle.md §7: after a guest with EFER.LME=1, CR0.PG=0, CR4.PAE=0, later NPT VMRUNs run as if NPT were off.
    const lmeNoPaging = (s.efer & EFER.LME) !== 0n && (s.cr0 & CR0.PG) === 0n && (s.cr4 & CR4.PAE) === 0n;
    // Measured here: a 64-bit L2 whose INT3 QEMU delivers through the IDT (instead of the #BP
    // intercept) leaves later states' event delivery failing with #GP(IDT vector).
    const int3 = c.choice.snippet === 'int3';
    return lmeNoPaging || int3;
  },
  predictCrash: (c) => {
    const why = qemuKills(c);
    // Only where VMRUN enters L2: a state that fails VMRUN never reaches the code that crashes, and
    // must run for its verdict. kvm-next's checks stand in for QEMU's, except that QEMU accepts an
    // injected exception with a reserved vector below 31 (qemu-event-inj-reserved-vector), which
    // KVM without its EVENTINJ check (no-eventinj-check) accepts as well.
    return why && (qemuEnters(c, KVM_NEXT) || (qemuTakesReservedVector(c) && qemuEnters(c, NO_EVENTINJ_CHECK))) ? why : null;
  },
};

function qemuEnters(c: OracleSvmCase, p: Profile): boolean {
  return run(c.scenario, p).outcome === 'entered';
}

/** EVENTINJ is an exception with a vector KVM refuses but QEMU takes (svm.md §3.3: only 2 and ≥31 fail). */
function qemuTakesReservedVector(c: OracleSvmCase): boolean {
  const ev = c.scenario.vmcb12.control.event_inj;
  const vector = ev & 0xff;
  return (ev & EVTINJ.VALID) !== 0 && (ev & EVTINJ.TYPE_MASK) === EVTINJ.TYPE_EXEPT && vector !== 2 && vector < 31;
}

/** Why QEMU dies or hangs running this state in L2 (measured here), or null. */
function qemuKills(c: OracleSvmCase): string | null {
  const s = c.scenario.vmcb12.save;
  const ev = c.scenario.vmcb12.control.event_inj;
  const injected = (ev & EVTINJ.VALID) !== 0;
  // QEMU runs L2 at SS.DPL (qemu-cpl-from-ss-dpl): delivering an injected event then changes
  // privilege and reads the inner stack from TR's TSS, and QEMU aborts on TR's busy-TSS type
  // ("invalid tss type"). A software interrupt (type 4) is the exception: its gate's DPL 0 < CPL
  // raises #GP first (APM 8.4), so no stack switch happens (measured on 50,000 states, seed 8).
  const trType = s.tr.attrib & 0xf;
  const soft = (ev & EVTINJ.TYPE_MASK) === EVTINJ.TYPE_SOFT;
  // Only outside long mode and through the 32-bit IDT the harness builds for 32-bit modes: with
  // EFER.LMA set the stack comes from the 64-bit TSS, and through the 64-bit IDT the gates do
  // not parse as 32-bit ones; both exit with a #PF intercept instead (measured).
  if (injected && !soft && c.choice.mode !== 'long64' && (s.efer & EFER.LMA) === 0n && ((s.ss.attrib >> 5) & 3) !== 0 && (trType === 0x3 || trType === 0xb)) return 'QEMU aborts delivering an event at SS.DPL 3 with a busy TSS in TR';
  // INT3 skips the #BP intercept on QEMU (qemu-int3-skips-bp-intercept) and, in 64-bit code with
  // EFER.LMA set and paging off, is delivered through gates that run the INT3 again: the loop
  // never faults. In 32-bit code the same state exits with #GP, an injected exception is
  // delivered first and exits, and with nested paging on the loop ends in a #NPF (measured on
  // 50,000 states, seed 8).
  const exception = injected && (ev & EVTINJ.TYPE_MASK) === EVTINJ.TYPE_EXEPT;
  const np = (c.scenario.vmcb12.control.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
  if (c.choice.snippet === 'int3' && !exception && !np && (s.cs.attrib & SEG_ATTR.L) !== 0 && (s.efer & EFER.LMA) !== 0n && (s.cr0 & CR0.PG) === 0n) return 'QEMU loops delivering INT3 in 64-bit code with EFER.LMA set and paging off';
  return null;
}

/** EFER bits the model has (SCE, LME, LMA, NXE, SVME, FFXSR): any other set bit fails VMRUN first. */
const BOCHS_EFER_KNOWN = 0x1n | EFER.LME | EFER.LMA | (1n << 11n) | EFER.SVME | (1n << 14n);
const HI32 = 0xffffffff00000000n;
const PHYS_LIMIT = 1n << 40n;

/**
 * Nothing in the VMCB would fail Bochs's VMRUN checks of controls and guest state (oracle.md §5 /
 * svm.md §3.3, Bochs column); the event-injection check comes after the guest state is loaded.
 */
function bochsEnters(page: Uint8Array): boolean {
  const { control: c, save: s } = decodeVmcb(page);
  const np = (c.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
  const patOk = [...Array(8).keys()].every((k) => [0, 1, 4, 5, 6, 7].includes(Number((s.g_pat >> BigInt(8 * k)) & 0xffn)));
  const longMode = (s.efer & EFER.LME) !== 0n && (s.cr0 & CR0.PG) !== 0n;
  return !(
    (s.efer & EFER.SVME) === 0n || (s.efer & ~BOCHS_EFER_KNOWN) !== 0n || c.asid === 0 || !isIntercept(c.intercepts, INTERCEPT.VMRUN) ||
    (s.cr0 & HI32) !== 0n || ((s.cr0 & CR0.NW) !== 0n && (s.cr0 & CR0.CD) === 0n) || (longMode && (s.cr4 & CR4.PAE) === 0n) || (s.cr4 & ~0x6ffn) !== 0n ||
    (s.dr6 & HI32) !== 0n || (s.dr7 & HI32) !== 0n || ((s.cs.attrib & SEG_ATTR.L) !== 0 && (s.cs.attrib & SEG_ATTR.DB) !== 0) ||
    c.iopm_base_pa >= PHYS_LIMIT || c.msrpm_base_pa >= PHYS_LIMIT || (c.misc_ctl & ~MISC_CTL.NP_ENABLE) !== 0n ||
    (np && (c.nested_cr3 >= PHYS_LIMIT || !patOk))
  );
}

/** Guest CR3 bits 46..51 (bits 40..45 give a #PF RSVD, 52..63 are ignored): measured here. */
const CR3_SEGV_BITS = 0x000fc00000000000n;
const CR3_RSVD_BITS = 0x00003f0000000000n;

/**
 * Why Bochs 2.7 ends its process on this VMCB, or null; only predicted when nothing else in the VMCB
 * would fail VMRUN first, so a state Bochs rejects still runs. Measured:
 *   - EFER.LME=1, CR0.PG=1, CR0.PE=0 passes the checks and PANICs loading the guest
 *     ("change_cpu_mode: EFER.LMA is set when CR0.PE=0", oracle.md §4.3);
 *   - a long-mode guest without nested paging whose CR3 has a bit in 46..51 set (Bochs does not
 *     check CR3 MBZ) kills Bochs with SIGSEGV when it walks the tables.
 */
export function bochsSvmKills(page: Uint8Array): string | null {
  const { control: c, save: s } = decodeVmcb(page);
  const lme = (s.efer & EFER.LME) !== 0n;
  const pg = (s.cr0 & CR0.PG) !== 0n;
  const pe = (s.cr0 & CR0.PE) !== 0n;
  if (!lme || !pg || !bochsEnters(page)) return null;
  if (!pe) return 'EFER.LME=1, CR0.PG=1, CR0.PE=0: Bochs PANICs loading the guest (oracle.md §4.3)';
  const type = (c.event_inj >>> 8) & 7;
  const vector = c.event_inj & 0xff;
  const injectionOk = (c.event_inj & EVTINJ.VALID) === 0 || ([0, 2, 3, 4].includes(type) && !(type === 3 && (vector === 2 || vector > 31)));
  if (injectionOk && (c.misc_ctl & MISC_CTL.NP_ENABLE) === 0n && (s.cr3 & CR3_SEGV_BITS) !== 0n && (s.cr3 & CR3_RSVD_BITS) === 0n) return 'long-mode CR3 with bits 46..51 set, no nested paging: Bochs dies with SIGSEGV walking it';
  return null;
}

export const BOCHS_SVM: SvmAdapter = {
  name: 'bochs-svm',
  model: BOCHS_SVM_CPU,
  runBatch: (lanes, jobs) => runBochsSvm(lanes, jobs),
  poisons: () => false,
  predictCrash: (c) => bochsSvmKills(encodeVmcb(c.scenario.vmcb12)),
};

const ADAPTERS: readonly SvmAdapter[] = [QEMU_SVM, BOCHS_SVM];

export function getSvmAdapter(name: string): SvmAdapter | undefined {
  return ADAPTERS.find((a) => a.name === name);
}

export const SVM_ADAPTER_NAMES: readonly string[] = ADAPTERS.map((a) => a.name);

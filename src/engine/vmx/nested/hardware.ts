// The CPU's own VM entry of vmcs02 (vmx_vcpu_run → VMLAUNCH/VMRESUME on the hardware VMCS): the
// checks of SDM vol. 3C §27.2–27.3 (§26.2–26.3 in older editions) that the processor makes on the
// state KVM built. Control checks (§27.2.1) fail as a late VMfail 7; host state (§27.2.2) is KVM's
// own and always valid, so it is not modelled; guest state (§27.3.1) fails as exit 33 with a
// qualification. Owner 'kvm' marks a rule KVM's software checks should have caught first (spec §2.6,
// nested.c warn_on_missed_cc); owner 'hardware' a rule KVM leaves to the CPU (HARDWARE_GUEST_STATE_RULES).

import { CR0, CR4, RFLAGS } from '../../../arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY } from '../../../arch/vmx/controls.ts';
import { INTR_INFO, INTR_TYPE } from '../../../arch/vmx/intr_info.ts';
import { INTR_STATE } from '../../../arch/vmx/intr_state.ts';
import { toU64, type Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import type { Vmcs02State, VmxHardwareVerdict } from '../result.ts';
import { cc, type Trace } from '../../trace.ts';
import { guestSegment } from '../../../arch/vmx/guest_segments.ts';
import { GUEST_ACTIVITY, HARDWARE_GUEST_STATE_RULES } from './checks_guest.ts';
import { is_canonical } from './checks_host.ts';

export interface HardwareEntryInput {
  /** The vmcs12 KVM copied into vmcs02 (segments, RFLAGS, RIP, interruptibility, activity state, pending debug exceptions, event injection, link pointer, PDPTRs are taken from here unchanged). */
  vmcs12: Vmcs12;
  /** What KVM actually put in vmcs02 for CR0/CR3/CR4/EFER/IA-32e mode and the controls. */
  vmcs02: Vmcs02State;
  /** L0 runs with unrestricted guest (vmcs02 secondary UNRESTRICTED_GUEST follows vmcs12's when L0 allows it). */
  unrestricted_guest: boolean;
  /** The host CPU's IA32_VMX_CR0_FIXED0/1 and CR4_FIXED0/1 (what the real CPU enforces on vmcs02). */
  host_cr0_fixed0: bigint; host_cr0_fixed1: bigint; host_cr4_fixed0: bigint; host_cr4_fixed1: bigint;
  /** Host MAXPHYADDR (PDPTE reserved bits). */
  maxphyaddr: number;
  /** Linear-address width for canonical checks: 57 with LA57 in CR4 of vmcs02, else 48. */
  /** Current-VMCS pointer and VMXON pointer of L1 (link-pointer rule). */
  current_vmptr: bigint; vmxon_ptr: bigint;
  /** BASIC bit 56 (no error-code consistency check by hardware) — default false. */
  no_hw_error_code_cc: boolean;
  /** VTPR: byte 0x80 of the virtual-APIC page KVM mapped into vmcs02 (0 when none). */
  vtpr?: number;
}

/** RFLAGS bits that must be 0 on entry: 63:22, 15, 5, 3 (§27.3.1.4). */
const RFLAGS_RSVD = (~((1n << 22n) - 1n) & 0xffffffffffffffffn) | (1n << 15n) | (1n << 5n) | (1n << 3n);
/** Pending debug exceptions (SDM Table 25-4): B3:0, enabled breakpoint (12), BS (14), RTM (16). */
const PDE = { ENABLED_BP: 1n << 12n, BS: 1n << 14n, RTM: 1n << 16n } as const;
const PDE_RSVD = (~((1n << 17n) - 1n) & 0xffffffffffffffffn) | (1n << 15n) | (1n << 13n) | 0xff0n;
const DEBUGCTL_BTF = 1n << 1n;
/** Exceptions that push an error code (#DF #TS #NP #SS #GP #PF #AC #CP). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

const u32 = (x: number | bigint): number => (typeof x === 'bigint' ? Number(BigInt.asUintN(32, x)) : x >>> 0);
const u64 = (x: number | bigint): bigint => toU64(x);

/** A guest segment register decoded from its four fields (access-rights format SDM §25.4.1, Table 25-2). */
interface Seg {
  sel: number; rpl: number; ti: boolean; base: bigint; limit: number; ar: number;
  type: number; s: boolean; dpl: number; p: boolean; l: boolean; db: boolean; g: boolean; usable: boolean;
}
type SegName = 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr';

function seg(v: Vmcs12, n: SegName): Seg {
  const g = guestSegment(v, n);
  const sel = u32(g.selector) & 0xffff;
  const ar = u32(g.ar_bytes);
  return {
    sel, rpl: sel & 3, ti: (sel & 4) !== 0, base: u64(g.base), limit: u32(g.limit), ar,
    type: ar & 0xf, s: (ar & 0x10) !== 0, dpl: (ar >>> 5) & 3, p: (ar & 0x80) !== 0,
    l: (ar & 0x2000) !== 0, db: (ar & 0x4000) !== 0, g: (ar & 0x8000) !== 0, usable: (ar & 0x10000) === 0,
  };
}

/** Access-rights bits 11:8 and 31:17 are reserved. */
const arReserved = (s: Seg): boolean => (s.ar & 0xfffe0f00) !== 0;
/** Limit 11:0 not all ones ⇒ G = 0; limit 31:20 not all zeros ⇒ G = 1. */
const limitGranularityBad = (s: Seg): boolean => ((s.limit & 0xfff) !== 0xfff && s.g) || ((s.limit >>> 20) !== 0 && !s.g);
const high32 = (x: bigint): boolean => (x >> 32n) !== 0n;

type Fail = { kind: 'exit-33' | 'vmfail-7'; qual: number; owner: 'kvm' | 'hardware' };
const CTL_KVM: Fail = { kind: 'vmfail-7', qual: 0, owner: 'kvm' };
const GUEST_KVM: Fail = { kind: 'exit-33', qual: 0, owner: 'kvm' };
const QUAL: ReadonlyMap<string, number> = new Map(HARDWARE_GUEST_STATE_RULES.map((r) => [r.id, r.qual]));

/** The facts every predicate reads, computed once per entry. */
interface Env {
  x: HardwareEntryInput; v: Vmcs12; cr0: bigint; cr4: bigint; ia32e: boolean; ug: boolean; la: number;
  rflags: bigint; v86: boolean; intr: number; act: number;
  /** Injected event (bit 31 of the VM-entry interruption information set), else null. */
  ev: { type: number; vector: number; errcode: boolean } | null;
  cs: Seg; ss: Seg; data: Seg[]; tr: Seg; ldtr: Seg;
}

/** A rule: id, verdict shape, and the predicate (true = violated). */
type Rule = readonly [id: string, fail: Fail, violated: (e: Env) => boolean];

const hw = (id: string, violated: (e: Env) => boolean): Rule => [id, { kind: 'exit-33', qual: QUAL.get(id) ?? 0, owner: 'hardware' }, violated];

const RULES: readonly Rule[] = [
  // ---- §27.2.1 control checks (late VMfail 7; the SDM lets the CPU do these in any order)
  // §27.2.1.3: deliver-error-code set iff hardware exception with an error-code vector in protected mode (skipped with BASIC[56]).
  ['hw-ctl-entry-error-code-consistency', CTL_KVM, (e) => e.ev !== null && !e.x.no_hw_error_code_cc
    && e.ev.errcode !== (e.ev.type === INTR_TYPE.HARD_EXCEPTION && (!e.ug || (e.cr0 & CR0.PE) !== 0n) && ERROR_CODE_VECTORS.has(e.ev.vector))],
  // §27.2.1.3: deliver-error-code set ⇒ VM-entry exception error code bits 31:16 are 0.
  ['hw-ctl-entry-error-code-high-bits', CTL_KVM, (e) => e.ev !== null && e.ev.errcode && (u32(e.v.vm_entry_exception_error_code) >>> 16) !== 0],
  // §27.2.1.1: use TPR shadow ⇒ virtual-APIC address 4K-aligned and within MAXPHYADDR (KVM writes INVALID_GPA on purpose).
  ['hw-ctl-virtual-apic-page', { kind: 'vmfail-7', qual: 0, owner: 'hardware' }, (e) => (u32(e.x.vmcs02.proc) & CPU_BASED.TPR_SHADOW) !== 0
    && !addrOk(u64(e.x.vmcs02.virtual_apic_page_addr), e.x.maxphyaddr)],
  // §27.2.1.1: TPR shadow without virtualize-APIC-accesses and virtual-interrupt delivery ⇒ TPR threshold
  // bits 3:0 ≤ VTPR bits 7:4. KVM leaves this to the CPU (its software check only runs with warn_on_missed_cc).
  ['hw-ctl-tpr-threshold-above-vtpr', { kind: 'vmfail-7', qual: 0, owner: 'hardware' }, (e) => (u32(e.x.vmcs02.proc) & CPU_BASED.TPR_SHADOW) !== 0
    && (u32(e.x.vmcs02.secondary) & (SECONDARY.VIRTUALIZE_APIC_ACCESSES | SECONDARY.VIRTUAL_INTR_DELIVERY)) === 0
    && (u32(e.v.tpr_threshold) & 0xf) > (((e.x.vtpr ?? 0) >>> 4) & 0xf)],
  // ---- §27.3.1.1 guest CR0/CR4 rules KVM checks in software (on the effective vmcs02 values)
  // §27.3.1.1: CR0 within FIXED0/FIXED1 (unrestricted guest drops PE and PG from FIXED0).
  ['hw-guest-cr0-fixed', GUEST_KVM, (e) => !fixedOk(e.cr0, u64(e.x.host_cr0_fixed0) & ~(e.ug ? CR0.PE | CR0.PG : 0n), u64(e.x.host_cr0_fixed1))],
  // §27.3.1.1: CR4 within FIXED0/FIXED1.
  ['hw-guest-cr4-fixed', GUEST_KVM, (e) => !fixedOk(e.cr4, u64(e.x.host_cr4_fixed0), u64(e.x.host_cr4_fixed1))],
  // §27.3.1.1: CR0.PG = 1 ⇒ CR0.PE = 1.
  ['hw-guest-cr0-pg-without-pe', GUEST_KVM, (e) => (e.cr0 & (CR0.PG | CR0.PE)) === CR0.PG],
  // §27.3.1.1: IA-32e mode guest ⇒ CR4.PAE = 1.
  ['hw-guest-ia32e-without-pae', GUEST_KVM, (e) => e.ia32e && (e.cr4 & CR4.PAE) === 0n],
  // §27.3.1.1: IA-32e mode guest ⇒ CR0.PG = 1.
  ['hw-guest-ia32e-without-pg', GUEST_KVM, (e) => e.ia32e && (e.cr0 & CR0.PG) === 0n],
  // ---- HARDWARE_GUEST_STATE_RULES, in list order
  // §27.3.1.1: IA-32e mode guest = 0 ⇒ CR4.PCIDE = 0.
  hw('hw-guest-cr4-pcide-without-ia32e', (e) => !e.ia32e && (e.cr4 & CR4.PCIDE) !== 0n),
  // §27.3.1.1: SYSENTER_ESP and SYSENTER_EIP canonical.
  hw('hw-guest-sysenter-noncanonical', (e) => !is_canonical(u64(e.v.guest_sysenter_esp), e.la) || !is_canonical(u64(e.v.guest_sysenter_eip), e.la)),
  // §27.3.1.2: TR selector TI = 0.
  hw('hw-guest-tr-selector-ti', (e) => e.tr.ti),
  // §27.3.1.2: usable LDTR ⇒ selector TI = 0.
  hw('hw-guest-ldtr-selector-ti', (e) => e.ldtr.usable && e.ldtr.ti),
  // §27.3.1.2: not virtual-8086 and not unrestricted guest ⇒ SS.RPL = CS.RPL.
  hw('hw-guest-ss-rpl-cs-rpl', (e) => !e.v86 && !e.ug && e.ss.rpl !== e.cs.rpl),
  // §27.3.1.2: virtual-8086 ⇒ CS SS DS ES FS GS base = selector << 4, limit 0xffff, access rights 0xf3.
  hw('hw-guest-v86-segments', (e) => e.v86 && [e.cs, e.ss, ...e.data].some((s) => s.base !== BigInt(s.sel << 4) || s.limit !== 0xffff || s.ar !== 0xf3)),
  // §27.3.1.2: TR FS GS (usable LDTR) bases canonical; CS base and usable SS DS ES bases 63:32 zero.
  hw('hw-guest-segment-bases', (e) => [e.tr, e.data[2], e.data[3]].some((s) => !is_canonical(s.base, e.la))
    || (e.ldtr.usable && !is_canonical(e.ldtr.base, e.la)) || high32(e.cs.base)
    || [e.ss, e.data[0], e.data[1]].some((s) => s.usable && high32(s.base))),
  // §27.3.1.2 (not virtual-8086): CS type 9, 11, 13 or 15, or 3 with unrestricted guest.
  hw('hw-guest-cs-type', (e) => !e.v86 && ![9, 11, 13, 15].includes(e.cs.type) && !(e.ug && e.cs.type === 3)),
  // §27.3.1.2 (not virtual-8086): usable SS type 3 or 7.
  hw('hw-guest-ss-type', (e) => !e.v86 && e.ss.usable && e.ss.type !== 3 && e.ss.type !== 7),
  // §27.3.1.2 (not virtual-8086): usable DS ES FS GS type accessed, and readable if code.
  hw('hw-guest-ds-es-fs-gs-type', (e) => !e.v86 && e.data.some((s) => s.usable && ((s.type & 1) === 0 || ((s.type & 8) !== 0 && (s.type & 2) === 0)))),
  // §27.3.1.2 (not virtual-8086): S = 1 for CS and usable SS DS ES FS GS.
  hw('hw-guest-segment-s-flag', (e) => !e.v86 && codeData(e).some((s) => !s.s)),
  // §27.3.1.2 (not virtual-8086): the CS/SS/DS..GS DPL rules.
  hw('hw-guest-segment-dpl', (e) => !e.v86 && dplBad(e)),
  // §27.3.1.2 (not virtual-8086): P = 1 for CS and usable SS DS ES FS GS.
  hw('hw-guest-segment-present', (e) => !e.v86 && codeData(e).some((s) => !s.p)),
  // §27.3.1.2: access-rights bits 11:8 and 31:17 zero (CS, usable SS..GS outside virtual-8086; TR; usable LDTR).
  hw('hw-guest-segment-ar-reserved', (e) => (!e.v86 && codeData(e).some(arReserved)) || arReserved(e.tr) || (e.ldtr.usable && arReserved(e.ldtr))),
  // §27.3.1.2: limit vs G (CS, usable SS..GS outside virtual-8086; TR; usable LDTR).
  hw('hw-guest-segment-limit-granularity', (e) => (!e.v86 && codeData(e).some(limitGranularityBad)) || limitGranularityBad(e.tr)
    || (e.ldtr.usable && limitGranularityBad(e.ldtr))),
  // §27.3.1.2: IA-32e mode guest and CS.L = 1 ⇒ CS.D/B = 0.
  hw('hw-guest-cs-l-and-d', (e) => e.ia32e && e.cs.l && e.cs.db),
  // §27.3.1.2: TR type 11 (IA-32e) or 3/11, S = 0, P = 1, usable.
  hw('hw-guest-tr-type', (e) => (e.ia32e ? e.tr.type !== 11 : e.tr.type !== 3 && e.tr.type !== 11) || e.tr.s || !e.tr.p || !e.tr.usable),
  // §27.3.1.2: usable LDTR ⇒ type 2, S = 0, P = 1.
  hw('hw-guest-ldtr-type', (e) => e.ldtr.usable && (e.ldtr.type !== 2 || e.ldtr.s || !e.ldtr.p)),
  // §27.3.1.3: GDTR and IDTR bases canonical.
  hw('hw-guest-gdtr-idtr-base', (e) => !is_canonical(u64(e.v.guest_gdtr_base), e.la) || !is_canonical(u64(e.v.guest_idtr_base), e.la)),
  // §27.3.1.3: GDTR and IDTR limit bits 31:16 zero.
  hw('hw-guest-gdtr-idtr-limit', (e) => (u32(e.v.guest_gdtr_limit) >>> 16) !== 0 || (u32(e.v.guest_idtr_limit) >>> 16) !== 0),
  // §27.3.1.4: not (IA-32e mode and CS.L) ⇒ RIP bits 63:32 zero.
  hw('hw-guest-rip-upper-bits', (e) => !(e.ia32e && e.cs.l) && high32(u64(e.v.guest_rip))),
  // §27.3.1.4: IA-32e mode and CS.L ⇒ RIP canonical.
  hw('hw-guest-rip-noncanonical', (e) => e.ia32e && e.cs.l && !is_canonical(u64(e.v.guest_rip), e.la)),
  // §27.3.1.4: RFLAGS 63:22, 15, 5, 3 zero, bit 1 one.
  hw('hw-guest-rflags-reserved', (e) => (e.rflags & RFLAGS_RSVD) !== 0n || (e.rflags & RFLAGS.FIXED_1) === 0n),
  // §27.3.1.4: IA-32e mode guest or CR0.PE = 0 ⇒ RFLAGS.VM = 0.
  hw('hw-guest-rflags-vm', (e) => e.v86 && (e.ia32e || (e.cr0 & CR0.PE) === 0n)),
  // §27.3.1.4: injecting an external interrupt ⇒ RFLAGS.IF = 1.
  hw('hw-guest-rflags-if-injection', (e) => e.ev?.type === INTR_TYPE.EXT_INTR && (e.rflags & RFLAGS.IF) === 0n),
  // §27.3.1.5: activity state HLT ⇒ SS.DPL = 0.
  hw('hw-guest-activity-hlt-ss-dpl', (e) => e.act === GUEST_ACTIVITY.HLT && e.ss.dpl !== 0),
  // §27.3.1.5: activity state not active ⇒ no blocking by STI or MOV SS.
  hw('hw-guest-activity-blocking', (e) => e.act !== GUEST_ACTIVITY.ACTIVE && (e.intr & (INTR_STATE.STI | INTR_STATE.MOV_SS)) !== 0),
  // §27.3.1.5: events injectable in HLT (ext-int, NMI, #DB, #MC, MTF), shutdown (NMI, #MC), wait-for-SIPI (none).
  hw('hw-guest-activity-event-injection', (e) => e.ev !== null && !eventAllowedIn(e.act, e.ev.type, e.ev.vector)),
  // §27.3.1.5: interruptibility-state bits 31:5 zero.
  hw('hw-guest-interruptibility-reserved', (e) => (e.intr >>> 5) !== 0),
  // §27.3.1.5: blocking by STI and by MOV SS not both set.
  hw('hw-guest-interruptibility-sti-mov-ss', (e) => (e.intr & 3) === 3),
  // §27.3.1.5: RFLAGS.IF = 0 ⇒ no blocking by STI.
  hw('hw-guest-interruptibility-sti-if', (e) => (e.rflags & RFLAGS.IF) === 0n && (e.intr & INTR_STATE.STI) !== 0),
  // §27.3.1.5: injecting an external interrupt ⇒ no blocking by STI or MOV SS.
  hw('hw-guest-interruptibility-ext-int', (e) => e.ev?.type === INTR_TYPE.EXT_INTR && (e.intr & 3) !== 0),
  // §27.3.1.5: injecting an NMI ⇒ no blocking by MOV SS, nor by NMI with virtual NMIs.
  hw('hw-guest-interruptibility-nmi', (e) => e.ev?.type === INTR_TYPE.NMI && ((e.intr & INTR_STATE.MOV_SS) !== 0
    || ((u32(e.x.vmcs02.pin) & PIN_BASED.VIRTUAL_NMIS) !== 0 && (e.intr & INTR_STATE.NMI) !== 0))),
  // §27.3.1.5: not in SMM (L0 never runs VMLAUNCH in SMM) ⇒ no blocking by SMI.
  hw('hw-guest-interruptibility-smi', (e) => (e.intr & INTR_STATE.SMI) !== 0),
  // §27.3.1.5: pending debug exceptions 63:17, 15, 13, 11:4 zero.
  hw('hw-guest-pending-dbg-reserved', (e) => (u64(e.v.guest_pending_dbg_exceptions) & PDE_RSVD) !== 0n),
  // §27.3.1.5: STI/MOV-SS blocking or HLT ⇒ BS = (RFLAGS.TF and not DEBUGCTL.BTF).
  hw('hw-guest-pending-dbg-bs', (e) => ((e.intr & 3) !== 0 || e.act === GUEST_ACTIVITY.HLT)
    && ((u64(e.v.guest_pending_dbg_exceptions) & PDE.BS) !== 0n)
      !== ((e.rflags & RFLAGS.TF) !== 0n && (u64(e.v.guest_ia32_debugctl) & DEBUGCTL_BTF) === 0n)),
  // §27.3.1.5: RTM (bit 16) ⇒ bits 11:0 and 15 zero except enabled-breakpoint (12) one, no MOV-SS blocking.
  hw('hw-guest-pending-dbg-rtm', (e) => {
    const pde = u64(e.v.guest_pending_dbg_exceptions);
    return (pde & PDE.RTM) !== 0n && ((pde & 0x9fffn) !== PDE.ENABLED_BP || (e.intr & INTR_STATE.MOV_SS) !== 0);
  }),
  // §27.3.1.5: VMCS link pointer ≠ ~0 ⇒ neither the current-VMCS pointer nor the VMXON pointer.
  hw('hw-guest-vmcs-link-ptr-current', (e) => {
    const p = u64(e.v.vmcs_link_pointer);
    return p !== 0xffffffffffffffffn && (p === u64(e.x.current_vmptr) || p === u64(e.x.vmxon_ptr));
  }),
  // §27.3.1.6: EPT, CR0.PG, CR4.PAE, not IA-32e ⇒ present PDPTEs have bits 2:1, 8:5 and ≥ MAXPHYADDR clear.
  hw('hw-guest-pdpte-reserved', (e) => (u32(e.x.vmcs02.secondary) & SECONDARY.ENABLE_EPT) !== 0 && (e.cr0 & CR0.PG) !== 0n
    && (e.cr4 & CR4.PAE) !== 0n && !e.ia32e && [e.v.guest_pdptr0, e.v.guest_pdptr1, e.v.guest_pdptr2, e.v.guest_pdptr3]
    .some((raw) => { const pte = u64(raw); return (pte & 1n) !== 0n && (pte & (0x1e6n | aboveMaxphy(e.x.maxphyaddr))) !== 0n; })),
];

function fixedOk(v: bigint, fixed0: bigint, fixed1: bigint): boolean {
  return ((v & fixed1) | fixed0) === v;
}

/** Bits 63:maxphyaddr (maxphyaddr clamped to 0..64; a non-number is read as 52). */
function aboveMaxphy(maxphyaddr: number): bigint {
  const m = Number.isFinite(maxphyaddr) ? Math.min(64, Math.max(0, Math.trunc(maxphyaddr))) : 52;
  return BigInt.asUintN(64, ~((1n << BigInt(m)) - 1n));
}

function addrOk(gpa: bigint, maxphyaddr: number): boolean {
  return (gpa & 0xfffn) === 0n && (gpa & aboveMaxphy(maxphyaddr)) === 0n;
}

/** CS and each usable SS DS ES FS GS. */
function codeData(e: Env): Seg[] {
  return [e.cs, e.ss, ...e.data].filter((s) => s === e.cs || s.usable);
}

function dplBad(e: Env): boolean {
  const { cs, ss } = e;
  if (cs.type === 3 && cs.dpl !== 0) return true;
  if ((cs.type === 9 || cs.type === 11) && cs.dpl !== ss.dpl) return true;
  if ((cs.type === 13 || cs.type === 15) && cs.dpl > ss.dpl) return true;
  if (!e.ug && ss.dpl !== ss.rpl) return true;
  if ((cs.type === 3 || (e.cr0 & CR0.PE) === 0n) && ss.dpl !== 0) return true;
  // Data or non-conforming code (types 0–11): DPL ≥ RPL, unless unrestricted guest.
  return !e.ug && e.data.some((s) => s.usable && s.type <= 11 && s.dpl < s.rpl);
}

function eventAllowedIn(act: number, type: number, vector: number): boolean {
  switch (act) {
    case GUEST_ACTIVITY.HLT:
      return type === INTR_TYPE.EXT_INTR || type === INTR_TYPE.NMI
        || (type === INTR_TYPE.HARD_EXCEPTION && (vector === 1 || vector === 18)) || (type === INTR_TYPE.OTHER_EVENT && vector === 0);
    case GUEST_ACTIVITY.SHUTDOWN:
      return type === INTR_TYPE.NMI || (type === INTR_TYPE.HARD_EXCEPTION && vector === 18);
    case GUEST_ACTIVITY.WAIT_SIPI:
      return false;
    default:
      return true; // active (other values are KVM's activity-state range check)
  }
}

function env(x: HardwareEntryInput): Env {
  const v = x.vmcs12;
  const info = u32(v.vm_entry_intr_info_field);
  const ug = x.unrestricted_guest && (u32(x.vmcs02.secondary) & SECONDARY.UNRESTRICTED_GUEST) !== 0;
  const cr4 = u64(x.vmcs02.cr4);
  const rflags = u64(v.guest_rflags);
  return {
    x, v, cr0: u64(x.vmcs02.cr0), cr4, ia32e: x.vmcs02.ia32e === true, ug, la: (cr4 & CR4.LA57) !== 0n ? 57 : 48,
    rflags, v86: (rflags & RFLAGS.VM) !== 0n, intr: u32(v.guest_interruptibility_info), act: u32(v.guest_activity_state),
    ev: (info & INTR_INFO.VALID) === 0 ? null
      : { type: (info & INTR_INFO.TYPE_MASK) >>> INTR_INFO.TYPE_SHIFT, vector: info & INTR_INFO.VECTOR_MASK, errcode: (info & INTR_INFO.DELIVER_CODE) !== 0 },
    cs: seg(v, 'cs'), ss: seg(v, 'ss'), data: (['ds', 'es', 'fs', 'gs'] as const).map((n) => seg(v, n)), tr: seg(v, 'tr'), ldtr: seg(v, 'ldtr'),
  };
}

/**
 * VMLAUNCH/VMRESUME of vmcs02 by the CPU: { ok: true } when it enters, else the first failing rule
 * (control checks, then guest state; host state is KVM's and valid). Every evaluation goes through cc().
 */
export function vmx_hardware_vmentry(t: Trace, x: HardwareEntryInput): VmxHardwareVerdict {
  const e = env(x);
  for (const [rule, f, violated] of RULES) {
    if (cc(t, rule, violated(e))) return { ok: false, kind: f.kind, rule, qual: f.qual, owner: f.owner };
  }
  return { ok: true };
}

/** All rule ids this layer can report, in evaluation order (for coverage). */
export const VMX_HARDWARE_RULE_IDS: readonly string[] = RULES.map(([id]) => id);

// A valid-by-construction nested-VMX scenario: validVmxScenario({ l0 }) plus toggles that keep every
// KVM consistency check (spec §2.4–2.6) and the hardware-checked guest state (§2.8) passing: the L2
// paging mode, the entry path, short valid MSR-load/store lists, APIC virtualization, the preemption
// timer, a valid event injection and what L2 does. Toggles the caps do not allow fall back to the
// plainer setting (see each helper). Scenario-level mutations are applied on top.

import { CR0, CR4, EFER, PAT_DEFAULT, RFLAGS } from '../../../arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY } from '../../../arch/vmx/controls.ts';
import { INTR_INFO, INTR_TYPE } from '../../../arch/vmx/intr_info.ts';
import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { validVmxScenario } from '../../../engine/vmx/scenario_base.ts';
import { memKey, type VmxEntryPath, type VmxL1After, type VmxL2Action, type VmxScenario } from '../../../engine/vmx/scenario.ts';
import { VMCS12_BASE_CR0 } from '../../../engine/vmx/nested/vmcs12_base.ts';
import { entry, pin, proc, sec } from '../helpers/controlBits.ts';

export const VMX_L0_MODES = ['ept-ug', 'ept-no-ug', 'no-ept'] as const;
export type VmxL0Mode = (typeof VMX_L0_MODES)[number];
export const VMX_GUEST_MODES = ['long64', 'pae32', 'real-ug'] as const;
export type VmxGuestMode = (typeof VMX_GUEST_MODES)[number];
export const VMX_PATHS = ['vmlaunch', 'vmresume', 'set-nested-state'] as const satisfies readonly VmxEntryPath[];
export const VMX_MSR_LISTS = ['none', 'entry', 'entry+exit'] as const;
export type VmxMsrLists = (typeof VMX_MSR_LISTS)[number];
export const VMX_MSR_COUNTS = [1, 2, 3] as const;
export const VMX_APICV = ['none', 'tpr-shadow', 'apic-reg-virt', 'virt-x2apic'] as const;
export type VmxApicv = (typeof VMX_APICV)[number];
export const VMX_INJECTIONS = ['none', 'ext-int', 'pf'] as const;
export type VmxInjection = (typeof VMX_INJECTIONS)[number];
export const VMX_L2_KINDS = ['vmcall', 'cpuid', 'hlt', 'rdmsr-x2apic', 'wrmsr-x2apic', 'rdmsr', 'vcpu-destroy'] as const;
export type VmxL2Kind = (typeof VMX_L2_KINDS)[number];
export const VMX_AFTERS = ['none', 'vmxoff'] as const satisfies readonly VmxL1After[];

/** Base toggles; every field's first listed value is the default (validVmxScenario()). */
export interface VmxBaseChoice {
  l0: VmxL0Mode;
  /** L2's paging mode; a mode the caps do not allow falls back to long64. */
  guestMode: VmxGuestMode;
  path: VmxEntryPath;
  /** KVM_STATE_NESTED_RUN_PENDING (set-nested-state path only). */
  runPending: boolean;
  msrLists: VmxMsrLists;
  /** Entries per MSR list (when there are lists). */
  msrCount: (typeof VMX_MSR_COUNTS)[number];
  apicv: VmxApicv;
  preemptionTimer: boolean;
  injection: VmxInjection;
  l2: VmxL2Kind;
  /** Index into the MSR table of the rdmsr / wrmsr L2 actions. */
  l2Msr: number;
  /** HLT_EXITING in vmcs12 (l2 = 'hlt' only). */
  hltExiting: boolean;
  after: VmxL1After;
}

export const DEFAULT_VMX_BASE: Readonly<VmxBaseChoice> = {
  l0: 'ept-ug', guestMode: 'long64', path: 'vmlaunch', runPending: false, msrLists: 'none', msrCount: 1,
  apicv: 'none', preemptionTimer: false, injection: 'none', l2: 'vmcall', l2Msr: 0, hltExiting: false, after: 'none',
};

/** GPAs this builder (and the scenario mutations) place structures at; all page-aligned, in RAM, unused by the base. */
export const VMX_SCN_GPA = {
  entryMsrLoad: 0x1b000n,
  exitMsrLoad: 0x1c000n,
  exitMsrStore: 0x1d000n,
  /** A page for a non-~0 VMCS link pointer. */
  linkPage: 0x1e000n,
  /** The four PAE page directories the PDPTEs point to. */
  paePd: 0x41000n,
} as const;

export const MSR_IDX = {
  SYSENTER_CS: 0x174, STAR: 0xc0000081, LSTAR: 0xc0000082, PAT: 0x277, EFER: 0xc0000080, TSC: 0x10,
} as const;

/** A valid MSR-list entry: index and the value loaded (ignored by a store list). */
export interface MsrListEntry { index: number; value: bigint }

const ENTRY_LOAD: readonly MsrListEntry[] = [
  { index: MSR_IDX.LSTAR, value: 0xffffffff81000000n },
  { index: MSR_IDX.PAT, value: PAT_DEFAULT },
  { index: MSR_IDX.SYSENTER_CS, value: 0x10n },
];
const EXIT_LOAD: readonly MsrListEntry[] = [
  { index: MSR_IDX.STAR, value: 0x0023001000000000n },
  { index: MSR_IDX.SYSENTER_CS, value: 0x08n },
  { index: MSR_IDX.LSTAR, value: 0xffffffff81200000n },
];
const EXIT_STORE: readonly MsrListEntry[] = [
  { index: MSR_IDX.LSTAR, value: 0n },
  { index: MSR_IDX.SYSENTER_CS, value: 0n },
  { index: MSR_IDX.STAR, value: 0n },
];

/** x2APIC registers L2 reads (ID, TPR, EOI, ICR, SELF_IPI). */
export const L2_X2APIC_RDMSRS = [0x802, 0x808, 0x80b, 0x830, 0x83f] as const;
/** x2APIC writes L2 does: TPR, EOI, SELF_IPI, ICR (fixed, self), ID (read-only). */
export const L2_X2APIC_WRMSRS: readonly { msr: number; value: bigint }[] = [
  { msr: 0x808, value: 0x10n }, { msr: 0x80b, value: 0n }, { msr: 0x83f, value: 0x20n }, { msr: 0x830, value: 0x40020n }, { msr: 0x802, value: 0n },
];
export const L2_RDMSRS = [MSR_IDX.LSTAR, MSR_IDX.SYSENTER_CS, MSR_IDX.PAT, MSR_IDX.EFER, MSR_IDX.TSC] as const;
export const L2_MSR_CHOICES = L2_RDMSRS.length;

/** Write one 16-byte MSR-list entry: u32 index | u32 reserved in the first word, the u64 value in the second. */
export function writeMsrEntry(s: VmxScenario, addr: bigint, e: MsrListEntry, reserved = 0): void {
  s.mem[memKey(addr)] = BigInt(e.index >>> 0) | (BigInt(reserved >>> 0) << 32n);
  s.mem[memKey(addr + 8n)] = BigInt.asUintN(64, e.value);
}

export function nestedEptOn(v: Vmcs12): boolean {
  return (v.cpu_based_vm_exec_control & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0
    && (v.secondary_vm_exec_control & SECONDARY.ENABLE_EPT) !== 0;
}

/** Present, reserved-clear PAE PDPTE i (0..3), pointing at a page directory in RAM. */
export const paePdpte = (i: number): bigint => VMX_SCN_GPA.paePd + BigInt(i) * 0x1000n | 1n;

const FLAT32_CODE = 0xc09b;
const DATA = 0xc093;

/**
 * L2 in 32-bit PAE paging: IA32E_MODE off, EFER LME/LMA clear, CR0 PE|PG, CR4.PAE, 32-bit CS, busy
 * 32-bit TSS (type 11, so 0x8b stays), RIP/RSP below 4 GiB. The PDPTEs come from vmcs12 with nested
 * EPT and from L1 memory at guest_cr3 & ~0x1f otherwise. Also turns a real-mode guest back into this.
 */
export function toPae32(s: VmxScenario): void {
  const v = s.vmcs12;
  entry(v, 0, VM_ENTRY.IA32E_MODE);
  v.guest_ia32_efer &= ~(EFER.LME | EFER.LMA);
  v.guest_cr0 = VMCS12_BASE_CR0;
  v.guest_cr4 = (v.guest_cr4 | CR4.PAE) & ~CR4.PCIDE;
  v.guest_cs_selector = 0x08;
  v.guest_cs_base = 0n;
  v.guest_cs_limit = 0xffffffff;
  v.guest_cs_ar_bytes = FLAT32_CODE;
  for (const n of ['ss', 'ds', 'es', 'fs', 'gs'] as const) {
    v[`guest_${n}_selector`] = 0x10;
    v[`guest_${n}_base`] = 0n;
    v[`guest_${n}_limit`] = 0xffffffff;
    v[`guest_${n}_ar_bytes`] = DATA;
  }
  v.guest_tr_ar_bytes = 0x8b;
  v.guest_rip &= 0xffffffffn;
  v.guest_rsp &= 0xffffffffn;
  v.guest_cr3 &= 0xffffffe0n;
  const pdpt = v.guest_cr3 & ~0x1fn;
  for (let i = 0; i < 4; i++) {
    if (nestedEptOn(v)) v[`guest_pdptr${i as 0 | 1 | 2 | 3}`] = paePdpte(i);
    else s.mem[memKey(pdpt + BigInt(i) * 8n)] = paePdpte(i);
  }
}

/** Unrestricted-guest real mode: UG on, CR0 without PE/PG, IA32E off, EFER 0, real-mode segments. */
function toRealUg(s: VmxScenario): void {
  const v = s.vmcs12;
  sec(v, SECONDARY.UNRESTRICTED_GUEST);
  entry(v, 0, VM_ENTRY.IA32E_MODE);
  v.guest_ia32_efer = 0n;
  v.guest_cr0 &= ~(CR0.PE | CR0.PG);
  v.guest_cr4 &= ~CR4.PCIDE;
  const seg = { cs: 0x0000, ss: 0x0000, ds: 0x0100, es: 0x0100, fs: 0x0000, gs: 0x0000 } as const;
  for (const n of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) {
    v[`guest_${n}_selector`] = seg[n];
    v[`guest_${n}_base`] = BigInt(seg[n] << 4);
    v[`guest_${n}_limit`] = 0xffff;
    v[`guest_${n}_ar_bytes`] = n === 'cs' ? 0x9b : 0x93;
  }
  v.guest_tr_ar_bytes = 0x8b;
  v.guest_idtr_base = 0n;
  v.guest_idtr_limit = 0x3ff;
  v.guest_rip = 0x7c00n;
  v.guest_rsp = 0x6000n;
}

function msrList(s: VmxScenario, addr: bigint, entries: readonly MsrListEntry[], n: number): void {
  for (let i = 0; i < n; i++) writeMsrEntry(s, addr + BigInt(i) * 16n, entries[i]);
}

function l2Action(c: VmxBaseChoice): VmxL2Action {
  const i = Math.max(0, Math.trunc(c.l2Msr)) % L2_MSR_CHOICES;
  switch (c.l2) {
    case 'vmcall': return { kind: 'vmcall' };
    case 'cpuid': return { kind: 'cpuid' };
    case 'hlt': return { kind: 'hlt' };
    case 'rdmsr-x2apic': return { kind: 'rdmsr', msr: L2_X2APIC_RDMSRS[i] };
    case 'wrmsr-x2apic': return { kind: 'wrmsr', msr: L2_X2APIC_WRMSRS[i].msr, value: L2_X2APIC_WRMSRS[i].value };
    case 'rdmsr': return { kind: 'rdmsr', msr: L2_RDMSRS[i] };
    case 'vcpu-destroy': return { kind: 'vcpu-destroy' };
  }
}

export function baseVmxScenario(c: VmxBaseChoice): VmxScenario {
  const s = validVmxScenario({ l0: { enable_ept: c.l0 !== 'no-ept', enable_unrestricted_guest: c.l0 === 'ept-ug' } });
  const v = s.vmcs12;
  const caps = s.caps;

  // ---- L2 mode
  const ugAllowed = (caps.secondaryCtlsHigh & SECONDARY.UNRESTRICTED_GUEST) !== 0 && nestedEptOn(v);
  if (c.guestMode === 'pae32') toPae32(s);
  else if (c.guestMode === 'real-ug' && ugAllowed) toRealUg(s);
  const realMode = (v.guest_cr0 & CR0.PE) === 0n;

  // ---- entry path
  s.path = c.path;
  if (c.path === 'vmresume') s.launch_state = 'launched';
  if (c.path === 'set-nested-state') s.nested_state = { guest_mode: true, run_pending: c.runPending };

  // ---- MSR lists
  if (c.msrLists !== 'none') {
    const n = c.msrCount;
    msrList(s, VMX_SCN_GPA.entryMsrLoad, ENTRY_LOAD, n);
    v.vm_entry_msr_load_addr = VMX_SCN_GPA.entryMsrLoad;
    v.vm_entry_msr_load_count = n;
    if (c.msrLists === 'entry+exit') {
      msrList(s, VMX_SCN_GPA.exitMsrLoad, EXIT_LOAD, n);
      msrList(s, VMX_SCN_GPA.exitMsrStore, EXIT_STORE, n);
      v.vm_exit_msr_load_addr = VMX_SCN_GPA.exitMsrLoad;
      v.vm_exit_msr_load_count = n;
      v.vm_exit_msr_store_addr = VMX_SCN_GPA.exitMsrStore;
      v.vm_exit_msr_store_count = n;
    }
  }

  // ---- APIC virtualization (each level needs TPR shadow; secondary bits only where the caps allow)
  if (c.apicv !== 'none' && (caps.procbasedCtlsHigh & CPU_BASED.TPR_SHADOW) !== 0) {
    proc(v, CPU_BASED.TPR_SHADOW);
    v.tpr_threshold = 0;
    const secOk = (bits: number): boolean => (v.cpu_based_vm_exec_control & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0
      && (caps.secondaryCtlsHigh & bits) === bits;
    if (c.apicv === 'apic-reg-virt' && secOk(SECONDARY.APIC_REGISTER_VIRT)) sec(v, SECONDARY.APIC_REGISTER_VIRT);
    if (c.apicv === 'virt-x2apic') {
      const bits = SECONDARY.VIRTUALIZE_X2APIC_MODE | SECONDARY.APIC_REGISTER_VIRT;
      if (secOk(bits)) sec(v, bits, SECONDARY.VIRTUALIZE_APIC_ACCESSES);
      else if (secOk(SECONDARY.VIRTUALIZE_X2APIC_MODE)) sec(v, SECONDARY.VIRTUALIZE_X2APIC_MODE, SECONDARY.VIRTUALIZE_APIC_ACCESSES);
    }
  }

  // ---- preemption timer
  if (c.preemptionTimer && (caps.pinbasedCtlsHigh & PIN_BASED.VMX_PREEMPTION_TIMER) !== 0) {
    pin(v, PIN_BASED.VMX_PREEMPTION_TIMER);
    v.vmx_preemption_timer_value = 1000;
  }

  // ---- event injection (no error code outside protected mode: spec §2.4 entry check 3)
  if (c.injection === 'ext-int') {
    v.vm_entry_intr_info_field = (INTR_INFO.VALID | (INTR_TYPE.EXT_INTR << INTR_INFO.TYPE_SHIFT) | 0x20) >>> 0;
    v.guest_rflags |= RFLAGS.IF;
  } else if (c.injection === 'pf') {
    v.vm_entry_intr_info_field = (INTR_INFO.VALID | (INTR_TYPE.HARD_EXCEPTION << INTR_INFO.TYPE_SHIFT) | 14
      | (realMode ? 0 : INTR_INFO.DELIVER_CODE)) >>> 0;
    v.vm_entry_exception_error_code = realMode ? 0 : 0x2;
  }

  // ---- L2 action and L1 afterwards
  s.l2 = l2Action(c);
  if (c.l2 === 'hlt' && c.hltExiting) proc(v, CPU_BASED.HLT_EXITING);
  s.after = c.after;
  return s;
}

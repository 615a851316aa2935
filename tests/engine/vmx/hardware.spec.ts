// Directed tests of the hardware layer of a nested VM entry (the CPU's SDM §27.2–27.3 checks on
// vmcs02): a valid 64-bit state enters; one targeted change per rule fails with that rule's id, the
// verdict kind (late VMfail 7 or exit 33), the exit-33 qualification and the owner.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4 } from '../../../src/arch/svm/defs.ts';
import { DEFAULT_HOST_CR4_FIXED1, kvmNestedVmxMsrs } from '../../../src/arch/vmx/caps.ts';
import { CPU_BASED, PIN_BASED, SECONDARY } from '../../../src/arch/vmx/controls.ts';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import { INTR_INFO } from '../../../src/arch/vmx/intr_info.ts';
import { Trace } from '../../../src/engine/trace.ts';
import { HARDWARE_GUEST_STATE_RULES } from '../../../src/engine/vmx/nested/checks_guest.ts';
import { type HardwareEntryInput, VMX_HARDWARE_RULE_IDS, vmx_hardware_vmentry } from '../../../src/engine/vmx/nested/hardware.ts';
import { validVmcs12 } from '../../../src/engine/vmx/nested/vmcs12_base.ts';
import type { VmxHardwareVerdict } from '../../../src/engine/vmx/result.ts';

const caps = kvmNestedVmxMsrs();
const NONCANONICAL_48 = 1n << 47n;
const CURRENT_VMPTR = 0x3000n;
const VMXON_PTR = 0x2000n;
const MAXPHYADDR = 46;

/** Injection encodings: valid | type << 8 | vector (| deliver error code). */
const INJ = {
  extInt: (INTR_INFO.VALID | (0 << 8) | 0x20) >>> 0,
  nmi: (INTR_INFO.VALID | (2 << 8) | 2) >>> 0,
  gp: (INTR_INFO.VALID | (3 << 8) | 13 | INTR_INFO.DELIVER_CODE) >>> 0,
  gpNoCode: (INTR_INFO.VALID | (3 << 8) | 13) >>> 0,
  mc: (INTR_INFO.VALID | (3 << 8) | 18) >>> 0,
  db: (INTR_INFO.VALID | (3 << 8) | 1) >>> 0,
  mtf: (INTR_INFO.VALID | (7 << 8) | 0) >>> 0,
};

/** validVmcs12 and the vmcs02 KVM would build from it (CR0 gains NE; controls copied). */
function base(): HardwareEntryInput {
  const v = validVmcs12(caps);
  return {
    vmcs12: v,
    vmcs02: {
      cr0: v.guest_cr0 | CR0.NE, cr3: v.guest_cr3, cr4: v.guest_cr4, efer: v.guest_ia32_efer, ia32e: true,
      pin: v.pin_based_vm_exec_control, proc: v.cpu_based_vm_exec_control, secondary: v.secondary_vm_exec_control,
      entry: v.vm_entry_controls, exit: v.vm_exit_controls, virtual_apic_page_addr: v.virtual_apic_page_addr, x2apic_passthrough: [],
    },
    unrestricted_guest: true,
    host_cr0_fixed0: 0x80000021n, host_cr0_fixed1: 0xffffffffn, host_cr4_fixed0: 0x2000n, host_cr4_fixed1: DEFAULT_HOST_CR4_FIXED1,
    maxphyaddr: MAXPHYADDR, current_vmptr: CURRENT_VMPTR, vmxon_ptr: VMXON_PTR, no_hw_error_code_cc: false,
  };
}

function run(x: HardwareEntryInput): VmxHardwareVerdict {
  return vmx_hardware_vmentry(new Trace(), x);
}

/** L0 and vmcs02 with unrestricted guest. */
function withUg(x: HardwareEntryInput): void {
  x.unrestricted_guest = true;
  x.vmcs02.secondary = (x.vmcs02.secondary | SECONDARY.UNRESTRICTED_GUEST) >>> 0;
}

/** A 32-bit protected-mode paged guest (PAE, not IA-32e): CS 32-bit code. */
function prot32(x: HardwareEntryInput): void {
  x.vmcs02.ia32e = false;
  x.vmcs12.guest_cs_ar_bytes = 0xc09b;
}

/** Virtual-8086 segments: base = selector << 4, limit 0xffff, AR 0xf3. */
function v86(x: HardwareEntryInput): void {
  const v = x.vmcs12;
  v.guest_rflags = 0x20002n;
  for (const s of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) {
    v[`guest_${s}_selector`] = 0x1000;
    v[`guest_${s}_base`] = 0x10000n;
    v[`guest_${s}_limit`] = 0xffff;
    v[`guest_${s}_ar_bytes`] = 0xf3;
  }
}

/** A ring-3 64-bit guest: CS and SS DPL/RPL 3. */
function ring3(x: HardwareEntryInput): void {
  const v = x.vmcs12;
  v.guest_cs_selector = 0x0b;
  v.guest_cs_ar_bytes = 0xa0fb;
  v.guest_ss_selector = 0x13;
  v.guest_ss_ar_bytes = 0xc0f3;
}

type Kind = 'exit-33' | 'vmfail-7';
type Owner = 'kvm' | 'hardware';
interface Case {
  rule: string;
  kind: Kind;
  qual: number;
  owner: Owner;
  /** Each mutation of base() must fail with exactly this rule. */
  fail: ((x: HardwareEntryInput) => void)[];
  /** Nearby states that must enter (the rule is not over-eager). */
  pass?: ((x: HardwareEntryInput) => void)[];
}

const hwGuest = (rule: string, qual: number, fail: Case['fail'], pass?: Case['pass']): Case => ({ rule, kind: 'exit-33', qual, owner: 'hardware', fail, pass });
const kvmGuest = (rule: string, fail: Case['fail'], pass?: Case['pass']): Case => ({ rule, kind: 'exit-33', qual: 0, owner: 'kvm', fail, pass });

const CASES: Case[] = [
  {
    rule: 'hw-ctl-entry-error-code-consistency', kind: 'vmfail-7', qual: 0, owner: 'kvm',
    fail: [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.gpNoCode; },
      (x) => { x.vmcs12.vm_entry_intr_info_field = (INJ.mc | INTR_INFO.DELIVER_CODE) >>> 0; },
      (x) => { withUg(x); x.vmcs02.cr0 &= ~(CR0.PE | CR0.PG); x.vmcs02.ia32e = false; x.vmcs12.vm_entry_intr_info_field = INJ.gp; }],
    pass: [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.gp; },
      (x) => { x.no_hw_error_code_cc = true; x.vmcs12.vm_entry_intr_info_field = INJ.gpNoCode; }],
  },
  {
    rule: 'hw-ctl-entry-error-code-high-bits', kind: 'vmfail-7', qual: 0, owner: 'kvm',
    fail: [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.gp; x.vmcs12.vm_entry_exception_error_code = 0x10000; }],
    pass: [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.gp; x.vmcs12.vm_entry_exception_error_code = 0xffff; },
      (x) => { x.vmcs12.vm_entry_intr_info_field = INJ.gp & ~INTR_INFO.VALID; x.vmcs12.vm_entry_exception_error_code = 0x10000; }],
  },
  {
    rule: 'hw-ctl-virtual-apic-page', kind: 'vmfail-7', qual: 0, owner: 'hardware',
    fail: [(x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs02.virtual_apic_page_addr = 0xffffffffffffffffn; },
      (x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs02.virtual_apic_page_addr = 1n << BigInt(MAXPHYADDR); },
      (x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs02.virtual_apic_page_addr = 0x13800n; }],
    pass: [(x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; },
      (x) => { x.vmcs02.virtual_apic_page_addr = 0xffffffffffffffffn; }],
  },
  {
    rule: 'hw-ctl-tpr-threshold-above-vtpr', kind: 'vmfail-7', qual: 0, owner: 'hardware',
    fail: [(x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs12.tpr_threshold = 3; x.vtpr = 0x20; }],
    pass: [(x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs12.tpr_threshold = 2; x.vtpr = 0x20; },
      (x) => { x.vmcs02.proc = (x.vmcs02.proc | CPU_BASED.TPR_SHADOW) >>> 0; x.vmcs02.secondary = (x.vmcs02.secondary | SECONDARY.VIRTUAL_INTR_DELIVERY) >>> 0; x.vmcs12.tpr_threshold = 3; },
      (x) => { x.vmcs12.tpr_threshold = 3; }],
  },
  kvmGuest('hw-guest-cr0-fixed', [(x) => { x.vmcs02.cr0 &= ~CR0.NE; }, (x) => { x.vmcs02.cr0 |= 1n << 32n; },
    (x) => { x.vmcs02.ia32e = false; x.vmcs02.cr0 &= ~(CR0.PE | CR0.PG); }],
  [(x) => { withUg(x); x.vmcs02.ia32e = false; x.vmcs02.cr0 &= ~(CR0.PE | CR0.PG); }]),
  kvmGuest('hw-guest-cr4-fixed', [(x) => { x.vmcs02.cr4 &= ~CR4.VMXE; }, (x) => { x.vmcs02.cr4 |= 1n << 24n; }]),
  kvmGuest('hw-guest-cr0-pg-without-pe', [(x) => { withUg(x); x.vmcs02.cr0 &= ~CR0.PE; }]),
  kvmGuest('hw-guest-ia32e-without-pae', [(x) => { x.vmcs02.cr4 &= ~CR4.PAE; }]),
  kvmGuest('hw-guest-ia32e-without-pg', [(x) => { withUg(x); x.vmcs02.cr0 &= ~(CR0.PG | CR0.PE); }]),
  hwGuest('hw-guest-cr4-pcide-without-ia32e', 0, [(x) => { prot32(x); x.vmcs02.cr4 |= CR4.PCIDE; }],
    [(x) => { x.vmcs02.cr4 |= CR4.PCIDE; }, prot32]),
  hwGuest('hw-guest-sysenter-noncanonical', 0, [(x) => { x.vmcs12.guest_sysenter_esp = NONCANONICAL_48; },
    (x) => { x.vmcs12.guest_sysenter_eip = 0x0000800000000000n; }],
  [(x) => { x.vmcs12.guest_sysenter_eip = 0xffff800000000000n; }, (x) => { x.vmcs02.cr4 |= CR4.LA57; x.vmcs12.guest_sysenter_esp = NONCANONICAL_48; }]),
  hwGuest('hw-guest-tr-selector-ti', 0, [(x) => { x.vmcs12.guest_tr_selector = 0x44; }]),
  hwGuest('hw-guest-ldtr-selector-ti', 0, [(x) => { x.vmcs12.guest_ldtr_selector = 0x4c; x.vmcs12.guest_ldtr_ar_bytes = 0x82; }],
    [(x) => { x.vmcs12.guest_ldtr_selector = 0x48; x.vmcs12.guest_ldtr_ar_bytes = 0x82; }, (x) => { x.vmcs12.guest_ldtr_selector = 0x4c; }]),
  hwGuest('hw-guest-ss-rpl-cs-rpl', 0, [(x) => { x.vmcs12.guest_ss_selector = 0x13; }],
    [(x) => { withUg(x); x.vmcs12.guest_ds_selector = 0x13; x.vmcs12.guest_ss_selector = 0x13; }]),
  hwGuest('hw-guest-v86-segments', 0, [(x) => { x.vmcs12.guest_rflags = 0x20002n; },
    (x) => { v86(x); x.vmcs12.guest_gs_base = 0x10010n; }, (x) => { v86(x); x.vmcs12.guest_cs_limit = 0xfffff; },
    (x) => { v86(x); x.vmcs12.guest_ss_ar_bytes = 0xf7; }],
  [(x) => { prot32(x); v86(x); }]),
  hwGuest('hw-guest-segment-bases', 0, [(x) => { x.vmcs12.guest_fs_base = NONCANONICAL_48; },
    (x) => { x.vmcs12.guest_tr_base = NONCANONICAL_48; }, (x) => { x.vmcs12.guest_cs_base = 1n << 32n; },
    (x) => { x.vmcs12.guest_ds_base = 1n << 32n; }, (x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x82; x.vmcs12.guest_ldtr_base = NONCANONICAL_48; }],
  [(x) => { x.vmcs12.guest_ds_ar_bytes = 0x10000; x.vmcs12.guest_ds_base = 1n << 32n; }, (x) => { x.vmcs12.guest_ldtr_base = NONCANONICAL_48; },
    (x) => { x.vmcs12.guest_gs_base = 0xffffffff80000000n; }]),
  hwGuest('hw-guest-cs-type', 0, [(x) => { x.vmcs12.guest_cs_ar_bytes = 0xa091; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0xa09a; },
    (x) => { x.vmcs12.guest_cs_ar_bytes = 0xc093; }],
  [(x) => { withUg(x); prot32(x); x.vmcs12.guest_cs_ar_bytes = 0xc093; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0xa09f; }]),
  hwGuest('hw-guest-ss-type', 0, [(x) => { x.vmcs12.guest_ss_ar_bytes = 0xc091; }, (x) => { x.vmcs12.guest_ss_ar_bytes = 0xc09b; }],
    [(x) => { x.vmcs12.guest_ss_ar_bytes = 0xc097; }, (x) => { x.vmcs12.guest_ss_ar_bytes = 0x10000; }]),
  hwGuest('hw-guest-ds-es-fs-gs-type', 0, [(x) => { x.vmcs12.guest_ds_ar_bytes = 0xc092; }, (x) => { x.vmcs12.guest_gs_ar_bytes = 0xc099; }],
    [(x) => { x.vmcs12.guest_es_ar_bytes = 0xc09b; }, (x) => { x.vmcs12.guest_fs_ar_bytes = 0x10000; }]),
  hwGuest('hw-guest-segment-s-flag', 0, [(x) => { x.vmcs12.guest_ds_ar_bytes = 0xc083; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0xa08b; }],
    [(x) => { x.vmcs12.guest_ds_ar_bytes = 0x10083; }]),
  hwGuest('hw-guest-segment-dpl', 0, [(x) => { x.vmcs12.guest_cs_ar_bytes = 0xa0fb; },
    (x) => { x.vmcs12.guest_ss_ar_bytes = 0xc0f3; x.vmcs12.guest_cs_ar_bytes = 0xa0fb; },
    (x) => { x.vmcs12.guest_ds_selector = 0x13; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0xa0ff; },
    (x) => { withUg(x); x.vmcs02.ia32e = false; x.vmcs02.cr0 &= ~(CR0.PE | CR0.PG); x.vmcs12.guest_cs_ar_bytes = 0xc0fb; x.vmcs12.guest_ss_ar_bytes = 0xc0f3; }],
  [ring3, (x) => { ring3(x); x.vmcs12.guest_cs_ar_bytes = 0xa0df; }, (x) => { withUg(x); x.vmcs12.guest_ds_selector = 0x13; }]),
  hwGuest('hw-guest-segment-present', 0, [(x) => { x.vmcs12.guest_es_ar_bytes = 0xc013; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0xa01b; }],
    [(x) => { x.vmcs12.guest_es_ar_bytes = 0x10013; }]),
  hwGuest('hw-guest-segment-ar-reserved', 0, [(x) => { x.vmcs12.guest_gs_ar_bytes = 0xc193; }, (x) => { x.vmcs12.guest_tr_ar_bytes = 0x2008b; },
    (x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x882; }],
  [(x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x10882; }]),
  hwGuest('hw-guest-segment-limit-granularity', 0, [(x) => { x.vmcs12.guest_fs_limit = 0xffff0; x.vmcs12.guest_fs_ar_bytes = 0xc093; },
    (x) => { x.vmcs12.guest_tr_ar_bytes = 0x808b; }, (x) => { x.vmcs12.guest_cs_ar_bytes = 0x209b; }],
  [(x) => { x.vmcs12.guest_fs_limit = 0xfffff; x.vmcs12.guest_fs_ar_bytes = 0x4093; }]),
  hwGuest('hw-guest-cs-l-and-d', 0, [(x) => { x.vmcs12.guest_cs_ar_bytes = 0xe09b; }], [(x) => { prot32(x); x.vmcs12.guest_cs_ar_bytes = 0xe09b; }]),
  hwGuest('hw-guest-tr-type', 0, [(x) => { x.vmcs12.guest_tr_ar_bytes = 0x89; }, (x) => { x.vmcs12.guest_tr_ar_bytes = 0x83; },
    (x) => { x.vmcs12.guest_tr_ar_bytes = 0x9b; }, (x) => { x.vmcs12.guest_tr_ar_bytes = 0x0b; }, (x) => { x.vmcs12.guest_tr_ar_bytes = 0x1008b; }],
  [(x) => { prot32(x); x.vmcs12.guest_tr_ar_bytes = 0x83; }]),
  hwGuest('hw-guest-ldtr-type', 0, [(x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x83; }, (x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x92; },
    (x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x02; }],
  [(x) => { x.vmcs12.guest_ldtr_ar_bytes = 0x82; }]),
  hwGuest('hw-guest-gdtr-idtr-base', 0, [(x) => { x.vmcs12.guest_gdtr_base = NONCANONICAL_48; }, (x) => { x.vmcs12.guest_idtr_base = NONCANONICAL_48; }]),
  hwGuest('hw-guest-gdtr-idtr-limit', 0, [(x) => { x.vmcs12.guest_idtr_limit = 0x10000; }, (x) => { x.vmcs12.guest_gdtr_limit = 0x1ffff; }]),
  hwGuest('hw-guest-rip-upper-bits', 0, [(x) => { x.vmcs12.guest_cs_ar_bytes = 0xc09b; x.vmcs12.guest_rip = 1n << 32n; },
    (x) => { prot32(x); x.vmcs12.guest_rip = 1n << 32n; }],
  [(x) => { x.vmcs12.guest_rip = 1n << 32n; }]),
  hwGuest('hw-guest-rip-noncanonical', 0, [(x) => { x.vmcs12.guest_rip = NONCANONICAL_48; }],
    [(x) => { x.vmcs02.cr4 |= CR4.LA57; x.vmcs12.guest_rip = NONCANONICAL_48; }]),
  hwGuest('hw-guest-rflags-reserved', 0, [(x) => { x.vmcs12.guest_rflags = 0n; }, (x) => { x.vmcs12.guest_rflags = 0x8002n; },
    (x) => { x.vmcs12.guest_rflags = 0x400002n; }, (x) => { x.vmcs12.guest_rflags = 0x0an; }, (x) => { x.vmcs12.guest_rflags = 0x22n; }]),
  hwGuest('hw-guest-rflags-vm', 0, [v86, (x) => { withUg(x); x.vmcs02.ia32e = false; x.vmcs02.cr0 &= ~(CR0.PE | CR0.PG); v86(x); }],
    [(x) => { prot32(x); v86(x); }]),
  hwGuest('hw-guest-rflags-if-injection', 0, [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.extInt; }],
    [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.extInt; x.vmcs12.guest_rflags = 0x202n; }, (x) => { x.vmcs12.vm_entry_intr_info_field = INJ.nmi; }]),
  hwGuest('hw-guest-activity-hlt-ss-dpl', 0, [(x) => { ring3(x); x.vmcs12.guest_activity_state = 1; }],
    [ring3, (x) => { x.vmcs12.guest_activity_state = 1; }]),
  hwGuest('hw-guest-activity-blocking', 0, [(x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.guest_rflags = 0x202n; x.vmcs12.guest_interruptibility_info = 1; },
    (x) => { x.vmcs12.guest_activity_state = 3; x.vmcs12.guest_interruptibility_info = 2; }],
  [(x) => { x.vmcs12.guest_activity_state = 3; x.vmcs12.guest_interruptibility_info = 8; }]),
  hwGuest('hw-guest-activity-event-injection', 0, [(x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.vm_entry_intr_info_field = INJ.gp; },
    (x) => { x.vmcs12.guest_activity_state = 3; x.vmcs12.vm_entry_intr_info_field = INJ.nmi; },
    (x) => { x.vmcs12.guest_activity_state = 2; x.vmcs12.vm_entry_intr_info_field = INJ.db; }],
  [(x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.vm_entry_intr_info_field = INJ.nmi; },
    (x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.vm_entry_intr_info_field = INJ.db; },
    (x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.vm_entry_intr_info_field = INJ.mtf; },
    (x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.guest_rflags = 0x202n; x.vmcs12.vm_entry_intr_info_field = INJ.extInt; },
    (x) => { x.vmcs12.guest_activity_state = 2; x.vmcs12.vm_entry_intr_info_field = INJ.mc; },
    (x) => { x.vmcs12.guest_activity_state = 3; x.vmcs12.vm_entry_intr_info_field = INJ.nmi & ~INTR_INFO.VALID; }]),
  hwGuest('hw-guest-interruptibility-reserved', 0, [(x) => { x.vmcs12.guest_interruptibility_info = 0x20; },
    (x) => { x.vmcs12.guest_interruptibility_info = 0x80000000; }]),
  hwGuest('hw-guest-interruptibility-sti-mov-ss', 0, [(x) => { x.vmcs12.guest_rflags = 0x202n; x.vmcs12.guest_interruptibility_info = 3; }],
    [(x) => { x.vmcs12.guest_rflags = 0x202n; x.vmcs12.guest_interruptibility_info = 1; }, (x) => { x.vmcs12.guest_interruptibility_info = 2; }]),
  hwGuest('hw-guest-interruptibility-sti-if', 0, [(x) => { x.vmcs12.guest_interruptibility_info = 1; }]),
  hwGuest('hw-guest-interruptibility-ext-int', 0, [(x) => { x.vmcs12.guest_rflags = 0x202n; x.vmcs12.vm_entry_intr_info_field = INJ.extInt; x.vmcs12.guest_interruptibility_info = 2; },
    (x) => { x.vmcs12.guest_rflags = 0x202n; x.vmcs12.vm_entry_intr_info_field = INJ.extInt; x.vmcs12.guest_interruptibility_info = 1; }]),
  hwGuest('hw-guest-interruptibility-nmi', 0, [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.nmi; x.vmcs12.guest_interruptibility_info = 2; },
    (x) => { x.vmcs02.pin = (x.vmcs02.pin | PIN_BASED.VIRTUAL_NMIS) >>> 0; x.vmcs12.vm_entry_intr_info_field = INJ.nmi; x.vmcs12.guest_interruptibility_info = 8; }],
  [(x) => { x.vmcs12.vm_entry_intr_info_field = INJ.nmi; x.vmcs12.guest_interruptibility_info = 8; }]),
  hwGuest('hw-guest-interruptibility-smi', 0, [(x) => { x.vmcs12.guest_interruptibility_info = 4; }]),
  hwGuest('hw-guest-pending-dbg-reserved', 0, [(x) => { x.vmcs12.guest_pending_dbg_exceptions = 0x10n; },
    (x) => { x.vmcs12.guest_pending_dbg_exceptions = 1n << 13n; }, (x) => { x.vmcs12.guest_pending_dbg_exceptions = 1n << 17n; }],
  [(x) => { x.vmcs12.guest_pending_dbg_exceptions = 0x100fn; }]),
  hwGuest('hw-guest-pending-dbg-bs', 0, [(x) => { x.vmcs12.guest_rflags = 0x302n; x.vmcs12.guest_interruptibility_info = 1; },
    (x) => { x.vmcs12.guest_activity_state = 1; x.vmcs12.guest_pending_dbg_exceptions = 1n << 14n; },
    (x) => { x.vmcs12.guest_rflags = 0x102n; x.vmcs12.guest_ia32_debugctl = 2n; x.vmcs12.guest_interruptibility_info = 2; x.vmcs12.guest_pending_dbg_exceptions = 1n << 14n; }],
  [(x) => { x.vmcs12.guest_rflags = 0x302n; x.vmcs12.guest_interruptibility_info = 1; x.vmcs12.guest_pending_dbg_exceptions = 1n << 14n; },
    (x) => { x.vmcs12.guest_rflags = 0x102n; x.vmcs12.guest_activity_state = 1; x.vmcs12.guest_pending_dbg_exceptions = 1n << 14n; },
    (x) => { x.vmcs12.guest_rflags = 0x302n; }]),
  hwGuest('hw-guest-pending-dbg-rtm', 0, [(x) => { x.vmcs12.guest_pending_dbg_exceptions = 1n << 16n; },
    (x) => { x.vmcs12.guest_pending_dbg_exceptions = 0x11001n; },
    (x) => { x.vmcs12.guest_pending_dbg_exceptions = 0x11000n; x.vmcs12.guest_interruptibility_info = 2; }],
  [(x) => { x.vmcs12.guest_pending_dbg_exceptions = 0x11000n; }]),
  hwGuest('hw-guest-vmcs-link-ptr-current', 4, [(x) => { x.vmcs12.vmcs_link_pointer = CURRENT_VMPTR; }, (x) => { x.vmcs12.vmcs_link_pointer = VMXON_PTR; }],
    [(x) => { x.vmcs12.vmcs_link_pointer = 0x5000n; }, (x) => { x.current_vmptr = 0xffffffffffffffffn; }]),
  hwGuest('hw-guest-pdpte-reserved', 2, [(x) => { prot32(x); x.vmcs12.guest_pdptr2 = 0x1003n; },
    (x) => { prot32(x); x.vmcs12.guest_pdptr0 = 0x1021n; }, (x) => { prot32(x); x.vmcs12.guest_pdptr3 = (1n << BigInt(MAXPHYADDR)) | 1n; },
    (x) => { prot32(x); x.vmcs12.guest_pdptr1 = (1n << 63n) | 1n; }],
  [(x) => { prot32(x); x.vmcs12.guest_pdptr2 = 0x1e01n; }, (x) => { prot32(x); x.vmcs12.guest_pdptr2 = 0xfffffffffffffffen; },
    (x) => { x.vmcs12.guest_pdptr2 = 0x1003n; },
    (x) => { prot32(x); x.vmcs02.secondary = (x.vmcs02.secondary & ~SECONDARY.ENABLE_EPT) >>> 0; x.vmcs12.guest_pdptr2 = 0x1003n; }]),
];

describe('vmx_hardware_vmentry', () => {
  it('enters the valid 64-bit base state and evaluates every rule in order', () => {
    const t = new Trace();
    expect(vmx_hardware_vmentry(t, base())).toEqual({ ok: true });
    expect(t.checked).toEqual(VMX_HARDWARE_RULE_IDS.map((id) => ({ id, failed: false })));
  });

  it('the base really has EPT and the injected-event fields clear (tests below rely on it)', () => {
    const x = base();
    expect(x.vmcs02.secondary & SECONDARY.ENABLE_EPT).not.toBe(0);
    expect(x.vmcs02.secondary & SECONDARY.UNRESTRICTED_GUEST).toBe(0);
    expect(x.vmcs12.vm_entry_intr_info_field).toBe(0);
  });

  it('implements HARDWARE_GUEST_STATE_RULES exactly, in list order, after the control and KVM-owned checks', () => {
    const ids = HARDWARE_GUEST_STATE_RULES.map((r) => r.id);
    expect(ids).toHaveLength(39);
    expect(VMX_HARDWARE_RULE_IDS.slice(-39)).toEqual(ids);
    expect(VMX_HARDWARE_RULE_IDS.slice(0, -39)).toEqual([
      'hw-ctl-entry-error-code-consistency', 'hw-ctl-entry-error-code-high-bits', 'hw-ctl-virtual-apic-page', 'hw-ctl-tpr-threshold-above-vtpr',
      'hw-guest-cr0-fixed', 'hw-guest-cr4-fixed', 'hw-guest-cr0-pg-without-pe', 'hw-guest-ia32e-without-pae', 'hw-guest-ia32e-without-pg',
    ]);
  });

  it('has one directed case per rule id', () => {
    expect(CASES.map((c) => c.rule)).toEqual([...VMX_HARDWARE_RULE_IDS]);
  });

  for (const c of CASES) {
    it(`${c.rule}: ${c.kind} qual ${c.qual} owner ${c.owner}`, () => {
      const spec = HARDWARE_GUEST_STATE_RULES.find((r) => r.id === c.rule);
      if (spec) expect(c.qual).toBe(spec.qual);
      c.fail.forEach((mutate, i) => {
        const x = base();
        mutate(x);
        const t = new Trace();
        expect(vmx_hardware_vmentry(t, x), `fail[${i}]`).toEqual({ ok: false, kind: c.kind, rule: c.rule, qual: c.qual, owner: c.owner });
        expect(t.failedChecks(), `fail[${i}]`).toEqual([c.rule]);
        expect(t.checkIds.at(-1)).toBe(c.rule);
      });
      (c.pass ?? []).forEach((mutate, i) => {
        const x = base();
        mutate(x);
        expect(run(x), `pass[${i}]`).toEqual({ ok: true });
      });
    });
  }

  it('a mutant profile that drops a rule lets the entry through to the next one', () => {
    const x = base();
    x.vmcs12.guest_rflags = 0n;
    x.vmcs12.guest_interruptibility_info = 4;
    const t = new Trace(new Set(['hw-guest-rflags-reserved']));
    expect(vmx_hardware_vmentry(t, x)).toMatchObject({ ok: false, rule: 'hw-guest-interruptibility-smi' });
  });

  it('never throws on arbitrary vmcs12 / vmcs02 values', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
    const rows = VMCS12_FIELDS.filter((f) => f.group === 'guest' || f.name.startsWith('vm_entry'));
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: rows.length - 1 }), u32, u64), { maxLength: 40 }),
      fc.record({ cr0: u64, cr4: u64, ia32e: fc.boolean(), pin: u32, proc: u32, secondary: u32, vapic: u64 }),
      fc.boolean(), fc.integer({ min: -5, max: 80 }),
      (writes, s, ug, maxphy) => {
        const x = base();
        const rec = x.vmcs12 as unknown as Record<string, number | bigint>;
        for (const [i, n, b] of writes) {
          const f = rows[i];
          rec[f.name] = f.width === 64 || f.width === 'natural' ? b : n;
        }
        Object.assign(x.vmcs02, { cr0: s.cr0, cr4: s.cr4, ia32e: s.ia32e, pin: s.pin, proc: s.proc, secondary: s.secondary, virtual_apic_page_addr: s.vapic });
        x.unrestricted_guest = ug;
        x.maxphyaddr = maxphy;
        const r = run(x);
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(VMX_HARDWARE_RULE_IDS).toContain(r.rule);
      },
    ), { numRuns: 300 });
  });
});

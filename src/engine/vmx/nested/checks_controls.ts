// nested_vmx_check_controls and its parts (vmx/nested.c, kvm-x86 "next"; spec §2.4): the VM-entry
// checks on VMX controls of SDM vol. 3C §27.2.1 ("Checks on VMX Controls"; §26.2.1 in older SDM
// editions — numbered here like arch/vmx, where the VMCS is chapter 25), plus the stricter rules KVM
// adds. Each condition is a named predicate (KVM's CC()); an id names the violated rule.
// Check groups return a verdict (true = all hold); nested_vmx_run turns false into VMfailValid(7).
// Ids are listed, in evaluation order, in VMX_CONTROL_CHECK_IDS at the end of this file.

import { type NestedVmxMsrs, EPT_CAP, VMX_BASIC, nestedMisc } from '../../../arch/vmx/caps.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_EXIT, VMFUNC_CONTROLS } from '../../../arch/vmx/controls.ts';
import { EPTP } from '../../../arch/vmx/eptp.ts';
import { INTR_INFO, INTR_TYPE } from '../../../arch/vmx/intr_info.ts';
import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { kvm_vcpu_is_legal_gpa, page_address_valid } from '../../x86.ts';
import type { VmxCheckCtx } from '../ctx.ts';

// ---------------------------------------------------------------------------------------------
// field reads: members may hold anything a corpus file or a fuzzer puts there; read them as the
// hardware field would (truncated to its width), never throw.

function u32(x: number | bigint): number {
  if (typeof x === 'number') return x >>> 0;
  return Number(BigInt.asUintN(32, x));
}

function u64(x: number | bigint): bigint {
  if (typeof x === 'bigint') return BigInt.asUintN(64, x);
  return Number.isFinite(x) ? BigInt.asUintN(64, BigInt(Math.trunc(x))) : 0n;
}

/** nested_cpu_has: a primary processor-based control. */
function nested_cpu_has(v: Vmcs12, bit: number): boolean {
  return (u32(v.cpu_based_vm_exec_control) & bit) !== 0;
}

/** nested_cpu_has2: "secondary controls are treated as 0 when ACTIVATE_SECONDARY is clear" (SDM §25.6.2). */
export function nested_cpu_has2(v: Vmcs12, bit: number): boolean {
  return nested_cpu_has(v, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) && (u32(v.secondary_vm_exec_control) & bit) !== 0;
}

function pin_has(v: Vmcs12, bit: number): boolean {
  return (u32(v.pin_based_vm_exec_control) & bit) !== 0;
}

function exit_has(v: Vmcs12, bit: number): boolean {
  return (u32(v.vm_exit_controls) & bit) !== 0;
}

/**
 * vmx_control_verify → fixed_bits_valid: every must-be-1 bit (allowed-0 setting, low dword) set and
 * no bit outside the may-be-1 set (allowed-1, high dword), SDM App. A.3. On u32 numbers: the engine
 * asks five times per VM entry.
 */
function vmx_control_verify(control: number, low: number, high: number): boolean {
  return (((control & high) | low) >>> 0) === control >>> 0;
}

function miscOf(caps: NestedVmxMsrs) {
  return nestedMisc(caps);
}

// ---------------------------------------------------------------------------------------------
// execution controls

/** nested_vmx_check_io_bitmap_controls (SDM §27.2.1.1: I/O bitmap addresses). */
function nested_vmx_check_io_bitmap_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has(v, CPU_BASED.USE_IO_BITMAPS)) return true;
  const { t } = ctx;
  const m = ctx.guest.maxphyaddr;
  // SDM §27.2.1.1: "bits 11:0 of each I/O-bitmap address must be 0" and "no address … beyond the
  // processor's physical-address width" (page_address_valid).
  if (cc(t, 'io-bitmap-a-invalid', !page_address_valid(u64(v.io_bitmap_a), m))) return false;
  if (cc(t, 'io-bitmap-b-invalid', !page_address_valid(u64(v.io_bitmap_b), m))) return false;
  return true;
}

/** nested_vmx_check_msr_bitmap_controls (SDM §27.2.1.1: MSR-bitmap address). */
function nested_vmx_check_msr_bitmap_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has(v, CPU_BASED.USE_MSR_BITMAPS)) return true;
  // SDM §27.2.1.1: "bits 11:0 of the MSR-bitmap address must be 0 … not beyond the physical-address width".
  if (cc(ctx.t, 'msr-bitmap-invalid', !page_address_valid(u64(v.msr_bitmap), ctx.guest.maxphyaddr))) return false;
  return true;
}

/** nested_vmx_check_tpr_shadow_controls (SDM §27.2.1.1: use TPR shadow). */
function nested_vmx_check_tpr_shadow_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has(v, CPU_BASED.TPR_SHADOW)) return true;
  const { t } = ctx;
  // SDM §27.2.1.1: "the virtual-APIC address must satisfy: bits 11:0 are 0 … within the physical-address width".
  if (cc(t, 'virtual-apic-page-invalid', !page_address_valid(u64(v.virtual_apic_page_addr), ctx.guest.maxphyaddr))) return false;
  // SDM §27.2.1.1: "if virtual-interrupt delivery is 0, bits 31:4 of the TPR threshold must be 0".
  const vid = nested_cpu_has2(v, SECONDARY.VIRTUAL_INTR_DELIVERY);
  if (cc(t, 'tpr-threshold-high-without-vid', !vid && u32(v.tpr_threshold) >>> 4 !== 0)) return false;
  // TODO: "TPR threshold ≤ VTPR" reads the virtual-APIC page; KVM checks it only with warn_on_missed_cc.
  return true;
}

/** nested_vmx_check_apic_access_controls (SDM §27.2.1.1: APIC-access address). */
function nested_vmx_check_apic_access_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has2(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES)) return true;
  // SDM §27.2.1.1: "if virtualize APIC accesses is 1, the APIC-access address … bits 11:0 are 0, within width".
  if (cc(ctx.t, 'apic-access-page-invalid', !page_address_valid(u64(v.apic_access_addr), ctx.guest.maxphyaddr))) return false;
  return true;
}

/** nested_vmx_check_apicv_controls (SDM §27.2.1.1: x2APIC virtualization, VID, posted interrupts). */
function nested_vmx_check_apicv_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const x2apic = nested_cpu_has2(v, SECONDARY.VIRTUALIZE_X2APIC_MODE);
  const regVirt = nested_cpu_has2(v, SECONDARY.APIC_REGISTER_VIRT);
  const vid = nested_cpu_has2(v, SECONDARY.VIRTUAL_INTR_DELIVERY);
  const posted = pin_has(v, PIN_BASED.POSTED_INTR);
  if (!x2apic && !regVirt && !vid && !posted) return true;
  const { t } = ctx;
  // SDM §27.2.1.1: "if virtualize x2APIC mode is 1, virtualize APIC accesses must be 0".
  if (cc(t, 'x2apic-virt-with-apic-access-virt', x2apic && nested_cpu_has2(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES))) return false;
  // SDM §27.2.1.1: "if virtual-interrupt delivery is 1, external-interrupt exiting must be 1".
  if (cc(t, 'vid-without-ext-intr-exiting', vid && !pin_has(v, PIN_BASED.EXT_INTR_MASK))) return false;
  if (posted) {
    // SDM §27.2.1.1: "if process posted interrupts is 1, virtual-interrupt delivery must be 1".
    if (cc(t, 'posted-intr-without-vid', !vid)) return false;
    // SDM §27.2.1.1: "… the acknowledge interrupt on exit VM-exit control must be 1".
    if (cc(t, 'posted-intr-without-ack-intr-on-exit', !exit_has(v, VM_EXIT.ACK_INTR_ON_EXIT))) return false;
    // SDM §27.2.1.1: "… the posted-interrupt notification vector has bits 15:8 equal to 0".
    if (cc(t, 'posted-intr-nv-high-bits', (u32(v.posted_intr_nv) & 0xff00) !== 0)) return false;
    const desc = u64(v.posted_intr_desc_addr);
    // SDM §27.2.1.1: "… bits 5:0 of the posted-interrupt descriptor address are 0"
    // (KVM: one kvm_vcpu_is_legal_aligned_gpa(addr, 64); split here, alignment first).
    if (cc(t, 'posted-intr-desc-misaligned', (desc & 0x3fn) !== 0n)) return false;
    // SDM §27.2.1.1: "… the address does not set any bits beyond the physical-address width".
    if (cc(t, 'posted-intr-desc-illegal', !kvm_vcpu_is_legal_gpa(desc, ctx.guest.maxphyaddr))) return false;
  }
  // SDM §27.2.1.1: "if use TPR shadow is 0, virtualize x2APIC mode, APIC-register virtualization and
  // virtual-interrupt delivery must be 0" (KVM: every APICv feature requires TPR_SHADOW).
  if (cc(t, 'apicv-without-tpr-shadow', !nested_cpu_has(v, CPU_BASED.TPR_SHADOW))) return false;
  return true;
}

/** nested_vmx_check_nmi_controls (SDM §27.2.1.1: NMI exiting / virtual NMIs / NMI-window exiting). */
function nested_vmx_check_nmi_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t } = ctx;
  const vnmi = pin_has(v, PIN_BASED.VIRTUAL_NMIS);
  // SDM §27.2.1.1: "if the NMI exiting control is 0, the virtual NMIs control must be 0".
  if (cc(t, 'virtual-nmis-without-nmi-exiting', !pin_has(v, PIN_BASED.NMI_EXITING) && vnmi)) return false;
  // SDM §27.2.1.1: "if the virtual NMIs control is 0, the NMI-window exiting control must be 0".
  if (cc(t, 'nmi-window-without-virtual-nmis', !vnmi && nested_cpu_has(v, CPU_BASED.NMI_WINDOW_EXITING))) return false;
  return true;
}

/** nested_vmx_check_pml_controls (SDM §27.2.1.1: enable PML). */
function nested_vmx_check_pml_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has2(v, SECONDARY.ENABLE_PML)) return true;
  const { t } = ctx;
  // SDM §27.2.1.1: "if enable PML is 1, enable EPT must be 1".
  if (cc(t, 'pml-without-ept', !nested_cpu_has2(v, SECONDARY.ENABLE_EPT))) return false;
  // SDM §27.2.1.1: "… the PML address: bits 11:0 are 0, within the physical-address width".
  if (cc(t, 'pml-address-invalid', !page_address_valid(u64(v.pml_address), ctx.guest.maxphyaddr))) return false;
  return true;
}

/** nested_vmx_check_unrestricted_guest_controls / nested_vmx_check_mode_based_ept_exec_controls. */
function nested_vmx_check_ept_dependent_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t } = ctx;
  const ept = nested_cpu_has2(v, SECONDARY.ENABLE_EPT);
  // SDM §27.2.1.1: "if unrestricted guest is 1, enable EPT must be 1".
  if (cc(t, 'unrestricted-guest-without-ept', nested_cpu_has2(v, SECONDARY.UNRESTRICTED_GUEST) && !ept)) return false;
  // SDM §27.2.1.1: "if mode-based execute control for EPT is 1, enable EPT must be 1".
  if (cc(t, 'mbec-without-ept', nested_cpu_has2(v, SECONDARY.MODE_BASED_EPT_EXEC) && !ept)) return false;
  return true;
}

/** nested_vmx_check_shadow_vmcs_controls (SDM §27.2.1.1: VMCS shadowing). */
function nested_vmx_check_shadow_vmcs_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has2(v, SECONDARY.SHADOW_VMCS)) return true;
  const { t } = ctx;
  const m = ctx.guest.maxphyaddr;
  // SDM §27.2.1.1: "if VMCS shadowing is 1, the VMREAD-bitmap and VMWRITE-bitmap addresses must each
  // have bits 11:0 clear and no bit beyond the physical-address width".
  if (cc(t, 'vmread-bitmap-invalid', !page_address_valid(u64(v.vmread_bitmap), m))) return false;
  if (cc(t, 'vmwrite-bitmap-invalid', !page_address_valid(u64(v.vmwrite_bitmap), m))) return false;
  return true;
}

/**
 * nested_vmx_check_eptp (SDM §27.2.1.1 "if enable EPT is 1, the EPTP must satisfy", §25.6.11).
 * Note, KVM never advertises UC (spec §1.5), so an UC memory type fails on KVM's default caps.
 */
export function nested_vmx_check_eptp(ctx: VmxCheckCtx, eptp: bigint): boolean {
  const { t } = ctx;
  const e = u64(eptp);
  const caps = ctx.caps.eptCaps >>> 0;
  const mt = e & EPTP.MT_MASK;
  // SDM §27.2.1.1: "the EPT memory type (bits 2:0) must be a value supported by the processor as
  // indicated in the IA32_VMX_EPT_VPID_CAP MSR" — UC (0) needs EPT_CAP.UC, WB (6) needs EPT_CAP.WB.
  if (mt === EPTP.MT_UC) {
    if (cc(t, 'eptp-memtype-uc-unsupported', (caps & EPT_CAP.UC) === 0)) return false;
  } else if (mt === EPTP.MT_WB) {
    if (cc(t, 'eptp-memtype-wb-unsupported', (caps & EPT_CAP.WB) === 0)) return false;
  } else if (cc(t, 'eptp-memtype-invalid', true)) {
    return false;
  }
  const pwl = e & EPTP.PWL_MASK;
  // SDM §27.2.1.1: "bits 5:3 (page-walk length minus 1) must be 3, or 4 if 5-level EPT is supported".
  if (pwl === EPTP.PWL_4) {
    if (cc(t, 'eptp-pwl4-unsupported', (caps & EPT_CAP.PAGE_WALK_4) === 0)) return false;
  } else if (pwl === EPTP.PWL_5) {
    if (cc(t, 'eptp-pwl5-unsupported', (caps & EPT_CAP.PAGE_WALK_5) === 0)) return false;
  } else if (cc(t, 'eptp-pwl-invalid', true)) {
    return false;
  }
  // SDM §27.2.1.1: "reserved bits 11:7 and 63:N (N = physical-address width) must be 0".
  if (cc(t, 'eptp-address-illegal', !kvm_vcpu_is_legal_gpa(e, ctx.guest.maxphyaddr))) return false;
  if (cc(t, 'eptp-reserved-bits', ((e >> 7n) & 0x1fn) !== 0n)) return false;
  // SDM §27.2.1.1: "bit 6 (enable A/D flags) must be 0 if the processor does not support EPT A/D".
  if (cc(t, 'eptp-ad-unsupported', (e & EPTP.AD_ENABLE) !== 0n && (caps & EPT_CAP.AD) === 0)) return false;
  return true;
}

/** nested_vmx_check_vmfunc_controls (SDM §27.2.1.1: enable VM functions). */
function nested_vmx_check_vmfunc_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  if (!nested_cpu_has2(v, SECONDARY.ENABLE_VMFUNC)) return true;
  const { t } = ctx;
  const fn = u64(v.vm_function_control);
  // SDM §27.2.1.1: "bits of the VM-function controls set must be allowed by IA32_VMX_VMFUNC".
  if (cc(t, 'vmfunc-controls-unsupported', (fn & ~ctx.caps.vmfuncControls) !== 0n)) return false;
  if ((fn & VMFUNC_CONTROLS.EPTP_SWITCHING) !== 0n) {
    // SDM §27.2.1.1: "if EPTP switching is 1, enable EPT must be 1".
    if (cc(t, 'eptp-switching-without-ept', !nested_cpu_has2(v, SECONDARY.ENABLE_EPT))) return false;
    // SDM §27.2.1.1: "… the EPTP-list address: bits 11:0 are 0, within the physical-address width".
    if (cc(t, 'eptp-list-address-invalid', !page_address_valid(u64(v.eptp_list_address), ctx.guest.maxphyaddr))) return false;
  }
  return true;
}

/** nested_check_vm_execution_controls (SDM §27.2.1.1 "VM-Execution Control Fields"; spec §2.4 order). */
export function nested_check_vm_execution_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t, caps } = ctx;
  // SDM §27.2.1.1: "reserved bits in the pin-based / primary processor-based controls must be set
  // properly" per the allowed-0/allowed-1 settings (vmx_control_verify on the TRUE MSRs).
  if (cc(t, 'pin-controls-invalid', !vmx_control_verify(u32(v.pin_based_vm_exec_control), caps.pinbasedCtlsLow, caps.pinbasedCtlsHigh))) return false;
  if (cc(t, 'proc-controls-invalid', !vmx_control_verify(u32(v.cpu_based_vm_exec_control), caps.procbasedCtlsLow, caps.procbasedCtlsHigh))) return false;
  // SDM §27.2.1.1: "if activate secondary controls is 1, reserved secondary bits must be set properly".
  if (nested_cpu_has(v, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS)) {
    if (cc(t, 'secondary-controls-invalid', !vmx_control_verify(u32(v.secondary_vm_exec_control), caps.secondaryCtlsLow, caps.secondaryCtlsHigh))) return false;
  }
  // SDM §27.2.1.1: "the CR3-target count must not be greater than 4" — KVM: than IA32_VMX_MISC[24:16],
  // which it advertises as 0, so any non-zero count fails.
  if (cc(t, 'cr3-target-count-nonzero', u32(v.cr3_target_count) > miscOf(caps).cr3TargetCount)) return false;
  if (!nested_vmx_check_io_bitmap_controls(ctx, v)) return false;
  if (!nested_vmx_check_msr_bitmap_controls(ctx, v)) return false;
  if (!nested_vmx_check_tpr_shadow_controls(ctx, v)) return false;
  if (!nested_vmx_check_apic_access_controls(ctx, v)) return false;
  if (!nested_vmx_check_apicv_controls(ctx, v)) return false;
  if (!nested_vmx_check_nmi_controls(ctx, v)) return false;
  if (!nested_vmx_check_pml_controls(ctx, v)) return false;
  if (!nested_vmx_check_ept_dependent_controls(ctx, v)) return false;
  if (!nested_vmx_check_shadow_vmcs_controls(ctx, v)) return false;
  // SDM §27.2.1.1: "if enable VPID is 1, the VPID must not be 0000H".
  if (cc(t, 'vpid-zero', nested_cpu_has2(v, SECONDARY.ENABLE_VPID) && (u32(v.virtual_processor_id) & 0xffff) === 0)) return false;
  // SDM §27.2.1.2: "if activate VMX-preemption timer is 0, save VMX-preemption timer value must be 0".
  // Note, KVM tests this without CC(), so a kernel trace names no rule; the model still does.
  if (cc(t, 'save-preemption-timer-without-timer', !pin_has(v, PIN_BASED.VMX_PREEMPTION_TIMER) && exit_has(v, VM_EXIT.SAVE_VMX_PREEMPTION_TIMER))) return false;
  if (nested_cpu_has2(v, SECONDARY.ENABLE_EPT) && !nested_vmx_check_eptp(ctx, u64(v.ept_pointer))) return false;
  if (!nested_vmx_check_vmfunc_controls(ctx, v)) return false;
  // KVM nested_check_vm_execution_controls: "TSC scaling with a zero multiplier" (spec §2.4 item 17).
  if (cc(t, 'tsc-multiplier-zero', nested_cpu_has2(v, SECONDARY.TSC_SCALING) && u64(v.tsc_multiplier) === 0n)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// VM-exit / VM-entry controls

/**
 * nested_vmx_check_msr_switch (SDM §27.2.1.2 / §27.2.1.3: MSR-store / MSR-load areas). `idPrefix` is
 * the area, e.g. 'exit-msr-load'; ids are `<prefix>-count-too-high`, `-addr-misaligned`,
 * `-addr-illegal`, `-end-illegal`.
 */
export function nested_vmx_check_msr_switch(ctx: VmxCheckCtx, count: number, addr: bigint, idPrefix: string): boolean {
  const n = u32(count);
  if (n === 0) return true;
  const { t } = ctx;
  const a = u64(addr);
  const m = ctx.guest.maxphyaddr;
  // Note, the SDM only recommends at most 512 * (MISC[27:25] + 1) entries ("undefined behaviour");
  // KVM (nested_vmx_max_atomic_switch_msrs) fails the entry early instead.
  if (cc(t, `${idPrefix}-count-too-high`, has(ctx.p, 'vmx-check-msr-list-count') && n > miscOf(ctx.caps).maxMsrListSize)) return false;
  // SDM §27.2.1.2: "bits 3:0 of the address must be 0".
  if (cc(t, `${idPrefix}-addr-misaligned`, (a & 0xfn) !== 0n)) return false;
  // SDM §27.2.1.2: "the address should not set any bits beyond the physical-address width".
  if (cc(t, `${idPrefix}-addr-illegal`, !kvm_vcpu_is_legal_gpa(a, m))) return false;
  // SDM §27.2.1.2: "the address of the last byte … (address + count * 16 - 1) … within the width".
  if (cc(t, `${idPrefix}-end-illegal`, !kvm_vcpu_is_legal_gpa(BigInt.asUintN(64, a + BigInt(n) * 16n - 1n), m))) return false;
  return true;
}

/** nested_check_vm_exit_controls (SDM §27.2.1.2 "VM-Exit Control Fields"). */
export function nested_check_vm_exit_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t, caps } = ctx;
  // SDM §27.2.1.2: "reserved bits in the primary VM-exit controls must be set properly".
  if (cc(t, 'exit-controls-invalid', !vmx_control_verify(u32(v.vm_exit_controls), caps.exitCtlsLow, caps.exitCtlsHigh))) return false;
  // nested_vmx_check_exit_msr_switch_controls: the VM-exit MSR-load area, then the MSR-store area.
  if (!nested_vmx_check_msr_switch(ctx, u32(v.vm_exit_msr_load_count), u64(v.vm_exit_msr_load_addr), 'exit-msr-load')) return false;
  if (!nested_vmx_check_msr_switch(ctx, u32(v.vm_exit_msr_store_count), u64(v.vm_exit_msr_store_addr), 'exit-msr-store')) return false;
  return true;
}

/** x86_exception_has_error_code: #DF #TS #NP #SS #GP #PF #AC #CP (spec §2.4). */
const EXCEPTIONS_WITH_ERROR_CODE = (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17) | (1 << 21);

/** Note, KVM shifts 1U by the vector (undefined in C above 31); here vectors above 31 have none. */
function x86_exception_has_error_code(vector: number): boolean {
  return vector < 32 && ((EXCEPTIONS_WITH_ERROR_CODE >>> vector) & 1) === 1;
}

/** nested_check_vm_entry_controls (SDM §27.2.1.3 "VM-Entry Control Fields"). */
export function nested_check_vm_entry_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t, caps } = ctx;
  // SDM §27.2.1.3: "reserved bits in the VM-entry controls must be set properly".
  if (cc(t, 'entry-controls-invalid', !vmx_control_verify(u32(v.vm_entry_controls), caps.entryCtlsLow, caps.entryCtlsHigh))) return false;

  const info = u32(v.vm_entry_intr_info_field);
  if ((info & INTR_INFO.VALID) !== 0) {
    const vector = info & INTR_INFO.VECTOR_MASK;
    const type = (info & INTR_INFO.TYPE_MASK) >>> INTR_INFO.TYPE_SHIFT;
    const hasErrorCode = (info & INTR_INFO.DELIVER_CODE) !== 0;
    const protMode = !nested_cpu_has2(v, SECONDARY.UNRESTRICTED_GUEST) || (u64(v.guest_cr0) & 1n) !== 0n;

    // SDM §27.2.1.3: "the interruption type must not be 1 (reserved)".
    if (cc(t, 'entry-intr-type-reserved', type === INTR_TYPE.RESERVED)) return false;
    // SDM §27.2.1.3: "type 7 (other event) is allowed only if monitor trap flag is supported".
    if (cc(t, 'entry-intr-type-other-without-mtf', type === INTR_TYPE.OTHER_EVENT && (caps.procbasedCtlsHigh & CPU_BASED.MONITOR_TRAP_FLAG) === 0)) return false;
    // SDM §27.2.1.3: "if the type is 2 (NMI), the vector must be 2".
    if (cc(t, 'entry-nmi-vector-not-2', type === INTR_TYPE.NMI && vector !== 2)) return false;
    // SDM §27.2.1.3: "if the type is 3 (hardware exception), the vector must be at most 31".
    if (cc(t, 'entry-hard-exception-vector-high', type === INTR_TYPE.HARD_EXCEPTION && vector > 31)) return false;
    // SDM §27.2.1.3: "if the type is 7 (other event), the vector must be 0".
    if (cc(t, 'entry-other-event-vector-nonzero', type === INTR_TYPE.OTHER_EVENT && vector !== 0)) return false;

    // SDM §27.2.1.3: "deliver error code must be 0 if unrestricted guest is 1 and CR0.PE is 0, or if
    // the type is not hardware exception"; otherwise it must match the vector (#DF #TS #NP #SS #GP #PF
    // #AC #CP) unless IA32_VMX_BASIC[56] says there is no such check.
    if (!protMode || type !== INTR_TYPE.HARD_EXCEPTION) {
      if (cc(t, 'entry-error-code-not-deliverable', hasErrorCode)) return false;
    } else if ((caps.basic & VMX_BASIC.NO_HW_ERROR_CODE_CC) === 0n) {
      if (cc(t, 'entry-error-code-mismatch', hasErrorCode !== x86_exception_has_error_code(vector))) return false;
    }
    // SDM §27.2.1.3: "if deliver error code is 1, bits 31:16 of the VM-entry exception error code must be 0".
    if (cc(t, 'entry-error-code-high-bits', has(ctx.p, 'vmx-check-error-code-high-bits') && hasErrorCode && (u32(v.vm_entry_exception_error_code) & 0xffff0000) !== 0)) return false;
    // SDM §27.2.1.3: "reserved bits 30:12 of the VM-entry interruption-information field must be 0".
    if (cc(t, 'entry-intr-info-reserved-bits', (info & INTR_INFO.RESVD_BITS_MASK) !== 0)) return false;

    // SDM §27.2.1.3: "for type 4, 5 or 6 the VM-entry instruction length must be in 1..15" (0 only
    // with IA32_VMX_MISC[30], which KVM never advertises).
    if (type === INTR_TYPE.SOFT_INTR || type === INTR_TYPE.PRIV_SW_EXCEPTION || type === INTR_TYPE.SOFT_EXCEPTION) {
      const len = u32(v.vm_entry_instruction_len);
      if (cc(t, 'entry-instruction-len-too-long', len > 15)) return false;
      if (cc(t, 'entry-instruction-len-zero', len === 0 && !miscOf(caps).zeroLenIns)) return false;
    }
  }
  // nested_vmx_check_entry_msr_switch_controls: the VM-entry MSR-load area (SDM §27.2.1.3).
  if (!nested_vmx_check_msr_switch(ctx, u32(v.vm_entry_msr_load_count), u64(v.vm_entry_msr_load_addr), 'entry-msr-load')) return false;
  return true;
}

/**
 * nested_vmx_check_controls: execution, then exit, then entry controls; true when all hold. The
 * caller (nested_vmx_run) turns false into VMfailValid(7). Note, the eVMCS checks
 * (nested_evmcs_check_controls) are not modelled: there is no eVMCS here.
 */
export function nested_vmx_check_controls(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  return nested_check_vm_execution_controls(ctx, v) && nested_check_vm_exit_controls(ctx, v) && nested_check_vm_entry_controls(ctx, v);
}

const msrSwitchIds = (p: string): string[] => [`${p}-count-too-high`, `${p}-addr-misaligned`, `${p}-addr-illegal`, `${p}-end-illegal`];

/** Every check id of nested_vmx_check_controls, in evaluation order. */
export const VMX_CONTROL_CHECK_IDS: readonly string[] = Object.freeze([
  // nested_check_vm_execution_controls
  'pin-controls-invalid', 'proc-controls-invalid', 'secondary-controls-invalid', 'cr3-target-count-nonzero',
  'io-bitmap-a-invalid', 'io-bitmap-b-invalid', 'msr-bitmap-invalid',
  'virtual-apic-page-invalid', 'tpr-threshold-high-without-vid', 'apic-access-page-invalid',
  'x2apic-virt-with-apic-access-virt', 'vid-without-ext-intr-exiting', 'posted-intr-without-vid',
  'posted-intr-without-ack-intr-on-exit', 'posted-intr-nv-high-bits', 'posted-intr-desc-misaligned',
  'posted-intr-desc-illegal', 'apicv-without-tpr-shadow',
  'virtual-nmis-without-nmi-exiting', 'nmi-window-without-virtual-nmis',
  'pml-without-ept', 'pml-address-invalid', 'unrestricted-guest-without-ept', 'mbec-without-ept',
  'vmread-bitmap-invalid', 'vmwrite-bitmap-invalid', 'vpid-zero', 'save-preemption-timer-without-timer',
  'eptp-memtype-uc-unsupported', 'eptp-memtype-wb-unsupported', 'eptp-memtype-invalid',
  'eptp-pwl4-unsupported', 'eptp-pwl5-unsupported', 'eptp-pwl-invalid',
  'eptp-address-illegal', 'eptp-reserved-bits', 'eptp-ad-unsupported',
  'vmfunc-controls-unsupported', 'eptp-switching-without-ept', 'eptp-list-address-invalid', 'tsc-multiplier-zero',
  // nested_check_vm_exit_controls
  'exit-controls-invalid', ...msrSwitchIds('exit-msr-load'), ...msrSwitchIds('exit-msr-store'),
  // nested_check_vm_entry_controls
  'entry-controls-invalid', 'entry-intr-type-reserved', 'entry-intr-type-other-without-mtf', 'entry-nmi-vector-not-2',
  'entry-hard-exception-vector-high', 'entry-other-event-vector-nonzero', 'entry-error-code-not-deliverable',
  'entry-error-code-mismatch', 'entry-error-code-high-bits', 'entry-intr-info-reserved-bits',
  'entry-instruction-len-too-long', 'entry-instruction-len-zero', ...msrSwitchIds('entry-msr-load'),
]);

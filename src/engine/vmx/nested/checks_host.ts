// nested_vmx_check_address_space_size / nested_vmx_check_host_state (vmx/nested.c, NEW; spec §2.5):
// the host-state area of vmcs12, checked before VM entry. Each condition is one named predicate
// (KVM's CC()); the caller turns a failure into VMfailValid(8) VMXERR_ENTRY_INVALID_HOST_STATE_FIELD.
// The rules are SDM vol. 3C §27.2 "Checks on VMX Controls and Host-State Area" (§27.2.2 host control
// registers and MSRs, §27.2.3 host segment and descriptor-table registers, §27.2.4 address-space size)
// unless stated otherwise.

import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import { VM_ENTRY, VM_EXIT } from '../../../arch/vmx/controls.ts';
import { fixedBitsValid } from '../../../arch/vmx/caps.ts';
import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { __kvm_is_valid_cr4, kvm_pat_valid, kvm_valid_efer, kvm_vcpu_is_legal_cr3 } from '../../x86.ts';
import type { VmxCheckCtx } from '../ctx.ts';

// ---------------------------------------------------------------------------------------------
// helpers shared with checks_guest.ts

/** `__is_canonical_address(va, bits)`: bits 63:bits-1 are copies of bit bits-1. */
export function is_canonical(va: bigint, bits: number): boolean {
  const x = BigInt.asUintN(64, va);
  return BigInt.asUintN(64, BigInt.asIntN(bits, x)) === x;
}

/**
 * The widest linear address the vCPU may hold in an MSR or a descriptor-table base: 57 bits with
 * LA57, else 48 (KVM is_noncanonical_msr_address / is_noncanonical_base_address). Note, KVM uses the
 * host's width (max_host_virt_addr_bits); the context only has guest CPUID, so the guest's LA57
 * stands in (the same whenever KVM exposes LA57 exactly when the host has it).
 */
export function max_virt_addr_bits(ctx: VmxCheckCtx): number {
  return ctx.guest.cpuid.la57 ? 57 : 48;
}

/** is_noncanonical_msr_address (also used for descriptor-table and segment bases). */
export function is_noncanonical_msr_address(ctx: VmxCheckCtx, va: bigint): boolean {
  return !is_canonical(va, max_virt_addr_bits(ctx));
}

/**
 * kvm_valid_perf_global_ctrl: no bit set in pmu->global_ctrl_rsvd. SDM §21.2.2: IA32_PERF_GLOBAL_CTRL
 * bit n (n < #GP counters) enables IA32_PMCn and bit 32+m (m < #fixed counters) IA32_FIXED_CTRm;
 * every other bit is reserved.
 */
export function kvm_valid_perf_global_ctrl(ctx: VmxCheckCtx, data: bigint): boolean {
  return perf_global_ctrl_valid(ctx.guest.pmu_gp_counters, ctx.guest.pmu_fixed_counters, data);
}

/** The same rule for a vPMU with `gp` general-purpose and `fixed` fixed counters (also WRMSR's). */
export function perf_global_ctrl_valid(gp_counters: number, fixed_counters: number, data: bigint): boolean {
  const gp = Math.max(0, Math.min(32, gp_counters | 0));
  const fixed = Math.max(0, Math.min(32, fixed_counters | 0));
  const allowed = ((1n << BigInt(gp)) - 1n) | (((1n << BigInt(fixed)) - 1n) << 32n);
  return (BigInt.asUintN(64, data) & ~allowed) === 0n;
}

/** IA32_S_CET / IA32_U_CET layout (SDM §18.3.2 "Shadow Stack and Indirect Branch Tracking MSRs"). */
export const CET_MSR = {
  SH_STK_EN: 1n << 0n,
  WR_SHSTK_EN: 1n << 1n,
  ENDBR_EN: 1n << 2n,
  LEG_IW_EN: 1n << 3n,
  NO_TRACK_EN: 1n << 4n,
  SUPPRESS_DIS: 1n << 5n,
  RESERVED: 0xfn << 6n, // bits 9:6
  SUPPRESS: 1n << 10n,
  TRACKER: 1n << 11n, // WAIT_FOR_ENDBRANCH
  EB_LEG_BITMAP_BASE: ~0xfffn & 0xffffffffffffffffn, // bits 63:12
} as const;

const CET_SHSTK_BITS = CET_MSR.SH_STK_EN | CET_MSR.WR_SHSTK_EN;
const CET_IBT_BITS = CET_MSR.ENDBR_EN | CET_MSR.LEG_IW_EN | CET_MSR.NO_TRACK_EN | CET_MSR.SUPPRESS_DIS
  | CET_MSR.SUPPRESS | CET_MSR.TRACKER | CET_MSR.EB_LEG_BITMAP_BASE;

/**
 * kvm_is_valid_u_s_cet: reserved bits 9:6 clear; shadow-stack bits only with guest SHSTK;
 * indirect-branch-tracking bits (incl. the legacy bitmap base) only with guest IBT; SUPPRESS and
 * TRACKER not both set. Note, GuestCpuid has a single CET feature bit (`shstk`, which x86.ts already
 * uses for CR4.CET where KVM takes SHSTK || IBT), so IBT follows it too. Note, the SUPPRESS+TRACKER
 * rule is from KVM (spec §2.5.9 says only "S_CET valid"); not re-verified against the SDM.
 */
export function kvm_is_valid_u_s_cet(ctx: VmxCheckCtx, data: bigint): boolean {
  const v = BigInt.asUintN(64, data);
  const cet = ctx.guest.cpuid.shstk;
  if (v & CET_MSR.RESERVED) return false;
  if (!cet && v & CET_SHSTK_BITS) return false;
  if (!cet && v & CET_IBT_BITS) return false;
  if ((v & CET_MSR.SUPPRESS) !== 0n && (v & CET_MSR.TRACKER) !== 0n) return false;
  return true;
}

/**
 * nested_vmx_check_cet_state_common: S_CET valid, SSP 4-byte aligned, interrupt-SSP-table address
 * canonical (SDM §27.2.2 / §27.3.1.1 "if the load CET state control is 1"). `side` prefixes the ids.
 */
export function nested_vmx_check_cet_state_common(ctx: VmxCheckCtx, side: 'host' | 'guest', s_cet: bigint, ssp: bigint, ssp_tbl: bigint): boolean {
  const { t } = ctx;
  if (cc(t, `${side}-s-cet-invalid`, !kvm_is_valid_u_s_cet(ctx, s_cet))) return false;
  if (cc(t, `${side}-ssp-misaligned`, (ssp & 3n) !== 0n)) return false;
  if (cc(t, `${side}-ssp-tbl-noncanonical`, is_noncanonical_msr_address(ctx, ssp_tbl))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// host state

/** Selector RPL (bits 1:0) and TI (bit 2) (KVM SEGMENT_RPL_MASK | SEGMENT_TI_MASK). */
const SEL_RPL_TI = 0x7;

/**
 * nested_vmx_check_address_space_size (CONFIG_X86_64): SDM §27.2.4 — on a processor in IA-32e mode
 * the "host address-space size" exit control must be 1, outside it 0; KVM compares the control with
 * L1's EFER.LMA. True = passes. Note, CONFIG_X86_64 is read from the capabilities: a 64-bit KVM (and
 * only it) offers HOST_ADDR_SPACE_SIZE in the exit controls' allowed-1 bits.
 */
export function nested_vmx_check_address_space_size(ctx: VmxCheckCtx, v: Vmcs12, l1_efer: bigint): boolean {
  if ((ctx.caps.exitCtlsHigh & VM_EXIT.HOST_ADDR_SPACE_SIZE) === 0) return true;
  const host64 = (v.vm_exit_controls & VM_EXIT.HOST_ADDR_SPACE_SIZE) !== 0;
  const lma = (BigInt.asUintN(64, l1_efer) & EFER.LMA) !== 0n;
  return !cc(ctx.t, 'host-addr-space-size-lma-mismatch', host64 !== lma);
}

/** nested_vmx_check_host_state (spec §2.5, NEW order). True = passes; the caller VMfails with 8. */
export function nested_vmx_check_host_state(ctx: VmxCheckCtx, v: Vmcs12): boolean {
  const { t, caps } = ctx;
  const g = ctx.guest.cpuid;
  const ia32e = (v.vm_exit_controls & VM_EXIT.HOST_ADDR_SPACE_SIZE) !== 0;
  const cr0 = BigInt.asUintN(64, v.host_cr0);
  const cr4 = BigInt.asUintN(64, v.host_cr4);

  // §27.2.2: "The CR0 field must not set any bit to a value not supported in VMX operation"
  // (IA32_VMX_CR0_FIXED0/1; nested_host_cr0_valid: no unrestricted-guest relaxation for the host).
  if (cc(t, 'host-cr0-fixed-bits', !fixedBitsValid(cr0, caps.cr0Fixed0, caps.cr0Fixed1))) return false;
  // §27.2.2: likewise for CR4 (IA32_VMX_CR4_FIXED0/1) ...
  if (cc(t, 'host-cr4-fixed-bits', !fixedBitsValid(cr4, caps.cr4Fixed0, caps.cr4Fixed1))) return false;
  // ... and KVM adds the guest-CPUID reserved CR4 bits (nested_host_cr4_valid → __kvm_is_valid_cr4).
  if (cc(t, 'host-cr4-reserved', has(ctx.p, 'vmx-check-kvm-cr4-reserved') && !__kvm_is_valid_cr4(cr4, g))) return false;
  // §27.2.2: "bits in the CR3 field beyond the processor's physical-address width must be 0".
  if (cc(t, 'host-cr3-illegal', !kvm_vcpu_is_legal_cr3(BigInt.asUintN(64, v.host_cr3), ctx.guest.maxphyaddr, g))) return false;

  // §27.2.2: "If bit 23 in the CR4 field (CET) is 1, bit 16 in the CR0 field (WP) must also be 1."
  if (cc(t, 'host-cet-without-wp', (cr4 & CR4.CET) !== 0n && (cr0 & CR0.WP) === 0n)) return false;

  // §27.2.2: "The IA32_SYSENTER_ESP field and the IA32_SYSENTER_EIP field must each contain a
  // canonical address."
  if (cc(t, 'host-sysenter-esp-noncanonical', is_noncanonical_msr_address(ctx, v.host_ia32_sysenter_esp))) return false;
  if (cc(t, 'host-sysenter-eip-noncanonical', is_noncanonical_msr_address(ctx, v.host_ia32_sysenter_eip))) return false;

  // §27.2.2: "If the load IA32_PAT VM-exit control is 1, the value of the field for the IA32_PAT MSR
  // must be one that could be written by WRMSR without fault" (each byte 0, 1, 4, 5, 6 or 7).
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_PAT) !== 0) {
    if (cc(t, 'host-pat-invalid', !kvm_pat_valid(BigInt.asUintN(64, v.host_ia32_pat)))) return false;
  }
  // §27.2.2: "If the load IA32_PERF_GLOBAL_CTRL VM-exit control is 1, bits reserved in the
  // IA32_PERF_GLOBAL_CTRL MSR must be 0 in the field for that register" (reserved per the vPMU).
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL) !== 0) {
    if (cc(t, 'host-perf-global-ctrl-invalid', !kvm_valid_perf_global_ctrl(ctx, v.host_ia32_perf_global_ctrl))) return false;
  }

  if (ia32e) {
    // §27.2.4: "If the host address-space size VM-exit control is 1, bit 5 of the CR4 field
    // (corresponding to CR4.PAE) is 1."
    if (cc(t, 'host-ia32e-without-pae', (cr4 & CR4.PAE) === 0n)) return false;
  } else {
    // §27.2.4: with host address-space size 0, "the IA-32e mode guest VM-entry control must be 0",
    // "bit 17 of the CR4 field (corresponding to CR4.PCIDE) must be 0" and "bits 63:32 in the RIP
    // field must be 0".
    if (cc(t, 'host-legacy-ia32e-mode-guest', (v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0)) return false;
    if (cc(t, 'host-legacy-cr4-pcide', (cr4 & CR4.PCIDE) !== 0n)) return false;
    if (cc(t, 'host-legacy-rip-upper-bits', BigInt.asUintN(64, v.host_rip) >> 32n !== 0n)) return false;
  }

  // §27.2.3: "In the selector field for each of CS, SS, DS, ES, FS, GS and TR, the RPL (bits 1:0)
  // and the TI flag (bit 2) must be 0."
  if (cc(t, 'host-cs-selector-rpl-ti', (v.host_cs_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-ss-selector-rpl-ti', (v.host_ss_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-ds-selector-rpl-ti', (v.host_ds_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-es-selector-rpl-ti', (v.host_es_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-fs-selector-rpl-ti', (v.host_fs_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-gs-selector-rpl-ti', (v.host_gs_selector & SEL_RPL_TI) !== 0)) return false;
  if (cc(t, 'host-tr-selector-rpl-ti', (v.host_tr_selector & SEL_RPL_TI) !== 0)) return false;
  // §27.2.3: "The selector fields for CS and TR cannot be 0000H."
  if (cc(t, 'host-cs-selector-zero', (v.host_cs_selector & 0xffff) === 0)) return false;
  if (cc(t, 'host-tr-selector-zero', (v.host_tr_selector & 0xffff) === 0)) return false;
  // §27.2.3: "The selector field for SS cannot be 0000H if the host address-space size VM-exit
  // control is 0."
  if (cc(t, 'host-ss-selector-zero', (v.host_ss_selector & 0xffff) === 0 && !ia32e)) return false;

  // §27.2.3: "the base-address fields for FS, GS, GDTR, IDTR, and TR must contain canonical addresses"
  // (KVM is_noncanonical_base_address).
  if (cc(t, 'host-fs-base-noncanonical', is_noncanonical_msr_address(ctx, v.host_fs_base))) return false;
  if (cc(t, 'host-gs-base-noncanonical', is_noncanonical_msr_address(ctx, v.host_gs_base))) return false;
  if (cc(t, 'host-gdtr-base-noncanonical', is_noncanonical_msr_address(ctx, v.host_gdtr_base))) return false;
  if (cc(t, 'host-idtr-base-noncanonical', is_noncanonical_msr_address(ctx, v.host_idtr_base))) return false;
  if (cc(t, 'host-tr-base-noncanonical', is_noncanonical_msr_address(ctx, v.host_tr_base))) return false;
  // §27.2.4: with host address-space size 1, "the RIP field must contain a canonical address"; the
  // width is the one L1 runs with after the exit: 57 bits iff host CR4.LA57 (spec §2.5.7).
  if (cc(t, 'host-rip-noncanonical', !is_canonical(v.host_rip, (cr4 & CR4.LA57) !== 0n ? 57 : 48))) return false;

  // §27.2.2: "If the load IA32_EFER VM-exit control is 1, bits reserved in the IA32_EFER MSR must be 0
  // in the field for that register. In addition, the values of the LMA and LME bits in the field must
  // each be that of the host address-space size VM-exit control."
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_EFER) !== 0) {
    const efer = BigInt.asUintN(64, v.host_ia32_efer);
    if (cc(t, 'host-efer-invalid', !kvm_valid_efer(efer, g))) return false;
    if (cc(t, 'host-efer-lma-mismatch', ((efer & EFER.LMA) !== 0n) !== ia32e)) return false;
    if (cc(t, 'host-efer-lme-mismatch', ((efer & EFER.LME) !== 0n) !== ia32e)) return false;
  }

  // §27.2.2 / §27.2.4, "if the load CET state VM-exit control is 1": IA32_S_CET valid, SSP aligned,
  // SSP-table address canonical; with host address-space size 1 S_CET and SSP canonical, else their
  // bits 63:32 zero.
  if ((v.vm_exit_controls & VM_EXIT.LOAD_CET_STATE) !== 0) {
    if (!nested_vmx_check_cet_state_common(ctx, 'host', v.host_s_cet, v.host_ssp, v.host_ssp_tbl)) return false;
    if (ia32e) {
      if (cc(t, 'host-s-cet-noncanonical', is_noncanonical_msr_address(ctx, v.host_s_cet))) return false;
      if (cc(t, 'host-ssp-noncanonical', is_noncanonical_msr_address(ctx, v.host_ssp))) return false;
    } else {
      if (cc(t, 'host-s-cet-upper-bits', BigInt.asUintN(64, v.host_s_cet) >> 32n !== 0n)) return false;
      if (cc(t, 'host-ssp-upper-bits', BigInt.asUintN(64, v.host_ssp) >> 32n !== 0n)) return false;
    }
  }
  return true;
}

/** Every check id of this module, in evaluation order (for `list` and coverage). */
export const VMX_HOST_CHECK_IDS = [
  'host-addr-space-size-lma-mismatch',
  'host-cr0-fixed-bits', 'host-cr4-fixed-bits', 'host-cr4-reserved', 'host-cr3-illegal',
  'host-cet-without-wp',
  'host-sysenter-esp-noncanonical', 'host-sysenter-eip-noncanonical',
  'host-pat-invalid', 'host-perf-global-ctrl-invalid',
  'host-ia32e-without-pae', 'host-legacy-ia32e-mode-guest', 'host-legacy-cr4-pcide', 'host-legacy-rip-upper-bits',
  'host-cs-selector-rpl-ti', 'host-ss-selector-rpl-ti', 'host-ds-selector-rpl-ti', 'host-es-selector-rpl-ti',
  'host-fs-selector-rpl-ti', 'host-gs-selector-rpl-ti', 'host-tr-selector-rpl-ti',
  'host-cs-selector-zero', 'host-tr-selector-zero', 'host-ss-selector-zero',
  'host-fs-base-noncanonical', 'host-gs-base-noncanonical', 'host-gdtr-base-noncanonical',
  'host-idtr-base-noncanonical', 'host-tr-base-noncanonical', 'host-rip-noncanonical',
  'host-efer-invalid', 'host-efer-lma-mismatch', 'host-efer-lme-mismatch',
  'host-s-cet-invalid', 'host-ssp-misaligned', 'host-ssp-tbl-noncanonical',
  'host-s-cet-noncanonical', 'host-ssp-noncanonical', 'host-s-cet-upper-bits', 'host-ssp-upper-bits',
] as const;

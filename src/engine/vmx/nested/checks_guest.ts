// nested_vmx_check_guest_state (vmx/nested.c, NEW; spec §2.6): the guest-state checks KVM does in
// software before building vmcs02. Each condition is one named predicate (KVM's CC()); the verdict
// carries the entry-failure code and the caller reflects it to L1 as exit 33 (bit 31 set) with that
// code as exit qualification. Rules are SDM vol. 3C §27.3.1 "Checks on the Guest State Area" (§26.3.1
// in older editions) unless stated otherwise. What KVM leaves to the CPU is HARDWARE_GUEST_STATE_RULES.

import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import { SECONDARY, VM_ENTRY } from '../../../arch/vmx/controls.ts';
import { ENTRY_FAIL } from '../../../arch/vmx/errors.ts';
import { fixedBitsValid } from '../../../arch/vmx/caps.ts';
import { VMCS12_REVISION, type Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { nested_cpu_has2 } from './checks_controls.ts';
import { __kvm_is_valid_cr4, kvm_dr7_valid, kvm_pat_valid, kvm_valid_efer, page_address_valid } from '../../x86.ts';
import type { VmxCheckCtx } from '../ctx.ts';
import {
  is_canonical, is_noncanonical_msr_address, kvm_valid_perf_global_ctrl, max_virt_addr_bits, nested_vmx_check_cet_state_common,
} from './checks_host.ts';

/** The header of the page the VMCS link pointer names (struct vmcs_hdr: revision_id 30:0, shadow_vmcs bit 31). */
export interface VmcsLinkHeader {
  revision: number;
  shadow: boolean;
}

/** Reads the header at a guest-physical address; null = the page cannot be read (no memslot). */
export type ReadLinkHeader = (gpa: bigint) => VmcsLinkHeader | null;

export type GuestStateVerdict = { ok: true } | { ok: false; entry_failure_code: number };

/** Guest activity states (SDM §25.4.2 Table 25-3; KVM GUEST_ACTIVITY_*). */
export const GUEST_ACTIVITY = { ACTIVE: 0, HLT: 1, SHUTDOWN: 2, WAIT_SIPI: 3 } as const;

/** IA32_DEBUGCTL bits the model lets a guest hold (SDM §19.4.1 / §17.4.1 "IA32_DEBUGCTL MSR"). */
export const DEBUGCTL = {
  LBR: 1n << 0n,
  BTF: 1n << 1n,
  FREEZE_IN_SMM: 1n << 14n,
} as const;

/** MSR_IA32_BNDCFGS_RSVD: bits 11:2 (SDM §17.3.3 "IA32_BNDCFGS": EN 0, BNDPRESERVE 1, base 63:12). */
export const BNDCFGS_RSVD = 0xffcn;

const U64_MAX = 0xffffffffffffffffn;
const PAGE_MASK = ~0xfffn & U64_MAX;


/**
 * nested_guest_cr0_valid: CR0 against (FIXED0, FIXED1), with PE and PG dropped from FIXED0 when L1
 * may use and does use unrestricted guest (SDM §27.3.1.1: "If bit 7 (unrestricted guest) of the
 * secondary processor-based VM-execution controls is 1, bits 0 and 31 of CR0 are not checked").
 */
function nested_guest_cr0_valid(ctx: VmxCheckCtx, v: Vmcs12, cr0: bigint): boolean {
  const { caps } = ctx;
  let fixed0 = caps.cr0Fixed0;
  if ((caps.secondaryCtlsHigh & SECONDARY.UNRESTRICTED_GUEST) !== 0 && nested_cpu_has2(v, SECONDARY.UNRESTRICTED_GUEST)) {
    fixed0 &= ~(CR0.PE | CR0.PG);
  }
  return fixedBitsValid(cr0, fixed0, caps.cr0Fixed1);
}

/**
 * vmx_is_valid_debugctl (not host-initiated): no bit outside what the vCPU supports. KVM tolerates
 * LBR and BTF always (ignored, "unimplemented wrmsr") and FREEZE_IN_SMM under
 * KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM. Note, the context has no facts for bus-lock detection,
 * RTM or an LBR-capable vPMU, so those DEBUGCTL bits are modelled as unsupported.
 */
function vmx_is_valid_debugctl(ctx: VmxCheckCtx, data: bigint): boolean {
  return debugctl_valid(data, ctx.guest.quirk_allow_freeze_in_smm);
}

/** The DEBUGCTL bits the vCPU supports (also what WRMSR and an MSR-load entry may set). */
export function debugctl_valid(data: bigint, quirk_allow_freeze_in_smm: boolean): boolean {
  let allowed = DEBUGCTL.LBR | DEBUGCTL.BTF;
  if (quirk_allow_freeze_in_smm) allowed |= DEBUGCTL.FREEZE_IN_SMM;
  return (BigInt.asUintN(64, data) & ~allowed) === 0n;
}

/**
 * nested_vmx_check_vmcs_link_ptr (SDM §27.3.1.5: "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH":
 * bits 11:0 zero, no bits beyond the physical-address width, revision identifier of the referenced
 * VMCS equal to VMX_BASIC[30:0], its shadow-VMCS indicator equal to the "VMCS shadowing" control).
 * A failure is ENTRY_FAIL_VMCS_LINK_PTR (4).
 */
function nested_vmx_check_vmcs_link_ptr(ctx: VmxCheckCtx, v: Vmcs12, readLinkHeader: ReadLinkHeader | undefined): boolean {
  const { t } = ctx;
  const gpa = BigInt.asUintN(64, v.vmcs_link_pointer);
  if (gpa === U64_MAX) return true;
  if (cc(t, 'guest-vmcs-link-ptr-invalid-address', !page_address_valid(gpa, ctx.guest.maxphyaddr))) return false;
  // Note, without a reader nothing is readable (kvm_gfn_to_hva_cache_init / kvm_read_guest fail).
  const hdr = readLinkHeader ? readLinkHeader(gpa) : null;
  if (cc(t, 'guest-vmcs-link-ptr-unreadable', hdr === null)) return false;
  if (hdr === null) return true; // only when a mutant dropped the check above: nothing left to compare
  if (cc(t, 'guest-vmcs-link-ptr-revision', hdr.revision !== VMCS12_REVISION)) return false;
  if (cc(t, 'guest-vmcs-link-ptr-shadow-mismatch', hdr.shadow !== nested_cpu_has2(v, SECONDARY.SHADOW_VMCS))) return false;
  return true;
}

/**
 * nested_vmx_check_guest_state (spec §2.6, NEW order). `readLinkHeader` reads the page the VMCS link
 * pointer names. Guest EFER is checked only while a VMLAUNCH/VMRESUME is in flight
 * (`nested_run_pending`): KVM_SET_NESTED_STATE may restore L2 with an EFER KVM computed itself.
 */
/** A failed guest-state verdict with its exit-33 qualification. */
function fail(entry_failure_code: number): GuestStateVerdict {
  return { ok: false, entry_failure_code };
}

export function nested_vmx_check_guest_state(ctx: VmxCheckCtx, v: Vmcs12, readLinkHeader?: ReadLinkHeader): GuestStateVerdict {
  const { t } = ctx;
  const g = ctx.guest.cpuid;
  const ia32e = (v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0;
  const cr0 = BigInt.asUintN(64, v.guest_cr0);
  const cr4 = BigInt.asUintN(64, v.guest_cr4);

  // §27.3.1.1: "The CR0 field must not set any bit to a value not supported in VMX operation"
  // (unrestricted guest relaxes PE and PG); likewise CR4, plus KVM's CPUID-reserved CR4 bits.
  if (cc(t, 'guest-cr0-fixed-bits', !nested_guest_cr0_valid(ctx, v, cr0))) return fail(ENTRY_FAIL.DEFAULT);
  if (cc(t, 'guest-cr4-fixed-bits', !fixedBitsValid(cr4, ctx.caps.cr4Fixed0, ctx.caps.cr4Fixed1))) return fail(ENTRY_FAIL.DEFAULT);
  if (cc(t, 'guest-cr4-reserved', has(ctx.p, 'vmx-check-kvm-cr4-reserved') && !__kvm_is_valid_cr4(cr4, g))) return fail(ENTRY_FAIL.DEFAULT);

  // §27.3.1.1: "If bit 23 in the CR4 field (CET) is 1, bit 16 in the CR0 field (WP) must also be 1."
  if (cc(t, 'guest-cet-without-wp', (cr4 & CR4.CET) !== 0n && (cr0 & CR0.WP) === 0n)) return fail(ENTRY_FAIL.DEFAULT);

  // §27.3.1.1: "If the load debug controls VM-entry control is 1, bits reserved in the IA32_DEBUGCTL
  // MSR must be 0 in the field for that register ... bits 63:32 in the DR7 field must be 0."
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_DEBUG_CONTROLS) !== 0) {
    if (cc(t, 'guest-dr7-upper-bits', !kvm_dr7_valid(BigInt.asUintN(64, v.guest_dr7)))) return fail(ENTRY_FAIL.DEFAULT);
    if (cc(t, 'guest-debugctl-invalid', !vmx_is_valid_debugctl(ctx, v.guest_ia32_debugctl))) return fail(ENTRY_FAIL.DEFAULT);
  }

  // §27.3.1.1: "If the load IA32_PAT VM-entry control is 1, the value of the field for the IA32_PAT
  // MSR must be one that could be written by WRMSR without fault".
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_IA32_PAT) !== 0) {
    if (cc(t, 'guest-pat-invalid', !kvm_pat_valid(BigInt.asUintN(64, v.guest_ia32_pat)))) return fail(ENTRY_FAIL.DEFAULT);
  }

  if (!nested_vmx_check_vmcs_link_ptr(ctx, v, readLinkHeader)) return fail(ENTRY_FAIL.VMCS_LINK_PTR);

  // §27.3.1.1: "If the load IA32_PERF_GLOBAL_CTRL VM-entry control is 1, bits reserved in the
  // IA32_PERF_GLOBAL_CTRL MSR must be 0 in the field for that register".
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL) !== 0) {
    if (cc(t, 'guest-perf-global-ctrl-invalid', !kvm_valid_perf_global_ctrl(ctx, v.guest_ia32_perf_global_ctrl))) return fail(ENTRY_FAIL.DEFAULT);
  }

  // §27.3.1.1: "If bit 31 in the CR0 field (corresponding to PG) is 1, bit 0 in that field (PE) must
  // also be 1" (KVM: CVE-2023-30456 fix; unrestricted guest lets both be 0, never PG alone).
  const cve_2023_30456 = has(ctx.p, 'vmx-check-cr0-pg-pe-ia32e');
  if (cc(t, 'guest-cr0-pg-without-pe', cve_2023_30456 && (cr0 & (CR0.PG | CR0.PE)) === CR0.PG)) return fail(ENTRY_FAIL.DEFAULT);
  // §27.3.1.1: "If the IA-32e mode guest VM-entry control is 1, bit 5 in the CR4 field (PAE) must
  // be 1" and, with it, paging must be on (CVE-2023-30456: IA-32e needs CR0.PG even under UG).
  if (cc(t, 'guest-ia32e-without-pae', cve_2023_30456 && ia32e && (cr4 & CR4.PAE) === 0n)) return fail(ENTRY_FAIL.DEFAULT);
  if (cc(t, 'guest-ia32e-without-pg', cve_2023_30456 && ia32e && (cr0 & CR0.PG) === 0n)) return fail(ENTRY_FAIL.DEFAULT);

  // §27.3.1.1: "If the load IA32_EFER VM-entry control is 1 ... Bits reserved in the IA32_EFER MSR
  // must be 0. Bit 10 (LMA) must equal the IA-32e mode guest VM-entry control. It must also be
  // identical to bit 8 (LME) if bit 31 in the CR0 field (PG) is 1." Note, KVM checks this only for a
  // VM entry in flight (nested_run_pending), not for state restored by KVM_SET_NESTED_STATE.
  if (ctx.nested_run_pending && (v.vm_entry_controls & VM_ENTRY.LOAD_IA32_EFER) !== 0) {
    const efer = BigInt.asUintN(64, v.guest_ia32_efer);
    const lma = (efer & EFER.LMA) !== 0n;
    if (cc(t, 'guest-efer-invalid', !kvm_valid_efer(efer, g))) return fail(ENTRY_FAIL.DEFAULT);
    if (cc(t, 'guest-efer-lma-mismatch', lma !== ia32e)) return fail(ENTRY_FAIL.DEFAULT);
    if (cc(t, 'guest-efer-lme-mismatch', (cr0 & CR0.PG) !== 0n && ((efer & EFER.LME) !== 0n) !== ia32e)) return fail(ENTRY_FAIL.DEFAULT);
  }

  // §27.3.1.1: "If the load IA32_BNDCFGS VM-entry control is 1 ... Bits reserved in the
  // IA32_BNDCFGS MSR must be 0. The linear address in bits 63:12 must be canonical."
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_BNDCFGS) !== 0) {
    const bnd = BigInt.asUintN(64, v.guest_bndcfgs);
    if (cc(t, 'guest-bndcfgs-noncanonical', is_noncanonical_msr_address(ctx, bnd & PAGE_MASK))) return fail(ENTRY_FAIL.DEFAULT);
    if (cc(t, 'guest-bndcfgs-reserved', (bnd & BNDCFGS_RSVD) !== 0n)) return fail(ENTRY_FAIL.DEFAULT);
  }

  // §27.3.1.1 / §27.3.1.4, "if the load CET state VM-entry control is 1": the common CET checks,
  // then SSP with bits 63:N identical, N the maximum linear-address width (KVM: canonical w.r.t.
  // max_host_virt_addr_bits() + 1).
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_CET_STATE) !== 0) {
    if (!nested_vmx_check_cet_state_common(ctx, 'guest', v.guest_s_cet, v.guest_ssp, v.guest_ssp_tbl)) return fail(ENTRY_FAIL.DEFAULT);
    if (cc(t, 'guest-ssp-noncanonical', !is_canonical(v.guest_ssp, max_virt_addr_bits(ctx) + 1))) return fail(ENTRY_FAIL.DEFAULT);
  }

  // §27.3.1.5: "The activity-state field must contain a value in the range 0–3, indicating an
  // activity state supported by the implementation" — KVM's MISC advertises HLT and WAIT_SIPI, not
  // SHUTDOWN (nested_check_guest_non_reg_state).
  const act = v.guest_activity_state;
  const actOk = act === GUEST_ACTIVITY.ACTIVE || act === GUEST_ACTIVITY.HLT || act === GUEST_ACTIVITY.WAIT_SIPI;
  if (cc(t, 'guest-activity-state-invalid', !actOk)) return fail(ENTRY_FAIL.DEFAULT);

  return { ok: true };
}

/** Every check id of this module, in evaluation order (for `list` and coverage). */
export const VMX_GUEST_CHECK_IDS = [
  'guest-cr0-fixed-bits', 'guest-cr4-fixed-bits', 'guest-cr4-reserved', 'guest-cet-without-wp',
  'guest-dr7-upper-bits', 'guest-debugctl-invalid', 'guest-pat-invalid',
  'guest-vmcs-link-ptr-invalid-address', 'guest-vmcs-link-ptr-unreadable', 'guest-vmcs-link-ptr-revision',
  'guest-vmcs-link-ptr-shadow-mismatch',
  'guest-perf-global-ctrl-invalid',
  'guest-cr0-pg-without-pe', 'guest-ia32e-without-pae', 'guest-ia32e-without-pg',
  'guest-efer-invalid', 'guest-efer-lma-mismatch', 'guest-efer-lme-mismatch',
  'guest-bndcfgs-noncanonical', 'guest-bndcfgs-reserved',
  'guest-s-cet-invalid', 'guest-ssp-misaligned', 'guest-ssp-tbl-noncanonical', 'guest-ssp-noncanonical',
  'guest-activity-state-invalid',
] as const;

/** The ids whose failure reports ENTRY_FAIL_VMCS_LINK_PTR (4); every other id reports DEFAULT (0). */
export const VMX_GUEST_LINK_PTR_CHECK_IDS: readonly string[] = VMX_GUEST_CHECK_IDS.filter((id) => id.startsWith('guest-vmcs-link-ptr-'));

// ---------------------------------------------------------------------------------------------
// Guest-state rules KVM leaves to the CPU (spec §2.6 last paragraph, §2.8)

/** One SDM guest-state rule that KVM does not check in software; hardware checks it on vmcs02. */
export interface HardwareGuestStateRule {
  /** Stable id for traces and the later hardware layer ('hw-guest-…'). */
  readonly id: string;
  /** SDM vol. 3C section (§27.3.1.x; §26.3.1.x in older editions). */
  readonly sdm: string;
  /** The rule, paraphrased. */
  readonly rule: string;
  /** Exit-33 qualification when it fails (SDM §27.8): 0 default, 2 PDPTE, 4 VMCS link pointer. */
  readonly qual: number;
}

/**
 * Data only: the guest-state checks of SDM §27.3.1 that nested_vmx_check_guest_state does not do,
 * so a failure comes from the hardware VM entry of vmcs02 (exit 33 reflected to L1, or a late
 * VMfail 7). Spec §2.6 names the classes; §2.8 (Bochs VMenterLoadCheckGuestState) is the oracle list.
 * Note, vmcs02 is not vmcs12: KVM rewrites some fields (e.g. EFER, CR0/CR4 bits it owns), so the later
 * hardware layer must apply these to vmcs02's values.
 */
export const HARDWARE_GUEST_STATE_RULES: readonly HardwareGuestStateRule[] = [
  // §27.3.1.1 control registers, debug registers and MSRs (the rest are KVM's software checks)
  { id: 'hw-guest-cr4-pcide-without-ia32e', sdm: '27.3.1.1', rule: 'IA-32e mode guest control 0 ⇒ CR4.PCIDE (bit 17) is 0', qual: 0 },
  { id: 'hw-guest-sysenter-noncanonical', sdm: '27.3.1.1', rule: 'IA32_SYSENTER_ESP and IA32_SYSENTER_EIP fields hold canonical addresses', qual: 0 },
  // §27.3.1.2 segment registers
  { id: 'hw-guest-tr-selector-ti', sdm: '27.3.1.2', rule: 'TR selector TI flag (bit 2) is 0', qual: 0 },
  { id: 'hw-guest-ldtr-selector-ti', sdm: '27.3.1.2', rule: 'LDTR usable ⇒ LDTR selector TI flag is 0', qual: 0 },
  { id: 'hw-guest-ss-rpl-cs-rpl', sdm: '27.3.1.2', rule: 'not virtual-8086 and not unrestricted guest ⇒ SS.RPL == CS.RPL', qual: 0 },
  { id: 'hw-guest-v86-segments', sdm: '27.3.1.2', rule: 'RFLAGS.VM = 1 ⇒ for CS SS DS ES FS GS: base == selector << 4, limit == 0xffff, access rights == 0xf3', qual: 0 },
  { id: 'hw-guest-segment-bases', sdm: '27.3.1.2', rule: 'TR, FS, GS bases canonical; LDTR base canonical if usable; CS base 63:32 zero; SS, DS, ES bases 63:32 zero if usable', qual: 0 },
  { id: 'hw-guest-cs-type', sdm: '27.3.1.2', rule: 'CS type is 9, 11, 13 or 15 (accessed code), or 3 with unrestricted guest', qual: 0 },
  { id: 'hw-guest-ss-type', sdm: '27.3.1.2', rule: 'SS usable ⇒ type 3 or 7 (read/write accessed data)', qual: 0 },
  { id: 'hw-guest-ds-es-fs-gs-type', sdm: '27.3.1.2', rule: 'DS ES FS GS usable ⇒ type accessed (bit 0 set) and, if code, readable (bit 1 set)', qual: 0 },
  { id: 'hw-guest-segment-s-flag', sdm: '27.3.1.2', rule: 'CS, and each usable SS DS ES FS GS: S (bit 4) is 1', qual: 0 },
  { id: 'hw-guest-segment-dpl', sdm: '27.3.1.2', rule: 'CS.DPL vs SS.DPL by CS type (3 ⇒ 0; 9/11 ⇒ == SS.DPL; 13/15 ⇒ ≤ SS.DPL); SS.DPL == SS.RPL unless UG; SS.DPL 0 if CS type 3 or CR0.PE 0; DS..GS DPL ≥ RPL for non-conforming types unless UG', qual: 0 },
  { id: 'hw-guest-segment-present', sdm: '27.3.1.2', rule: 'CS, and each usable SS DS ES FS GS: P (bit 7) is 1', qual: 0 },
  { id: 'hw-guest-segment-ar-reserved', sdm: '27.3.1.2', rule: 'access-rights bits 11:8 and 31:17 are 0 (CS, and each usable SS DS ES FS GS, TR, usable LDTR)', qual: 0 },
  { id: 'hw-guest-segment-limit-granularity', sdm: '27.3.1.2', rule: 'limit bits 11:0 not all 1 ⇒ G = 0; limit bits 31:20 not all 0 ⇒ G = 1 (CS, usable data segments, TR, usable LDTR)', qual: 0 },
  { id: 'hw-guest-cs-l-and-d', sdm: '27.3.1.2', rule: 'IA-32e mode guest and CS.L = 1 ⇒ CS.D/B = 0', qual: 0 },
  { id: 'hw-guest-tr-type', sdm: '27.3.1.2', rule: 'TR type 11 (busy 32/64-bit TSS) in IA-32e mode, 3 or 11 otherwise; S = 0; P = 1; TR usable', qual: 0 },
  { id: 'hw-guest-ldtr-type', sdm: '27.3.1.2', rule: 'LDTR usable ⇒ type 2, S = 0, P = 1', qual: 0 },
  // §27.3.1.3 descriptor-table registers
  { id: 'hw-guest-gdtr-idtr-base', sdm: '27.3.1.3', rule: 'GDTR and IDTR base fields hold canonical addresses', qual: 0 },
  { id: 'hw-guest-gdtr-idtr-limit', sdm: '27.3.1.3', rule: 'GDTR and IDTR limit bits 31:16 are 0', qual: 0 },
  // §27.3.1.4 RIP and RFLAGS
  { id: 'hw-guest-rip-upper-bits', sdm: '27.3.1.4', rule: 'not IA-32e mode or CS.L = 0 ⇒ RIP bits 63:32 are 0', qual: 0 },
  { id: 'hw-guest-rip-noncanonical', sdm: '27.3.1.4', rule: 'IA-32e mode and CS.L = 1 ⇒ RIP canonical (57 bits with CR4.LA57, else 48)', qual: 0 },
  { id: 'hw-guest-rflags-reserved', sdm: '27.3.1.4', rule: 'RFLAGS bits 63:22, 15, 5 and 3 are 0 and bit 1 is 1', qual: 0 },
  { id: 'hw-guest-rflags-vm', sdm: '27.3.1.4', rule: 'IA-32e mode guest or CR0.PE = 0 ⇒ RFLAGS.VM is 0', qual: 0 },
  { id: 'hw-guest-rflags-if-injection', sdm: '27.3.1.4', rule: 'injecting an external interrupt (valid, type 0) ⇒ RFLAGS.IF is 1', qual: 0 },
  // §27.3.1.5 non-register state
  { id: 'hw-guest-activity-hlt-ss-dpl', sdm: '27.3.1.5', rule: 'activity state HLT ⇒ SS.DPL is 0', qual: 0 },
  { id: 'hw-guest-activity-blocking', sdm: '27.3.1.5', rule: 'activity state not active ⇒ no STI or MOV-SS blocking in interruptibility state', qual: 0 },
  { id: 'hw-guest-activity-event-injection', sdm: '27.3.1.5', rule: 'injecting an event is allowed only in the activity states the SDM lists for it (HLT: ext-int, NMI, #DB/#MC, other event; WAIT_SIPI/SHUTDOWN: restricted)', qual: 0 },
  { id: 'hw-guest-interruptibility-reserved', sdm: '27.3.1.5', rule: 'interruptibility-state bits 31:5 are 0', qual: 0 },
  { id: 'hw-guest-interruptibility-sti-mov-ss', sdm: '27.3.1.5', rule: 'blocking by STI and blocking by MOV SS are not both 1', qual: 0 },
  { id: 'hw-guest-interruptibility-sti-if', sdm: '27.3.1.5', rule: 'RFLAGS.IF = 0 ⇒ blocking by STI is 0', qual: 0 },
  { id: 'hw-guest-interruptibility-ext-int', sdm: '27.3.1.5', rule: 'injecting an external interrupt ⇒ blocking by STI and by MOV SS are 0', qual: 0 },
  { id: 'hw-guest-interruptibility-nmi', sdm: '27.3.1.5', rule: 'injecting an NMI ⇒ blocking by MOV SS is 0 (and blocking by NMI is 0 with virtual NMIs)', qual: 0 },
  { id: 'hw-guest-interruptibility-smi', sdm: '27.3.1.5', rule: 'blocking by SMI is 0 unless entering SMM (KVM never offers entry to SMM)', qual: 0 },
  { id: 'hw-guest-pending-dbg-reserved', sdm: '27.3.1.5', rule: 'pending debug exceptions bits 63:17, 15, 13 and 11:4 are 0', qual: 0 },
  { id: 'hw-guest-pending-dbg-bs', sdm: '27.3.1.5', rule: 'STI/MOV-SS blocking or HLT ⇒ BS (bit 14) is 1 iff RFLAGS.TF = 1 and DEBUGCTL.BTF = 0', qual: 0 },
  { id: 'hw-guest-pending-dbg-rtm', sdm: '27.3.1.5', rule: 'RTM bit (16) set ⇒ bits 11:0 and 15 are 0, bit 12 is 1, no blocking by MOV SS', qual: 0 },
  { id: 'hw-guest-vmcs-link-ptr-current', sdm: '27.3.1.5', rule: 'VMCS link pointer ≠ ~0 ⇒ it is not the current-VMCS pointer nor the VMXON pointer (KVM checks neither; spec §2.8)', qual: 4 },
  // §27.3.1.6 PDPTEs
  { id: 'hw-guest-pdpte-reserved', sdm: '27.3.1.6', rule: 'enable EPT, CR0.PG = 1, CR4.PAE = 1, not IA-32e mode ⇒ each present guest PDPTE field has its reserved bits clear', qual: 2 },
] as const;

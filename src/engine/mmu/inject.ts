// Reflecting a fault in L1's nested TDP tables into L1 as a VM exit: nested_svm_inject_npf_exit
// (#NPF, exit code 0x400) and nested_ept_inject_page_fault (EPT violation 48 / misconfig 49 /
// PML full 62), with the `from_hardware` argument of fe0b872d7500. vmcb02 / vmcs02 hold the exit
// information of the exit that brought L0 here — the hardware #NPF / EPT violation when the CPU
// found the fault, or anything else (an I/O exit, an MMIO #NPF, …) when L0's emulator found it:
// that is the stale data a synthesized fault must not read. Spec: svm.md §5.2, vmx-mmu.md §3.

import { EPT_VIOLATION } from '../../arch/vmx/eptp.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import { has, type Profile } from '../profiles.ts';
import type { Trace } from '../trace.ts';
import { PFERR, PFERR_GUEST_FAULT_STAGE_MASK, type X86Exception } from './types.ts';

const SVM_EXIT_NPF = 0x400n;
const LOW32 = 0xffffffffn;
const U64 = 0xffffffffffffffffn;

/** vmcb02's exit fields as L0 last left them (control area: exit_code, exit_info_1, exit_info_2). */
export interface SvmExitInfo {
  exit_code: bigint;
  exit_info_1: bigint;
  exit_info_2: bigint;
}

/** vmcs02's exit fields (read-only VM-exit information: reason, qualification, guest-physical and -linear address). */
export interface VmxExitInfo {
  reason: number;
  qual: bigint;
  gpa: bigint;
  gla: bigint;
}

function popcount2(x: bigint): number {
  return ((x & PFERR.GUEST_FINAL) !== 0n ? 1 : 0) + ((x & PFERR.GUEST_PAGE) !== 0n ? 1 : 0);
}

/**
 * nested_svm_inject_npf_exit: the #NPF vmcb12 gets. NEW: the fault stage comes from vmcb02 only for
 * a hardware #NPF, else from the walker (exactly one of GUEST_FINAL/GUEST_PAGE, or WARN and FINAL);
 * exit_info_2 is always the walker's fault address. OLD (before 297c2fe249db): for a fault L0 found
 * itself, exit_info_1 = 1 << 32 (FINAL, "TODO: track the cause") unless vmcb02 already held an #NPF,
 * whose upper bits and exit_info_2 then stayed.
 */
export function nested_svm_inject_npf_exit(t: Trace, p: Profile, vmcb02: SvmExitInfo, fault: X86Exception, from_hardware: boolean): SvmExitInfo {
  const ec = BigInt.asUintN(64, fault.error_code);
  if (has(p, 'svm-npf-inject-stage')) {
    let stage = (from_hardware ? vmcb02.exit_info_1 : ec) & PFERR_GUEST_FAULT_STAGE_MASK;
    if (popcount2(stage) !== 1) {
      t.warn('nested_svm_inject_npf_exit-fault-stage', { stage, from_hardware });
      stage = PFERR.GUEST_FINAL;
    }
    const out = { exit_code: SVM_EXIT_NPF, exit_info_1: stage | (ec & ~PFERR_GUEST_FAULT_STAGE_MASK & U64), exit_info_2: BigInt.asUintN(64, fault.address) };
    t.emit('nested_svm_inject_npf_exit', { ...out, from_hardware });
    return out;
  }
  let { exit_code, exit_info_1, exit_info_2 } = vmcb02;
  if (exit_code !== SVM_EXIT_NPF) {
    exit_code = SVM_EXIT_NPF;
    exit_info_1 = 1n << 32n;
    exit_info_2 = BigInt.asUintN(64, fault.address);
  }
  exit_info_1 = (exit_info_1 & ~LOW32 & U64) | (ec & LOW32);
  const out = { exit_code, exit_info_1, exit_info_2 };
  t.emit('nested_svm_inject_npf_exit', { ...out, from_hardware });
  return out;
}

/** What nested_ept_inject_page_fault writes into vmcs12 (nested_vmx_vmexit + guest_physical_address). */
export interface EptInjection {
  reason: number;
  qual: bigint;
  gpa: bigint;
  /** vmcs12.guest_linear_address: KVM does not compute it; sync_vmcs02_to_vmcs12 copies vmcs02's. */
  gla: bigint;
}

/**
 * nested_ept_inject_page_fault: RSVD in the walker's error code ⇒ EPT misconfig (qualification 0);
 * otherwise an EPT violation whose GVA bits (7–8, and 9–11 with advanced exit info) come from
 * vmcs02's qualification only when the CPU reported this very fault (from_hardware), and from the
 * walker's synthesized qualification otherwise (96b067b59ad9). Before that fix the injector ORed the
 * hardware bits 7–8 in unconditionally, so a synthesized fault inherited whatever exit brought L0 here.
 */
export function nested_ept_inject_page_fault(
  t: Trace, p: Profile, vmcs02: VmxExitInfo, fault: X86Exception, from_hardware: boolean, advanced_exit_info: boolean, pml_full = false,
): EptInjection {
  let reason: number;
  let qual: bigint;
  if (pml_full) {
    // PML full and EPT violation both use bit 12 for NMI unblocking; only an EPT-violation exit can fill the log.
    if (vmcs02.reason !== EXIT_REASON.EPT_VIOLATION) t.warn('nested_ept_inject_page_fault-pml-full-not-ept-violation', { reason: vmcs02.reason });
    reason = EXIT_REASON.PML_FULL;
    qual = vmcs02.qual & BigInt(EPT_VIOLATION.NMI_UNBLOCK_IRET);
  } else if ((fault.error_code & PFERR.RSVD) !== 0n) {
    reason = EXIT_REASON.EPT_MISCONFIG;
    qual = 0n;
  } else {
    let mask = BigInt(EPT_VIOLATION.GVA_IS_VALID | EPT_VIOLATION.GVA_TRANSLATED);
    if (advanced_exit_info) mask |= BigInt(EPT_VIOLATION.GVA_USER | EPT_VIOLATION.GVA_WRITABLE | EPT_VIOLATION.GVA_NX);
    const walker = BigInt.asUintN(64, fault.exit_qualification);
    const hw = BigInt.asUintN(64, vmcs02.qual);
    if (has(p, 'vmx-ept-gva-bits-synthesized')) qual = (walker & ~mask) | ((from_hardware ? hw : walker) & mask);
    else {
      // Before 96b067b59ad9 the walker did not synthesize bits 7–8; the injector took them from vmcs02.
      const gva = BigInt(EPT_VIOLATION.GVA_IS_VALID | EPT_VIOLATION.GVA_TRANSLATED);
      qual = (walker & ~gva) | (hw & gva);
    }
    reason = EXIT_REASON.EPT_VIOLATION;
  }
  const out = { reason, qual, gpa: BigInt.asUintN(64, fault.address), gla: vmcs02.gla };
  t.emit('nested_ept_inject_page_fault', { reason, qual, gpa: out.gpa, from_hardware });
  return out;
}

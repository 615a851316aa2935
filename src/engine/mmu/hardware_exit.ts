// What the CPU itself writes into vmcb02 / vmcs02 when an L2 access exits to L0: the hardware #NPF
// or EPT violation for a fault in the shadow of L1's nested TDP, and the exit L0's own missing
// mapping of an MMIO page causes. These are the "from hardware" exit fields KVM may reflect, and the
// stale fields a later synthesized fault must not read. Spec: svm.md §5.2, vmx-mmu.md §3.1–3.3.

import { EPT_VIOLATION } from '../../arch/vmx/eptp.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import type { SvmExitInfo, VmxExitInfo } from './inject.ts';
import { PFERR } from './types.ts';
import type { WalkResult } from './walker.ts';

const SVM_EXIT_NPF = 0x400n;

/**
 * The byte address the CPU reports for a failed nested translation: the guest PTE's GPA for a
 * paging-structure access, the accessed GPA for the final one (SDM §29.3.3.2 "guest-physical
 * address"; APM §15.25.6 EXITINFO2). KVM's walker hands the nested walk page-aligned GPAs instead.
 */
function cpuFaultGpa(r: WalkResult & { ok: false }, gva: bigint): bigint {
  if (r.stage === 'nested-page') {
    const lvl = r.levels[r.levels.length - 1];
    return lvl ? lvl.pte_gpa : r.fault.address;
  }
  return r.fault.address | (gva & 0xfffn);
}

/** The hardware #NPF: exit_info_1 = the fault's P/W/U/RSVD/ID bits plus its stage, exit_info_2 = the GPA. */
export function hardwareNpf(r: WalkResult & { ok: false }, gva: bigint): SvmExitInfo {
  const stage = r.stage === 'nested-page' ? PFERR.GUEST_PAGE : PFERR.GUEST_FINAL;
  const bits = BigInt.asUintN(64, r.fault.error_code) & 0x1fn;
  return { exit_code: SVM_EXIT_NPF, exit_info_1: stage | bits, exit_info_2: cpuFaultGpa(r, gva) };
}

/** The hardware EPT violation / misconfig: access and permission bits, GVA valid, translated per stage. */
export function hardwareEpt(r: WalkResult & { ok: false }, gva: bigint): VmxExitInfo {
  const gpa = cpuFaultGpa(r, gva);
  if ((r.fault.error_code & PFERR.RSVD) !== 0n) return { reason: EXIT_REASON.EPT_MISCONFIG, qual: 0n, gpa, gla: 0n };
  const lowBits = BigInt.asUintN(64, r.fault.exit_qualification) & 0x7fn;
  const gvaBits = BigInt(EPT_VIOLATION.GVA_IS_VALID) | (r.stage === 'nested-final' ? BigInt(EPT_VIOLATION.GVA_TRANSLATED) : 0n);
  return { reason: EXIT_REASON.EPT_VIOLATION, qual: lowBits | gvaBits, gpa, gla: gva };
}

/**
 * The exit an L2 access to an L1 GPA outside L1's memslots causes: L0 has no shadow entry for the
 * page (the first touch of emulated MMIO), so the final translation of L0's own TDP faults "not
 * present". NPT walks are user walks (APM §15.25.5), hence U; the stage is FINAL / GVA translated.
 */
export function hardwareMmioExit(flavour: 'svm' | 'vmx', gpa: bigint, gva: bigint, access: bigint): { svm: SvmExitInfo; vmx: VmxExitInfo } {
  const write = (access & PFERR.WRITE) !== 0n;
  const fetch = (access & PFERR.FETCH) !== 0n;
  const svm: SvmExitInfo = {
    exit_code: SVM_EXIT_NPF,
    exit_info_1: PFERR.GUEST_FINAL | PFERR.USER | (write ? PFERR.WRITE : 0n) | (fetch ? PFERR.FETCH : 0n),
    exit_info_2: gpa,
  };
  const acc = write ? EPT_VIOLATION.ACC_WRITE : fetch ? EPT_VIOLATION.ACC_INSTR : EPT_VIOLATION.ACC_READ;
  const vmx: VmxExitInfo = { reason: EXIT_REASON.EPT_VIOLATION, qual: BigInt(acc | EPT_VIOLATION.GVA_IS_VALID | EPT_VIOLATION.GVA_TRANSLATED), gpa, gla: gva };
  return flavour === 'svm' ? { svm, vmx: { reason: 0, qual: 0n, gpa: 0n, gla: 0n } } : { svm: { exit_code: 0n, exit_info_1: 0n, exit_info_2: 0n }, vmx };
}

/** __vmx_handle_ept_violation / svm_npf_intercept: the error code L0's MMU walks the reported GPA with. */
export function hwErrorCode(flavour: 'svm' | 'vmx', svm: SvmExitInfo | null, vmx: VmxExitInfo | null): bigint {
  if (flavour === 'svm' && svm) return svm.exit_info_1;
  if (!vmx) return 0n;
  const q = vmx.qual;
  let ec = 0n;
  if ((q & BigInt(EPT_VIOLATION.ACC_WRITE)) !== 0n) ec |= PFERR.WRITE;
  if ((q & BigInt(EPT_VIOLATION.ACC_INSTR)) !== 0n) ec |= PFERR.FETCH;
  if ((q & BigInt(EPT_VIOLATION.PROT_READ | EPT_VIOLATION.PROT_WRITE | EPT_VIOLATION.PROT_EXEC)) !== 0n) ec |= PFERR.PRESENT;
  if ((q & BigInt(EPT_VIOLATION.GVA_IS_VALID)) !== 0n) ec |= (q & BigInt(EPT_VIOLATION.GVA_TRANSLATED)) !== 0n ? PFERR.GUEST_FINAL : PFERR.GUEST_PAGE;
  return ec;
}

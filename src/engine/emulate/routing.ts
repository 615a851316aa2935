// Whether L1 wants the exit an L2 instruction or exception causes, and the exit information L1 then
// gets. SVM: nested_svm_intercept (vmcb12 intercept bits, nested_svm_intercept_ioio on L1's IOPM,
// nested_svm_exit_handled_msr on L1's MSRPM), exception intercepts; APM §15.9–15.12 and Appendix C.
// VMX: nested_vmx_l1_wants_exit (CPUID and VMCALL exit unconditionally, SDM §26.1.2; HLT / INVLPG /
// CR3-load exiting, §26.1.3; I/O and MSR bitmaps) and nested_vmx_is_exception_vmexit with
// nested_vmx_is_page_fault_vmexit's PFEC mask/match rule (SDM §25.2), on the u16 error code.

import { SVM_EXIT } from '../../arch/svm/exit_codes.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import type { SvmExitInfo, VmxExitInfo } from '../mmu/inject.ts';
import type { PhysMem } from '../mmu/types.ts';
import { nested_svm_exit_handled_msr, nested_svm_intercept_ioio, nested_vmx_check_io_bitmaps, nested_vmx_exit_handled_msr } from './l1_bitmaps.ts';
import { svmIoioExitInfo, vmxIoExitInfo, type IoInsn } from './string_io.ts';
import type { L1Controls, L2Op } from './l2_insn.ts';

export interface VmxL1Exit extends VmxExitInfo {
  /** VM-exit interruption information (exception exits), 0 otherwise. */
  intr_info: number;
  /** VM-exit interruption error code. */
  error_code: number;
}

/** An exit reflected to L1: the vmcb12 / vmcs12 exit fields (one of the two, by flavour). */
export interface L1Exit {
  what: string;
  svm: SvmExitInfo | null;
  vmx: VmxL1Exit | null;
}

const VEC_PF = 14;
/** Vectors that push an error code (SDM §6.13). */
const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

function svmExit(what: string, code: number, info1: bigint, info2: bigint): L1Exit {
  return { what, svm: { exit_code: BigInt(code), exit_info_1: info1, exit_info_2: info2 }, vmx: null };
}

function vmxExit(what: string, reason: number, qual: bigint, extra: Partial<VmxL1Exit> = {}): L1Exit {
  return { what, svm: null, vmx: { reason, qual, gpa: 0n, gla: 0n, intr_info: 0, error_code: 0, ...extra } };
}

/**
 * The exit an L2 instruction gives L1 when L1 intercepts it; null when L0 handles it for L2. L1's
 * I/O and MSR bitmaps are read from `mem` (L1 memory). `ioFirstPortOnly`: the mutant that tests only
 * the first port of a multi-byte access.
 */
export function l1_wants_insn_exit(flavour: 'svm' | 'vmx', op: L2Op, l1: L1Controls, mem: PhysMem, rip: bigint, len: number, ioFirstPortOnly = false): L1Exit | null {
  const svm = flavour === 'svm';
  switch (op.op) {
    case 'cpuid':
      if (svm) return l1.cpuid ? svmExit('cpuid', SVM_EXIT.CPUID, 0n, 0n) : null;
      return vmxExit('cpuid', EXIT_REASON.CPUID, 0n);
    case 'hypercall':
      if (svm) return l1.hypercall ? svmExit('vmmcall', SVM_EXIT.VMMCALL, 0n, 0n) : null;
      return vmxExit('vmcall', EXIT_REASON.VMCALL, 0n);
    case 'hlt':
      if (!l1.hlt) return null;
      return svm ? svmExit('hlt', SVM_EXIT.HLT, 0n, 0n) : vmxExit('hlt', EXIT_REASON.HLT, 0n);
    case 'invlpg':
      // APM §15.33 (decode assists): EXITINFO1 = the linear address; SDM Table 28-1: the qualification.
      if (!l1.invlpg) return null;
      return svm ? svmExit('invlpg', SVM_EXIT.INVLPG, op.gva, 0n) : vmxExit('invlpg', EXIT_REASON.INVLPG, op.gva);
    case 'mov-cr3':
      // APM §15.33: EXITINFO1 bit 63 = MOV CRx, bits 3:0 = GPR (RAX). SDM Table 28-3: CR 3, type 0 (MOV to CR), GPR 0.
      if (!l1.cr3_load) return null;
      return svm ? svmExit('mov-cr3', SVM_EXIT.WRITE_CR3, 1n << 63n, 0n) : vmxExit('mov-cr3', EXIT_REASON.CR_ACCESS, 3n);
    case 'in':
    case 'out':
    case 'ins':
    case 'outs': {
      const wants = svm ? nested_svm_intercept_ioio(mem, l1, op.port, op.size, ioFirstPortOnly) : nested_vmx_check_io_bitmaps(mem, l1, op.port, op.size, ioFirstPortOnly);
      if (!wants) return null;
      const str = op.op === 'ins' || op.op === 'outs';
      const io: IoInsn = { kind: op.op, port: op.port, size: op.size, rep: str ? op.rep : 1, insn_len: len, rip };
      if (svm) return { what: op.op, svm: svmIoioExitInfo(io), vmx: null };
      return { what: op.op, svm: null, vmx: { ...vmxIoExitInfo(io, str ? op.gva : 0n), intr_info: 0, error_code: 0 } };
    }
    case 'rdmsr':
    case 'wrmsr': {
      const write = op.op === 'wrmsr';
      if (!(svm ? nested_svm_exit_handled_msr(mem, l1, op.msr, write) : nested_vmx_exit_handled_msr(mem, l1, op.msr, write))) return null;
      // APM §15.11: EXITINFO1 = 0 for RDMSR, 1 for WRMSR.
      if (svm) return svmExit(op.op, SVM_EXIT.MSR, write ? 1n : 0n, 0n);
      return vmxExit(op.op, write ? EXIT_REASON.MSR_WRITE : EXIT_REASON.MSR_READ, 0n);
    }
    case 'mov':
    case 'push':
    case 'pop':
      return null;
  }
}

/**
 * nested_vmx_is_page_fault_vmexit: with bit 14 of the exception bitmap set, a #PF exits iff
 * (PFEC & MASK) == MATCH; with it clear, iff they differ (SDM §25.2). KVM compares the u16 error code.
 */
export function nested_vmx_is_page_fault_vmexit(l1: L1Controls, error_code: bigint): boolean {
  const bit = (l1.exception_bitmap & (1 << VEC_PF)) !== 0;
  const ec = Number(error_code & 0xffffn);
  const inequality = (ec & l1.pfec_mask) !== l1.pfec_match;
  return inequality !== bit;
}

/** The exception exit L1 gets for an exception in L2 (vector, error code, #PF address), or null. */
export function l1_wants_exception_exit(flavour: 'svm' | 'vmx', l1: L1Controls, vector: number, error_code: bigint, address: bigint, pfecMatchInverted = false): L1Exit | null {
  const hasEc = HAS_ERROR_CODE.has(vector);
  if (flavour === 'svm') {
    if ((l1.exception_bitmap & (1 << vector)) === 0) return null;
    // APM §15.12: EXITINFO1 = the error code, EXITINFO2 = the faulting address for #PF.
    return svmExit(`exception ${vector}`, SVM_EXIT.EXCP_BASE + vector, hasEc ? BigInt.asUintN(32, error_code) : 0n, vector === VEC_PF ? address : 0n);
  }
  const wants = vector === VEC_PF ? nested_vmx_is_page_fault_vmexit(l1, error_code) !== pfecMatchInverted : (l1.exception_bitmap & (1 << vector)) !== 0;
  if (!wants) return null;
  // SDM §28.2.2: interruption information = vector | type 3 (hardware exception) | error code valid | valid.
  const intr_info = (vector | (3 << 8) | (hasEc ? 1 << 11 : 0) | (1 << 31)) >>> 0;
  return vmxExit(`exception ${vector}`, EXIT_REASON.EXCEPTION_NMI, vector === VEC_PF ? address : 0n, { intr_info, error_code: hasEc ? Number(error_code & 0xffffffffn) : 0 });
}

// L1's MSRs as kvm_emulate_msr_write / kvm_emulate_msr_read see them on the paths nested VMX takes
// (the VM-entry and VM-exit MSR-load lists, the VM-exit MSR-store list). Each known MSR names the
// rule KVM's kvm_set_msr_common / vmx_set_msr applies; an MSR outside the table is unknown to KVM,
// which fails the access (#GP for a WRMSR; for a list entry, the load fails at that index).

import { is_canonical, perf_global_ctrl_valid } from './nested/checks_host.ts';
import type { VmxL1 } from './scenario.ts';
import { kvm_pat_valid, kvm_valid_efer } from '../x86.ts';
import type { GuestCpuid } from '../svm/scenario.ts';
import { EFER } from '../../arch/svm/defs.ts';
import { BNDCFGS_RSVD, debugctl_valid } from './nested/checks_guest.ts';

export const MSR = {
  TSC: 0x10,
  SPEC_CTRL: 0x48,
  PRED_CMD: 0x49,
  UCODE_WRITE: 0x79,
  UCODE_REV: 0x8b,
  SMM_MONITOR_CTL: 0x9b,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  DEBUGCTL: 0x1d9,
  PAT: 0x277,
  PERF_GLOBAL_CTRL: 0x38f,
  BNDCFGS: 0xd90,
  SMBASE: 0x9e,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
  /** x2APIC registers 0x800-0x8ff (SDM §11.12.1.2). */
  X2APIC_FIRST: 0x800,
  X2APIC_LAST: 0x8ff,
} as const;

export interface MsrEnv {
  cpuid: GuestCpuid;
  mpx: boolean;
  pmu_gp_counters: number;
  pmu_fixed_counters: number;
}

function msrKey(index: number): string {
  return '0x' + (index >>> 0).toString(16);
}

function virtBits(env: MsrEnv): number {
  return env.cpuid.la57 ? 57 : 48;
}


/**
 * kvm_emulate_msr_write (host_initiated = false): true when the write is accepted and done. The rules
 * are __kvm_set_msr's canonical checks (SYSENTER_E[IS]P, LSTAR, CSTAR, KERNEL_GS_BASE, FS/GS base) and
 * each MSR's own validity (kvm_set_efer, kvm_pat_valid, vmx_set_msr for DEBUGCTL/BNDCFGS, the PMU).
 */
export function kvm_emulate_msr_write(l1: VmxL1, env: MsrEnv, index: number, value: bigint): boolean {
  const data = BigInt.asUintN(64, value);
  switch (index >>> 0) {
    case MSR.EFER: {
      // set_efer: kvm_valid_efer, and EFER.LME may not change while paging is on; LMA is KVM's.
      if (!kvm_valid_efer(data & ~EFER.LMA, env.cpuid)) return false;
      const paging = (l1.cr0 & (1n << 31n)) !== 0n;
      if (paging && ((data ^ l1.efer) & EFER.LME) !== 0n) return false;
      l1.efer = (data & ~EFER.LMA) | (l1.efer & EFER.LMA);
      return true;
    }
    case MSR.PAT:
      if (!kvm_pat_valid(data)) return false;
      l1.pat = data;
      return true;
    case MSR.SYSENTER_CS:
      l1.sysenter_cs = Number(data & 0xffffn);
      return true;
    case MSR.SYSENTER_ESP:
    case MSR.SYSENTER_EIP:
      if (!is_canonical(data, virtBits(env))) return false;
      if (index === MSR.SYSENTER_ESP) l1.sysenter_esp = data;
      else l1.sysenter_eip = data;
      return true;
    case MSR.DEBUGCTL:
      // vmx_set_msr → vmx_is_valid_debugctl: the guest may not set FREEZE_IN_SMM by WRMSR (KVM
      // preserves the host's bit instead); only the vmcs12 check has a quirk for it (0f70db0758be).
      if (!debugctl_valid(data, false)) return false;
      l1.debugctl = data;
      return true;
    case MSR.BNDCFGS:
      if (!env.mpx) return false;
      if ((data & BNDCFGS_RSVD) !== 0n || !is_canonical(data & ~0xfffn, virtBits(env))) return false;
      l1.bndcfgs = data;
      return true;
    case MSR.PERF_GLOBAL_CTRL:
      if (!perf_global_ctrl_valid(env.pmu_gp_counters, env.pmu_fixed_counters, data)) return false;
      l1.perf_global_ctrl = data;
      return true;
    case MSR.LSTAR:
    case MSR.CSTAR:
    case MSR.KERNEL_GS_BASE:
      if (!is_canonical(data, virtBits(env))) return false;
      l1.msrs[msrKey(index)] = data;
      return true;
    case MSR.STAR:
    case MSR.SFMASK:
    case MSR.TSC:
      l1.msrs[msrKey(index)] = data;
      return true;
    case MSR.TSC_AUX:
      // kvm_set_msr_common: needs RDTSCP (or RDPID); bits 63:32 are reserved on Intel.
      if (!env.cpuid.rdtscp || data >> 32n !== 0n) return false;
      l1.msrs[msrKey(index)] = data;
      return true;
    case MSR.SPEC_CTRL:
      // IBRS | STIBP | SSBD.
      if ((data & ~7n) !== 0n) return false;
      l1.msrs[msrKey(index)] = data;
      return true;
    case MSR.PRED_CMD:
      // IBPB is a command: only 0 or 1, nothing is stored.
      return data <= 1n;
    default:
      return false;
  }
}

/** kvm_emulate_msr_read: the value, or null for an MSR KVM does not know (the read fails). */
export function kvm_emulate_msr_read(l1: VmxL1, env: MsrEnv, index: number): bigint | null {
  switch (index >>> 0) {
    case MSR.EFER: return l1.efer;
    case MSR.PAT: return l1.pat;
    case MSR.SYSENTER_CS: return BigInt(l1.sysenter_cs);
    case MSR.SYSENTER_ESP: return l1.sysenter_esp;
    case MSR.SYSENTER_EIP: return l1.sysenter_eip;
    case MSR.DEBUGCTL: return l1.debugctl;
    case MSR.BNDCFGS: return env.mpx ? l1.bndcfgs : null;
    case MSR.PERF_GLOBAL_CTRL: return l1.perf_global_ctrl;
    case MSR.FS_BASE: return l1.seg.fs.base;
    case MSR.GS_BASE: return l1.seg.gs.base;
    case MSR.TSC_AUX: return env.cpuid.rdtscp ? (l1.msrs[msrKey(index)] ?? 0n) : null;
    case MSR.LSTAR: case MSR.CSTAR: case MSR.KERNEL_GS_BASE: case MSR.STAR: case MSR.SFMASK: case MSR.TSC: case MSR.SPEC_CTRL:
      return l1.msrs[msrKey(index)] ?? 0n;
    default:
      return null;
  }
}

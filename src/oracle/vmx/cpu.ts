// The emulated Intel CPU as the engine must see it: CPUID and the VMX capability MSRs the harness
// read at boot (harness/vmx.asm "@NF C" / "@NF M" lines) become the engine's L1 — its guest CPUID,
// MAXPHYADDR and the nested capability MSRs KVM would advertise — so a verdict difference is never
// a feature-set mismatch (KVM's checks consult exactly these: nested_vmx_check_controls against
// nested.msrs, __kvm_is_valid_cr4 and kvm_vcpu_is_legal_gpa against guest CPUID).

import { MSR_IA32_VMX, type NestedVmxMsrs, VMX_BASIC } from '../../arch/vmx/caps.ts';
import type { VmxGuestFacts } from '../../engine/vmx/ctx.ts';
import { cpuFromCpuid } from '../cpu.ts';
import { VMX_CAP_MSRS } from '../layout.ts';

export interface OracleVmxCpu {
  model: string;
  maxphyaddr: number;
  guest: VmxGuestFacts;
  caps: NestedVmxMsrs;
  /** The capability MSRs as dumped, by index (absent: the model #GPs on it). */
  msrs: Map<number, bigint>;
  cpuid: number[][];
}

const ALL_ONES = 0xffffffffffffffffn;

/** VMX_CAP_MSRS order → index map, dropping MSRs that read as all-ones (#GP in the harness). */
export function capsByIndex(dump: readonly bigint[]): Map<number, bigint> {
  const m = new Map<number, bigint>();
  VMX_CAP_MSRS.forEach((idx, k) => {
    const v = dump[k];
    if (v !== undefined && v !== ALL_ONES) m.set(idx, v);
  });
  return m;
}

const lo = (v: bigint): number => Number(v & 0xffffffffn);
const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);

/**
 * NestedVmxMsrs holds the TRUE control values (SDM A.3.1: with IA32_VMX_BASIC[55] the TRUE MSRs
 * say which default1 controls may be 0); without bit 55 the plain MSRs are the true ones.
 */
export function vmxCpuFromDump(model: string, cpuid: number[][], dump: readonly bigint[]): OracleVmxCpu {
  const msrs = capsByIndex(dump);
  const X = MSR_IA32_VMX;
  const get = (i: number): bigint => msrs.get(i) ?? 0n;
  const basic = get(X.BASIC);
  const trueCtls = (basic & VMX_BASIC.TRUE_CTLS) !== 0n;
  const ctl = (plain: number, tru: number): bigint => (trueCtls && msrs.has(tru) ? get(tru) : get(plain));
  const pin = ctl(X.PINBASED_CTLS, X.TRUE_PINBASED_CTLS);
  const proc = ctl(X.PROCBASED_CTLS, X.TRUE_PROCBASED_CTLS);
  const exit = ctl(X.EXIT_CTLS, X.TRUE_EXIT_CTLS);
  const entry = ctl(X.ENTRY_CTLS, X.TRUE_ENTRY_CTLS);
  // SDM A.3.3: IA32_VMX_PROCBASED_CTLS2 exists only if the secondary controls may be 1.
  const proc2 = (hi(proc) & 0x80000000) !== 0 ? get(X.PROCBASED_CTLS2) : 0n;
  const eptVpid = get(X.EPT_VPID_CAP);
  const misc = get(X.MISC);
  const caps: NestedVmxMsrs = {
    pinbasedCtlsLow: lo(pin), pinbasedCtlsHigh: hi(pin),
    procbasedCtlsLow: lo(proc), procbasedCtlsHigh: hi(proc),
    secondaryCtlsLow: lo(proc2), secondaryCtlsHigh: hi(proc2),
    exitCtlsLow: lo(exit), exitCtlsHigh: hi(exit),
    entryCtlsLow: lo(entry), entryCtlsHigh: hi(entry),
    miscLow: lo(misc), miscHigh: hi(misc),
    eptCaps: lo(eptVpid), vpidCaps: hi(eptVpid),
    basic,
    cr0Fixed0: get(X.CR0_FIXED0), cr0Fixed1: get(X.CR0_FIXED1), cr4Fixed0: get(X.CR4_FIXED0), cr4Fixed1: get(X.CR4_FIXED1),
    vmcsEnum: get(X.VMCS_ENUM),
    vmfuncControls: msrs.get(X.VMFUNC) ?? 0n,
  };
  const base = cpuFromCpuid(model, cpuid);
  const guest: VmxGuestFacts = {
    maxphyaddr: base.maxphyaddr,
    cpuid: { ...base.guest, vmx: true, svm: false, npt: false },
    // Not dumped: the model has no MPX and Bochs models no performance counters.
    mpx: false, pmu_gp_counters: 0, pmu_fixed_counters: 0, quirk_allow_freeze_in_smm: false,
  };
  return { model, maxphyaddr: base.maxphyaddr, guest, caps, msrs, cpuid };
}

/** The dump back as (index, value) pairs in oracle.md §6's vocabulary, for the report. */
export function describeVmxCaps(cpu: OracleVmxCpu): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, v] of cpu.msrs) out[`0x${i.toString(16)}`] = `0x${v.toString(16).padStart(16, '0')}`;
  return out;
}

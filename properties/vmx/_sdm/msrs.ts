// The virtual processor's MSRs as the VM-entry MSR-load list (SDM §27.4) sees them: for each MSR it
// implements, when WRMSR (CR0.PE = 1, CPL 0, not in SMM) raises #GP for a value. An MSR absent from
// this table is not implemented: WRMSR to it raises #GP. Rules from SDM vol. 4 (MSR tables) and the
// WRMSR instruction reference; written for this model only.

import { CR0, EFER } from '../../../src/arch/svm/defs.ts';
import { VM_ENTRY } from '../../../src/arch/vmx/controls.ts';
import {
  DEBUGCTL_SUPPORTED, U64, bndcfgsOk, canonical, eferSupported, has32, patValid, perfGlobalCtrlOk, type View,
} from './helpers.ts';
import type { MsrLoadState } from './types.ts';

export const MSR_INDEX = {
  TSC: 0x10,
  SPEC_CTRL: 0x48,
  PRED_CMD: 0x49,
  BIOS_UPDT_TRIG: 0x79,
  BIOS_SIGN_ID: 0x8b,
  SMM_MONITOR_CTL: 0x9b,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  DEBUGCTL: 0x1d9,
  PAT: 0x277,
  PERF_GLOBAL_CTRL: 0x38f,
  BNDCFGS: 0xd90,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
} as const;

export interface MsrRow {
  index: number;
  name: string;
  /** Why WRMSR of `value` raises #GP (paraphrased). */
  gpRule: string;
  gp: (value: bigint, x: View, st: MsrLoadState) => boolean;
  /** State later entries see after a successful load. */
  apply?: (value: bigint, st: MsrLoadState) => void;
}

const M = MSR_INDEX;
const canon = (v: bigint, x: View): boolean => canonical(v, x.vaBits);

export const WRMSR_TABLE: readonly MsrRow[] = [
  { index: M.TSC, name: 'IA32_TIME_STAMP_COUNTER', gpRule: 'any 64-bit value is accepted', gp: () => false },
  { index: M.SPEC_CTRL, name: 'IA32_SPEC_CTRL', gpRule: 'bits other than IBRS (0), STIBP (1), SSBD (2) are reserved', gp: (v) => (v & ~7n & U64) !== 0n },
  { index: M.PRED_CMD, name: 'IA32_PRED_CMD', gpRule: 'write-only command: only IBPB (bit 0) may be set', gp: (v) => v > 1n },
  { index: M.SYSENTER_CS, name: 'IA32_SYSENTER_CS', gpRule: 'any value (bits 15:0 used)', gp: () => false },
  { index: M.SYSENTER_ESP, name: 'IA32_SYSENTER_ESP', gpRule: 'must be canonical', gp: (v, x) => !canon(v, x) },
  { index: M.SYSENTER_EIP, name: 'IA32_SYSENTER_EIP', gpRule: 'must be canonical', gp: (v, x) => !canon(v, x) },
  { index: M.DEBUGCTL, name: 'IA32_DEBUGCTL', gpRule: 'bits the processor does not implement are reserved', gp: (v) => (v & ~DEBUGCTL_SUPPORTED & U64) !== 0n },
  { index: M.PAT, name: 'IA32_PAT', gpRule: 'each byte must be a valid memory type (0,1,4,5,6,7)', gp: (v) => !patValid(v) },
  {
    index: M.PERF_GLOBAL_CTRL, name: 'IA32_PERF_GLOBAL_CTRL', gpRule: 'only enable bits of existing GP (0..) and fixed (32..) counters',
    gp: (v, x) => !perfGlobalCtrlOk(v, x.s.guest.pmu_gp_counters, x.s.guest.pmu_fixed_counters),
  },
  { index: M.BNDCFGS, name: 'IA32_BNDCFGS', gpRule: 'needs MPX; bits 11:2 reserved; base canonical', gp: (v, x) => !x.s.guest.mpx || !bndcfgsOk(v, x.vaBits) },
  {
    index: M.EFER, name: 'IA32_EFER',
    gpRule: 'reserved bits (other than SCE, LME, LMA, NXE as enumerated) must be 0; LME may not change while CR0.PG = 1; LMA is read-only (writes ignored)',
    gp: (v, x, st) => {
      if ((v & ~eferSupported(x.cpu) & U64) !== 0n) return true;
      return (x.g.cr0 & CR0.PG) !== 0n && ((v ^ st.efer) & EFER.LME) !== 0n;
    },
    apply: (v, st) => { st.efer = (v & ~EFER.LMA) | (st.efer & EFER.LMA); },
  },
  { index: M.STAR, name: 'IA32_STAR', gpRule: 'any value', gp: () => false },
  { index: M.LSTAR, name: 'IA32_LSTAR', gpRule: 'must be canonical', gp: (v, x) => !canon(v, x) },
  { index: M.CSTAR, name: 'IA32_CSTAR', gpRule: 'must be canonical', gp: (v, x) => !canon(v, x) },
  { index: M.SFMASK, name: 'IA32_FMASK', gpRule: 'any value', gp: () => false },
  { index: M.KERNEL_GS_BASE, name: 'IA32_KERNEL_GS_BASE', gpRule: 'must be canonical', gp: (v, x) => !canon(v, x) },
  { index: M.TSC_AUX, name: 'IA32_TSC_AUX', gpRule: 'needs RDTSCP; bits 63:32 reserved', gp: (v, x) => !x.cpu.rdtscp || v >> 32n !== 0n },
];

const BY_INDEX: ReadonlyMap<number, MsrRow> = new Map(WRMSR_TABLE.map((r) => [r.index, r]));

export function msrRow(index: number): MsrRow | undefined {
  return BY_INDEX.get(index >>> 0);
}

/** WRMSR(index, value) would raise #GP on the virtual processor (unimplemented MSR included). */
export function wrmsrFaults(index: number, value: bigint, x: View, st: MsrLoadState): boolean {
  const r = msrRow(index);
  return r === undefined || r.gp(BigInt.asUintN(64, value), x, st);
}

/**
 * IA32_EFER as it is once guest state is loaded (SDM §27.3.2.1): the field when "load IA32_EFER" is 1;
 * otherwise L1's EFER with LMA := IA-32e mode guest and, if guest CR0.PG = 1, LME := IA-32e mode guest.
 */
export function eferAfterGuestLoad(x: View): bigint {
  if (has32(x.entry, VM_ENTRY.LOAD_IA32_EFER)) return BigInt.asUintN(64, x.v.guest_ia32_efer);
  let e = BigInt.asUintN(64, x.s.l1.efer) & ~EFER.LMA;
  if (x.ia32eGuest) e |= EFER.LMA;
  if ((x.g.cr0 & CR0.PG) !== 0n) e = x.ia32eGuest ? e | EFER.LME : e & ~EFER.LME;
  return e;
}

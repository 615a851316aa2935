// Architectural facts the APM rules are written with (no KVM behaviour here).


import { CR0, EFER, MISC_CTL, SEG_ATTR, VEC } from '../../../src/arch/svm/defs.ts';
import { type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import type { L1State } from '../../../src/engine/svm/scenario.ts';

// ---------------------------------------------------------------------------------------------
// Architectural helpers (APM facts; written here, not taken from the engine)

export const U64 = (1n << 64n) - 1n;
export const bits = (...ns: number[]): bigint => ns.reduce((m, n) => m | (1n << BigInt(n)), 0n);

/** A physical address is legal when no bit at or above MAXPHYADDR is set. */
export function physLegal(pa: bigint, maxphyaddr: number): boolean {
  return pa >> BigInt(maxphyaddr) === 0n;
}

/** CR4 bits the APM defines (Figure "Control Register 4"): all others are reserved, MBZ. */
export const APM_CR4_DEFINED = bits(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 20, 21, 22, 23);
export const APM_CR4_MBZ = U64 & ~APM_CR4_DEFINED;

/** EFER bits the APM defines (SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE, MCOMMIT, INTWB, UAIE, AIBRSE). */
export const APM_EFER_DEFINED = bits(0, 8, 10, 11, 12, 13, 14, 15, 17, 18, 20, 21);
export const APM_EFER_MBZ = U64 & ~APM_EFER_DEFINED;

/** Vectors the APM's exception table defines as exceptions (NMI, 2, is an interrupt; 9, 15, 20, 22–27, 31 reserved). */
export const APM_EXCEPTION_VECTORS: ReadonlySet<number> = new Set([
  VEC.DE, VEC.DB, VEC.BP, VEC.OF, VEC.BR, VEC.UD, VEC.NM, VEC.DF, VEC.TS, VEC.NP, VEC.SS, VEC.GP, VEC.PF,
  VEC.MF, VEC.AC, VEC.MC, VEC.XM, VEC.CP, VEC.HV, VEC.VC, VEC.SX,
]);

/** EVENTINJ TYPE values the APM defines: 0 INTR, 2 NMI, 3 exception, 4 software interrupt. */
export const APM_EVENT_TYPES: ReadonlySet<number> = new Set([0, 2, 3, 4]);

/** PAT memory types (APM "PAT Register"): 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-; the rest are reserved. */
export const PAT_TYPES: ReadonlySet<number> = new Set([0, 1, 4, 5, 6, 7]);

export function patValid(pat: bigint): boolean {
  for (let i = 0n; i < 64n; i += 8n) if (!PAT_TYPES.has(Number((pat >> i) & 0xffn))) return false;
  return true;
}

/** Bits 11:0 of the permission-map bases are ignored (APM 15.10.1, 15.11). */
export const pageBase = (pa: bigint): bigint => pa & ~0xfffn;

/** The last byte of a permission map at `base` of `size` bytes lies at or beyond MAXPHYADDR. */
export function mapBeyondLimit(base: bigint, size: number, maxphyaddr: number): boolean {
  const b = pageBase(base);
  return !physLegal(b, maxphyaddr) || !physLegal(b + BigInt(size) - 1n, maxphyaddr);
}

export const np = (vmcb12: Vmcb): boolean => (vmcb12.control.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
export const lmePg = (vmcb12: Vmcb): boolean => (vmcb12.save.efer & EFER.LME) !== 0n && (vmcb12.save.cr0 & CR0.PG) !== 0n;
export const csL = (vmcb12: Vmcb): boolean => (vmcb12.save.cs.attrib & SEG_ATTR.L) !== 0;
export const csD = (vmcb12: Vmcb): boolean => (vmcb12.save.cs.attrib & SEG_ATTR.DB) !== 0;

/** 64-bit mode: EFER.LMA and CS.L. Outside it VMRUN's address comes from EAX. */
export function l1In64BitMode(l1: L1State): boolean {
  return (l1.efer & EFER.LMA) !== 0n && (l1.cs_attrib & SEG_ATTR.L) !== 0;
}

export function vmcb12GpaFromRax(l1: L1State): bigint {
  return l1In64BitMode(l1) ? l1.rax & U64 : l1.rax & 0xffffffffn;
}

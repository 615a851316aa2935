// Facts the SDM rules consult, derived once from a VmxScenario: the VMCS fields as the rules name
// them, the capability MSRs as the virtual processor reports them, L1's memory, and small
// architectural predicates (canonical, page-aligned, PAT, segment access rights).
//
// Written from the SDM (vol. 3C ch. 25–27, vol. 3D App. A, vol. 4 MSR tables); it shares no code with
// src/engine: only types and architectural constants are imported.

import { CR0, CR4, EFER, RFLAGS } from '../../../src/arch/svm/defs.ts';
import type { NestedVmxMsrs } from '../../../src/arch/vmx/caps.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../../src/arch/vmx/controls.ts';
import { INTR_INFO } from '../../../src/arch/vmx/intr_info.ts';
import type { Vmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import type { VmxScenario, VmxSegName } from '../../../src/engine/vmx/scenario.ts';

export const U64 = (1n << 64n) - 1n;
export const INVALID_GPA = 0xffff_ffff_ffff_ffffn;

export const bit = (n: number): bigint => 1n << BigInt(n);
export const has32 = (v: number, mask: number): boolean => ((v >>> 0) & mask) !== 0;
export const has64 = (v: bigint, mask: bigint): boolean => (BigInt.asUintN(64, v) & mask) !== 0n;

// ---------------------------------------------------------------------------------------------
// Addresses

/** No bit at or above MAXPHYADDR is set (SDM: "must not set any bits beyond the processor's physical-address width"). */
export function withinWidth(addr: bigint, maxphyaddr: number): boolean {
  return BigInt.asUintN(64, addr) >> BigInt(maxphyaddr) === 0n;
}

/** Bits 11:0 are 0 and the address is within the physical-address width. */
export function pageAddrOk(addr: bigint, maxphyaddr: number): boolean {
  return (BigInt.asUintN(64, addr) & 0xfffn) === 0n && withinWidth(addr, maxphyaddr);
}

/** Bits 63:N-1 all equal (a canonical N-bit linear address). */
export function canonical(x: bigint, n: number): boolean {
  const v = BigInt.asUintN(64, x);
  return BigInt.asUintN(64, BigInt.asIntN(n, v)) === v;
}

/** Every byte is a PAT memory type: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC- (SDM §13.12.2). */
export function patValid(pat: bigint): boolean {
  for (let i = 0n; i < 8n; i++) {
    const t = Number((BigInt.asUintN(64, pat) >> (i * 8n)) & 0xffn);
    if (t !== 0 && t !== 1 && t !== 4 && t !== 5 && t !== 6 && t !== 7) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// L1 memory (8-byte words keyed by aligned GPA; absent words read as 0)

export class L1Memory {
  constructor(private readonly words: Record<string, bigint>, readonly ramTop: bigint) {}

  /** [gpa, gpa + len) lies inside L1's RAM. */
  inRam(gpa: bigint, len: number): boolean {
    return gpa >= 0n && gpa + BigInt(len) <= this.ramTop;
  }

  byte(gpa: bigint): number {
    const w = this.words['0x' + (gpa & ~7n).toString(16)] ?? 0n;
    return Number((BigInt.asUintN(64, w) >> ((gpa & 7n) * 8n)) & 0xffn);
  }

  /** Little-endian `len`-byte integer at `gpa`. */
  read(gpa: bigint, len: number): bigint {
    let x = 0n;
    for (let i = len - 1; i >= 0; i--) x = (x << 8n) | BigInt(this.byte(gpa + BigInt(i)));
    return x;
  }
}

// ---------------------------------------------------------------------------------------------
// Segments (VMX access-rights format, SDM §25.4.1)

export interface Seg {
  selector: number;
  base: bigint;
  limit: number;
  ar: number;
  type: number;
  s: boolean;
  dpl: number;
  p: boolean;
  l: boolean;
  db: boolean;
  g: boolean;
  unusable: boolean;
  rpl: number;
  ti: boolean;
}

export function seg(selector: number, base: bigint, limit: number, ar: number): Seg {
  const a = ar >>> 0;
  return {
    selector: selector & 0xffff, base: BigInt.asUintN(64, base), limit: limit >>> 0, ar: a,
    type: a & 0xf, s: (a & 0x10) !== 0, dpl: (a >>> 5) & 3, p: (a & 0x80) !== 0, l: (a & 0x2000) !== 0,
    db: (a & 0x4000) !== 0, g: (a & 0x8000) !== 0, unusable: (a & 0x10000) !== 0,
    rpl: selector & 3, ti: (selector & 4) !== 0,
  };
}

/** Limit/granularity consistency: limit[11:0] not all 1 ⇒ G = 0; limit[31:20] not all 0 ⇒ G = 1. */
export function granularityOk(sg: Seg): boolean {
  if ((sg.limit & 0xfff) !== 0xfff && sg.g) return false;
  if ((sg.limit >>> 20) !== 0 && !sg.g) return false;
  return true;
}

/** Access-rights bits 11:8 and 31:17 are reserved (0). */
export function arReservedClear(sg: Seg): boolean {
  return (sg.ar & 0xf00) === 0 && (sg.ar >>> 17) === 0;
}

const GUEST_SEGS: readonly VmxSegName[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'];

// ---------------------------------------------------------------------------------------------
// CR4 bits the virtual processor supports: in CR4_FIXED1 and, for feature bits, with the feature in
// CPUID (a real processor's CR4_FIXED1 reports exactly its CR4 features; this one's may not).

type Cpuid = VmxScenario['guest']['cpuid'];

/** CR4 bits that exist on every processor with VMX and long mode (VME..OSXMMEXCPT, PCE). */
const CR4_BASELINE = CR4.VME | CR4.PVI | CR4.TSD | CR4.DE | CR4.PSE | CR4.PAE | CR4.MCE | CR4.PGE | CR4.PCE
  | CR4.OSFXSR | CR4.OSXMMEXCPT;

/** CR4 feature bit → the CPUID feature that enumerates it (SDM vol. 3A §2.5 "Control Registers"; vol. 2A CPUID). */
export const CR4_FEATURE_BITS: readonly { bit: bigint; name: string; has: (c: Cpuid) => boolean }[] = [
  { bit: CR4.UMIP, name: 'UMIP', has: (c) => c.umip },
  { bit: CR4.LA57, name: 'LA57', has: (c) => c.la57 },
  { bit: CR4.VMXE, name: 'VMXE', has: (c) => c.vmx === true },
  { bit: CR4.SMXE, name: 'SMXE', has: () => false }, // no SMX in the virtual processor
  { bit: CR4.FSGSBASE, name: 'FSGSBASE', has: (c) => c.fsgsbase },
  { bit: CR4.PCIDE, name: 'PCIDE', has: (c) => c.pcid },
  { bit: CR4.OSXSAVE, name: 'OSXSAVE', has: (c) => c.xsave },
  { bit: CR4.SMEP, name: 'SMEP', has: (c) => c.smep },
  { bit: CR4.SMAP, name: 'SMAP', has: (c) => c.smap },
  { bit: CR4.PKE, name: 'PKE', has: (c) => c.pku },
  { bit: CR4.CET, name: 'CET', has: (c) => c.shstk },
  { bit: CR4.PKS, name: 'PKS', has: () => false }, // not enumerated by this CPUID model
  { bit: CR4.LAM_SUP, name: 'LAM_SUP', has: (c) => c.lam },
];

export function cr4Supported(caps: NestedVmxMsrs, cpu: Cpuid): bigint {
  let ok = CR4_BASELINE;
  for (const f of CR4_FEATURE_BITS) if (f.has(cpu)) ok |= f.bit;
  return ok & BigInt.asUintN(64, caps.cr4Fixed1);
}

/** Bits of a CR the FIXED0/FIXED1 pair forbids: a FIXED0 bit clear, or a bit outside FIXED1 set. */
export function fixedOk(v: bigint, fixed0: bigint, fixed1: bigint): boolean {
  const x = BigInt.asUintN(64, v);
  return (x & fixed0) === fixed0 && (x & ~BigInt.asUintN(64, fixed1) & U64) === 0n;
}

/** CR4 value legal for this processor: FIXED0 bits set, nothing outside its supported bits. */
export function cr4Ok(v: bigint, caps: NestedVmxMsrs, cpu: Cpuid): boolean {
  return fixedOk(v, caps.cr4Fixed0, cr4Supported(caps, cpu));
}

/** EFER bits an Intel 64 processor defines: SCE, LME/LMA (long mode), NXE (XD). */
export function eferSupported(cpu: Cpuid): bigint {
  let ok = EFER.SCE;
  if (cpu.lm) ok |= EFER.LME | EFER.LMA;
  if (cpu.nx) ok |= EFER.NX;
  return ok;
}

/** IA32_DEBUGCTL bits this virtual processor implements: LBR (0), BTF (1), FREEZE_WHILE_SMM (14). */
export const DEBUGCTL_SUPPORTED = bit(0) | bit(1) | bit(14);
export const DEBUGCTL_BTF = bit(1);

/** IA32_PERF_GLOBAL_CTRL: one enable bit per general-purpose counter (from 0) and per fixed counter (from 32). */
export function perfGlobalCtrlOk(v: bigint, gp: number, fixed: number): boolean {
  const ok = ((1n << BigInt(gp)) - 1n) | (((1n << BigInt(fixed)) - 1n) << 32n);
  return (BigInt.asUintN(64, v) & ~ok & U64) === 0n;
}

/** IA32_BNDCFGS: bits 11:2 reserved, base (63:12) canonical. */
export function bndcfgsOk(v: bigint, vaBits: number): boolean {
  const x = BigInt.asUintN(64, v);
  return (x & 0xffcn) === 0n && canonical(x & ~0xfffn, vaBits);
}

/** IA32_S_CET / IA32_U_CET: bits 9:6 reserved; SUPPRESS (10) and TRACKER (11) not both set. */
export function cetMsrOk(v: bigint): boolean {
  const x = BigInt.asUintN(64, v);
  return (x & 0x3c0n) === 0n && (x & 0xc00n) !== 0xc00n;
}

// ---------------------------------------------------------------------------------------------
// The view: every fact a rule names

export interface View {
  s: VmxScenario;
  v: Vmcs12;
  caps: NestedVmxMsrs;
  cpu: Cpuid;
  maxphyaddr: number;
  /** Linear-address width of the processor (57 with LA57 support): canonical checks of MSR-held addresses. */
  vaBits: number;
  mem: L1Memory;
  launch: boolean;
  misc: bigint;
  pin: number;
  proc: number;
  /** Secondary controls as in effect: 0 unless "activate secondary controls" is 1. */
  sec: number;
  exit: number;
  entry: number;
  ug: boolean;
  ept: boolean;
  /** IA-32e mode guest entry control. */
  ia32eGuest: boolean;
  /** Host address-space size exit control. */
  hostAs: boolean;
  /** Guest state as in the VMCS. */
  g: {
    cr0: bigint;
    cr4: bigint;
    rflags: bigint;
    v86: boolean;
    seg: Record<VmxSegName, Seg>;
    intr: number;
    activity: number;
    pendingDbg: bigint;
  };
  /** The VM-entry interruption-information field. */
  inj: { valid: boolean; type: number; vector: number; deliverEc: boolean; raw: number };
}

export function view(s: VmxScenario, launch: boolean): View {
  const v = s.vmcs12;
  const caps = s.caps;
  const proc = v.cpu_based_vm_exec_control >>> 0;
  const sec = (proc & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0 ? v.secondary_vm_exec_control >>> 0 : 0;
  const entry = v.vm_entry_controls >>> 0;
  const segs = {} as Record<VmxSegName, Seg>;
  const vr = v as unknown as Record<string, number | bigint>;
  for (const n of GUEST_SEGS) {
    segs[n] = seg(Number(vr[`guest_${n}_selector`]), BigInt(vr[`guest_${n}_base`]), Number(vr[`guest_${n}_limit`]), Number(vr[`guest_${n}_ar_bytes`]));
  }
  const ii = v.vm_entry_intr_info_field >>> 0;
  const rflags = BigInt.asUintN(64, v.guest_rflags);
  return {
    s, v, caps, cpu: s.guest.cpuid, maxphyaddr: s.guest.maxphyaddr, vaBits: s.guest.cpuid.la57 ? 57 : 48,
    mem: new L1Memory(s.mem, s.ram_top), launch,
    misc: BigInt(caps.miscLow >>> 0) | (BigInt(caps.miscHigh >>> 0) << 32n),
    pin: v.pin_based_vm_exec_control >>> 0, proc, sec, exit: v.vm_exit_controls >>> 0, entry,
    ug: (sec & SECONDARY.UNRESTRICTED_GUEST) !== 0,
    ept: (sec & SECONDARY.ENABLE_EPT) !== 0,
    ia32eGuest: (entry & VM_ENTRY.IA32E_MODE) !== 0,
    hostAs: ((v.vm_exit_controls >>> 0) & VM_EXIT.HOST_ADDR_SPACE_SIZE) !== 0,
    g: {
      cr0: BigInt.asUintN(64, v.guest_cr0), cr4: BigInt.asUintN(64, v.guest_cr4), rflags,
      v86: (rflags & RFLAGS.VM) !== 0n, seg: segs, intr: v.guest_interruptibility_info >>> 0,
      activity: v.guest_activity_state >>> 0, pendingDbg: BigInt.asUintN(64, v.guest_pending_dbg_exceptions),
    },
    inj: {
      valid: (ii & INTR_INFO.VALID) !== 0, type: (ii & INTR_INFO.TYPE_MASK) >>> INTR_INFO.TYPE_SHIFT,
      vector: ii & INTR_INFO.VECTOR_MASK, deliverEc: (ii & INTR_INFO.DELIVER_CODE) !== 0, raw: ii,
    },
  };
}

// Shorthands used by the rule tables.
export const pinHas = (x: View, m: number): boolean => has32(x.pin, m);
export const procHas = (x: View, m: number): boolean => has32(x.proc, m);
export const secHas = (x: View, m: number): boolean => has32(x.sec, m);
export const exitHas = (x: View, m: number): boolean => has32(x.exit, m);
export const entryHas = (x: View, m: number): boolean => has32(x.entry, m);
export const miscHas = (x: View, m: bigint): boolean => (x.misc & m) !== 0n;
export const guestPg = (x: View): boolean => (x.g.cr0 & CR0.PG) !== 0n;
export const guestPe = (x: View): boolean => (x.g.cr0 & CR0.PE) !== 0n;

/** Allowed-0/allowed-1 test of a 32-bit control against (must-be-1, may-be-1). */
export function ctlOk(value: number, low: number, high: number): boolean {
  const v = value >>> 0;
  return ((v & low) >>> 0) === (low >>> 0) && ((v & ~high) >>> 0) === 0;
}


// Shared helpers of the nested-VMX invariants: the L1 state SDM §28.5 says a VM exit (or a failed VM
// entry) loads, first-difference helpers over plain data, KVM's stage order of nested_vmx_run
// (spec vmx-mmu.md §2.2) with the check ids each stage owns, and small scenario readers.

import { EFER } from '../../src/arch/svm/defs.ts';
import { VM_EXIT } from '../../src/arch/vmx/controls.ts';
import type { Vmcs12 } from '../../src/arch/vmx/vmcs12.ts';
import { VMX_CONTROL_CHECK_IDS } from '../../src/engine/vmx/nested/checks_controls.ts';
import { VMX_GUEST_CHECK_IDS } from '../../src/engine/vmx/nested/checks_guest.ts';
import { VMX_HOST_CHECK_IDS } from '../../src/engine/vmx/nested/checks_host.ts';
import { VMX_HARDWARE_RULE_IDS } from '../../src/engine/vmx/nested/hardware.ts';
import { VMX_MSR_LIST_CHECK_IDS } from '../../src/engine/vmx/nested/msr_list.ts';
import { VMX_RUN_CHECK_IDS } from '../../src/engine/vmx/nested/run.ts';
import { VMX_PREPARE_CHECK_IDS } from '../../src/engine/vmx/nested/vmcs02.ts';
import { VMX_INSN_CHECK_IDS } from '../../src/engine/vmx/instructions.ts';
import type { VmxMsrWrite, VmxRunResult } from '../../src/engine/vmx/result.ts';
import { memKey, type VmxL1, type VmxScenario } from '../../src/engine/vmx/scenario.ts';

export const U64 = (x: bigint | number): bigint => BigInt.asUintN(64, typeof x === 'bigint' ? x : BigInt(Math.trunc(x)));
export const INVALID_GPA = 0xffffffffffffffffn;
export const FAILED_VMENTRY = 0x80000000;

// ---------------------------------------------------------------------------------------------
// First differences

/** Paths (a.b[c]) where two plain values differ, first `limit` of them, in key order. */
export function diffPaths(a: unknown, b: unknown, limit = 8, path = ''): string[] {
  const out: string[] = [];
  walk(a, b, path, out, limit);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (a === b) return;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) === !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out, limit);
    return;
  }
  out.push(path || '<root>');
}

/** Reads `a.b.c` from a plain object. */
export function getPath(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export const show = (x: unknown): string =>
  typeof x === 'bigint' ? '0x' + x.toString(16)
    : typeof x === 'number' ? '0x' + (x >>> 0).toString(16)
      : JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)) ?? 'undefined';

/** Expected-vs-got for every predicted path that differs (the first `limit`). */
export function mismatches(expected: Map<string, unknown>, got: unknown, limit = 8): { path: string; expected: string; got: string }[] {
  const out: { path: string; expected: string; got: string }[] = [];
  for (const [path, want] of expected) {
    const have = getPath(got, path);
    if (have !== want) out.push({ path, expected: show(want), got: show(have) });
    if (out.length >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// SDM §28.5 "Loading Host State" (written from the SDM text, not from the engine)

/** IA32 MSR indices whose value is an L1 register field the host-state load predicts. */
const MSR_FIELD: Record<number, string> = {
  0x174: 'sysenter_cs', 0x175: 'sysenter_esp', 0x176: 'sysenter_eip', 0x1d9: 'debugctl', 0x277: 'pat',
  0xd90: 'bndcfgs', 0x38f: 'perf_global_ctrl', 0xc0000080: 'efer', 0x6a2: 's_cet',
};

/**
 * The L1 state after a VM exit (or a VM exit for a failed VM entry), as path → value over VmxL1:
 * what SDM §28.5.1–28.5.3 fix, from vmcs12's host-state area. Only what the SDM pins down is
 * predicted (EFER without "load IA32_EFER": only LMA/LME, as `efer.lma` / `efer.lme` pseudo-paths).
 * Exit MSR-load list writes come afterwards (§28.6): a field one of them wrote is not predicted
 * (KVM's kvm_set_msr may normalise the value), other MSRs are predicted to hold the written value.
 */
export function expectedHostState(v: Vmcs12, _l1Before: VmxL1, exitLoads: readonly VmxMsrWrite[] = []): Map<string, unknown> {
  const e = new Map<string, unknown>();
  const exitCtl = v.vm_exit_controls >>> 0;
  const host64 = (exitCtl & VM_EXIT.HOST_ADDR_SPACE_SIZE) !== 0;
  // §28.5.1 control registers, debug registers, MSRs
  e.set('cr0', U64(v.host_cr0));
  e.set('cr3', U64(v.host_cr3));
  e.set('cr4', U64(v.host_cr4));
  e.set('dr7', 0x400n);
  e.set('debugctl', 0n);
  e.set('sysenter_cs', v.host_ia32_sysenter_cs >>> 0);
  e.set('sysenter_esp', U64(v.host_ia32_sysenter_esp));
  e.set('sysenter_eip', U64(v.host_ia32_sysenter_eip));
  if ((exitCtl & VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL) !== 0) e.set('perf_global_ctrl', U64(v.host_ia32_perf_global_ctrl));
  if ((exitCtl & VM_EXIT.LOAD_IA32_PAT) !== 0) e.set('pat', U64(v.host_ia32_pat));
  if ((exitCtl & VM_EXIT.LOAD_IA32_EFER) !== 0) e.set('efer', U64(v.host_ia32_efer));
  else {
    e.set('efer.lma', host64);
    e.set('efer.lme', host64);
  }
  if ((exitCtl & VM_EXIT.CLEAR_BNDCFGS) !== 0) e.set('bndcfgs', 0n);
  // §28.5.2 segment and descriptor-table registers
  const sel = (x: number): number => x & 0xffff;
  e.set('seg.cs.selector', sel(v.host_cs_selector));
  e.set('seg.cs.base', 0n);
  e.set('seg.cs.limit', 0xffffffff);
  e.set('seg.cs.ar', host64 ? 0xa09b : 0xc09b);
  for (const n of ['ss', 'ds', 'es', 'fs', 'gs'] as const) {
    e.set(`seg.${n}.selector`, sel(v[`host_${n}_selector`]));
    e.set(`seg.${n}.limit`, 0xffffffff);
    e.set(`seg.${n}.ar`, 0xc093);
  }
  for (const n of ['ss', 'ds', 'es'] as const) e.set(`seg.${n}.base`, 0n);
  e.set('seg.fs.base', U64(v.host_fs_base));
  e.set('seg.gs.base', U64(v.host_gs_base));
  e.set('seg.tr.selector', sel(v.host_tr_selector));
  e.set('seg.tr.base', U64(v.host_tr_base));
  e.set('seg.tr.limit', 0x67);
  e.set('seg.tr.ar', 0x8b);
  e.set('seg.ldtr.ar', 0x10000);
  e.set('gdtr.base', U64(v.host_gdtr_base));
  e.set('gdtr.limit', 0xffff);
  e.set('idtr.base', U64(v.host_idtr_base));
  e.set('idtr.limit', 0xffff);
  // §28.5.3 RIP, RSP, RFLAGS; the logical processor is at CPL 0 with no blocking.
  e.set('rip', U64(v.host_rip));
  e.set('rsp', U64(v.host_rsp));
  e.set('rflags', 0x2n);
  e.set('cpl', 0);
  e.set('interruptibility', 0);
  // §28.6 the VM-exit MSR-load list, in order.
  for (const w of exitLoads) {
    const f = MSR_FIELD[w.index >>> 0];
    if (f !== undefined) {
      for (const k of [...e.keys()]) if (k === f || k.startsWith(f + '.')) e.delete(k);
    } else {
      e.set(`msrs.0x${(w.index >>> 0).toString(16)}`, U64(w.value));
    }
  }
  return e;
}

/** mismatches() against an L1 view, resolving the efer.lma / efer.lme pseudo-paths. */
export function hostStateMismatches(expected: Map<string, unknown>, l1: VmxL1, skip: readonly string[] = []): { path: string; expected: string; got: string }[] {
  const lma = (l1.efer & EFER.LMA) !== 0n;
  const lme = (l1.efer & EFER.LME) !== 0n;
  const out: { path: string; expected: string; got: string }[] = [];
  for (const [path, want] of expected) {
    if (skip.includes(path)) continue;
    const have = path === 'efer.lma' ? lma : path === 'efer.lme' ? lme : getPath(l1, path);
    if (have !== want) out.push({ path, expected: show(want), got: show(have) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// KVM's stage order of nested_vmx_run (spec §2.2)

export const STAGES = [
  'fault', // #UD / #GP (nested_vmx_check_permission)
  'vmfail-invalid', // no current VMCS, shadow VMCS
  'vmfail-26', // MOV-SS blocking
  'vmfail-4-5', // launch state
  'vmfail-7', // nested_vmx_check_controls
  'vmfail-8', // address-space size, host state
  'pages', // nested_get_vmcs12_pages (KVM_EXIT_INTERNAL_ERROR)
  'exit-33-kvm', // guest-state checks, prepare_vmcs02
  'exit-34', // VM-entry MSR-load list
  'hardware', // the CPU's entry of vmcs02: exit 33 or a late VMfail 7
  'entered',
] as const;
export type Stage = (typeof STAGES)[number];
export const stageIndex = (s: Stage): number => STAGES.indexOf(s);

const ID_STAGE = new Map<string, Stage>();
for (const id of VMX_INSN_CHECK_IDS) ID_STAGE.set(id, 'fault');
ID_STAGE.set('vmlaunch-no-current-vmcs', 'vmfail-invalid');
ID_STAGE.set('vmlaunch-current-vmcs-is-shadow', 'vmfail-invalid');
ID_STAGE.set('vmlaunch-blocked-by-mov-ss', 'vmfail-26');
ID_STAGE.set('vmlaunch-nonclear-vmcs', 'vmfail-4-5');
ID_STAGE.set('vmresume-nonlaunched-vmcs', 'vmfail-4-5');
ID_STAGE.set('get-vmcs12-pages-apic-access-unmappable', 'pages');
for (const id of VMX_CONTROL_CHECK_IDS) ID_STAGE.set(id, 'vmfail-7');
for (const id of VMX_HOST_CHECK_IDS) ID_STAGE.set(id, 'vmfail-8');
for (const id of VMX_GUEST_CHECK_IDS) ID_STAGE.set(id, 'exit-33-kvm');
for (const id of VMX_PREPARE_CHECK_IDS) ID_STAGE.set(id, 'exit-33-kvm');
for (const id of VMX_MSR_LIST_CHECK_IDS) if (id.startsWith('entry-msr-load-')) ID_STAGE.set(id, 'exit-34');
for (const id of VMX_HARDWARE_RULE_IDS) ID_STAGE.set(id, 'hardware');
// Sanity: every VMX_RUN_CHECK_IDS id has a stage.
for (const id of VMX_RUN_CHECK_IDS) if (!ID_STAGE.has(id)) throw new Error(`vmx _lib: no stage for ${id}`);

/** The stage a failed check id belongs to (undefined: not an entry-path check, e.g. exit-list ids). */
export function checkStage(id: string): Stage | undefined {
  return ID_STAGE.get(id);
}

/** The stage a VMLAUNCH/VMRESUME result stopped at (null: not classifiable, e.g. SET_NESTED_STATE outcomes). */
export function resultStage(r: VmxRunResult): Stage | null {
  switch (r.outcome) {
    case '#UD':
    case '#GP':
      return 'fault';
    case 'vmfail-invalid':
      return 'vmfail-invalid';
    case 'vmfail-valid':
      if (r.late_vmfail) return 'hardware';
      switch (r.vm_instruction_error) {
        case 26: return 'vmfail-26';
        case 4: case 5: return 'vmfail-4-5';
        case 7: return 'vmfail-7';
        case 8: return 'vmfail-8';
        default: return null;
      }
    case 'internal-error':
      return 'pages';
    case 'entry-failure': {
      if (r.rejected_by === 'hardware') return 'hardware';
      const basic = (r.exit_reason ?? 0) & 0xffff;
      return basic === 34 ? 'exit-34' : basic === 33 ? 'exit-33-kvm' : null;
    }
    case 'entered':
      return 'entered';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The VMX-instruction gates of SDM 31.3 "VMLAUNCH/VMRESUME" pseudocode, from the scenario alone

const CR0_PE = 1n;
const RFLAGS_VM = 1n << 17n;
const AR_L = 1 << 13;

/**
 * The first instruction-level gate the SDM pseudocode stops at, independently of any kernel profile:
 * #UD (not in VMX operation — KVM also leaves VMX operation in SMM —, real mode, virtual-8086 mode,
 * compatibility mode), #GP (CPL > 0), VMfailInvalid (no current VMCS, a shadow VMCS), VMfailValid 26
 * (MOV-SS blocking), 4 / 5 (launch state); null when all pass.
 */
export function sdmGateStage(s: VmxScenario, launch: boolean): Stage | null {
  const l1 = s.l1;
  const ud = !l1.vmxon || l1.smm || (U64(l1.cr0) & CR0_PE) === 0n || (U64(l1.rflags) & RFLAGS_VM) !== 0n
    || ((U64(l1.efer) & EFER.LMA) !== 0n && (l1.seg.cs.ar & AR_L) === 0);
  if (ud || l1.cpl !== 0) return 'fault';
  if (s.current_vmptr === INVALID_GPA || s.vmcs12_shadow) return 'vmfail-invalid';
  if ((l1.interruptibility & 2) !== 0) return 'vmfail-26';
  if (launch ? s.launch_state === 'launched' : s.launch_state === 'clear') return 'vmfail-4-5';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Scenario readers

/** The byte at `gpa` of L1 memory as the scenario holds it (8-byte little-endian words). */
export function memByte(mem: Record<string, bigint>, gpa: bigint): number {
  const w = mem[memKey(gpa)] ?? 0n;
  return Number((BigInt.asUintN(64, w) >> (8n * (gpa & 7n))) & 0xffn);
}

/** Whether L1's MSR bitmap (SDM §25.6.9) lets `msr` (0-0x1fff) through without a VM exit. */
export function l1BitmapPasses(s: VmxScenario, bitmap: bigint, msr: number, write: boolean): boolean {
  if (msr < 0 || msr > 0x1fff) return false;
  const base = U64(bitmap);
  if (base + 0x1000n > s.ram_top) return false; // no memslot: KVM cannot map it, every access exits
  const byte = memByte(s.mem, base + (write ? 0x800n : 0n) + BigInt(msr >>> 3));
  return ((byte >> (msr & 7)) & 1) === 0;
}

/** 64-bit mode (EFER.LMA and CS.L): where RIP does not wrap at 32 bits. */
export function in64BitMode(l1: VmxL1): boolean {
  return (U64(l1.efer) & EFER.LMA) !== 0n && (l1.seg.cs.ar & AR_L) !== 0;
}

/** The exit-load MSR writes of a run. */
export const exitLoads = (r: VmxRunResult): VmxMsrWrite[] => r.msr_writes.filter((w) => w.list === 'exit-load');

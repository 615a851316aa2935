// run(scenario, profile) → { trace, outcome, before, after }: the engine's one entry point for
// nested SVM. Pure and deterministic: no clock, no randomness, no I/O, never throws on
// architectural input (a state KVM rejects is an outcome).

import { EFER, SEG_ATTR } from '../../arch/svm/defs.ts';
import { cloneControl, cloneVmcb, type Vmcb, type VmcbControl } from '../../arch/svm/vmcb.ts';
import { GuestMemory } from '../memory.ts';
import { profileDropped, type Profile } from '../profiles.ts';
import { Trace } from '../trace.ts';
import { emptyPending, newNested, type ArchRegs, type SvmVcpu } from '../vcpu.ts';
import type { Ctx } from './ctx.ts';
import { l1_gif } from './gif.ts';
import { run_l2, type L2Result } from './l2.ts';
import { nested_svm_vmrun, type VmrunResult } from './nested/vmrun.ts';
import { svm_get_nested_state_pages, svm_set_nested_state } from './nested_state.ts';
import type { SvmScenario } from './scenario.ts';
import { emulator_leave_smm, migrate_in_smm, svm_enter_smm } from './smm.ts';
import { svm_init_vmcb01 } from './vmcb01.ts';

/** The verdict vocabulary shared with `check --json` and the oracles. */
export type Outcome =
  | 'entered'
  | 'vmexit-invalid'
  | '#UD'
  | '#GP'
  | 'triple-fault'
  | 'userspace-exit'
  | 'silent-noop'
  | 'einval';

/** What L1 (and a reviewer) can observe, taken before the entry path and after it. */
export interface L1View {
  regs: ArchRegs;
  cpl: number;
  gif: number;
  guest_mode: boolean;
  current: '01' | '02';
  smm: boolean;
  exception: { vector: number; error_code?: number } | null;
  triple_fault: boolean;
  /** vmcb12 as it is in guest memory (null if unmappable). */
  vmcb12: Vmcb | null;
  vmcb12_gpa: bigint;
  nested_cr3: bigint;
  nested_run_pending: boolean;
  nmi_l1_to_l2: boolean;
  soft_int_injected: boolean;
  mmu: 'root_mmu' | 'guest_mmu';
}

export interface SvmRunResult {
  trace: Trace;
  outcome: Outcome;
  /** Stage of a VMEXIT_INVALID: early (checks) or late (CR3/PDPTE/MSRPM after the checks). */
  stage: 'early' | 'late' | null;
  vmrun: VmrunResult | null;
  l2: L2Result | null;
  /** L2's first exit to L1, when it entered and exited. */
  l2_exit_code: bigint | null;
  before: L1View;
  /** L1-visible state right after the entry path (before L2 ran). */
  entry: L1View;
  /** vmcb02 and the vmcb12 control cache as L2 was about to run (null when not entered). */
  entry_vmcb02: Vmcb | null;
  entry_ctl: VmcbControl | null;
  after: L1View;
  vcpu: SvmVcpu;
}

/** L1's view; with a null GPA the vmcb12 copy is skipped. */
export function l1View(v: SvmVcpu, vmcb12_gpa: bigint | null): L1View {
  const m = vmcb12_gpa === null ? null : v.mem.mapVmcb(vmcb12_gpa);
  return {
    regs: { ...v.regs },
    cpl: v.cpl,
    gif: l1_gif(v),
    guest_mode: v.guest_mode,
    current: v.current,
    smm: v.smm,
    exception: v.pending.exception ? { ...v.pending.exception } : null,
    triple_fault: v.pending.triple_fault,
    vmcb12: m ? cloneVmcb(m) : null,
    vmcb12_gpa: v.nested.vmcb12_gpa,
    nested_cr3: v.nested.ctl.nested_cr3,
    nested_run_pending: v.nested_run_pending,
    nmi_l1_to_l2: v.nmi_l1_to_l2,
    soft_int_injected: v.soft_int_injected,
    mmu: v.mmu,
  };
}

const hexCache = new Map<string, Uint8Array>();
const gpaCache = new Map<string, bigint | null>();

/** A memory key ("0x400000") as a GPA; null for a key that is not a number. Memoised (pure). */
function parseGpa(k: string): bigint | null {
  let g = gpaCache.get(k);
  if (g === undefined) {
    try {
      g = BigInt(k);
    } catch {
      g = null;
    }
    if (gpaCache.size < 4096) gpaCache.set(k, g);
  }
  return g;
}

/** Scenario memory is hex text; parsing is memoised (pure) since the same pages recur. */
/** The last view of a run: nothing runs after it, so vmcb12 is referenced, not copied. */
function l1ViewFinal(v: SvmVcpu, gpa: bigint): L1View {
  const view = l1View(v, null);
  view.vmcb12 = v.mem.mapVmcb(gpa);
  return view;
}

function parseHexBytes(hex: string): Uint8Array {
  const hit = hexCache.get(hex);
  if (hit) return hit;
  const parsed = parseHexBytesUncached(hex);
  if (hexCache.size < 4096) hexCache.set(hex, parsed);
  return parsed;
}

function parseHexBytesUncached(hex: string): Uint8Array {
  const clean = hex.replace(/^0x/, '').replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Build L1's vCPU and memory from the scenario (KVM state at the moment L1 executes VMRUN). */
export function buildVcpu(s: SvmScenario): SvmVcpu {
  const l1 = s.l1;
  const mem = new GuestMemory(l1.memslots);
  for (const k in l1.memory) {
    const gpa = parseGpa(k);
    if (gpa !== null && mem.rangeBacked(gpa, 1)) mem.preload(gpa, parseHexBytes(l1.memory[k]));
  }
  const vmcb01 = svm_init_vmcb01(l1);
  const vmcb02 = cloneVmcb(vmcb01);
  const v: SvmVcpu = {
    regs: { rax: l1.rax, rsp: l1.rsp, rip: l1.rip, rflags: l1.rflags, efer: l1.efer, cr0: l1.cr0, cr2: l1.cr2, cr3: l1.cr3, cr4: l1.cr4, dr6: l1.dr6, dr7: l1.dr7 },
    cpl: l1.cpl,
    vmcb01,
    vmcb02,
    current: '01',
    guest_mode: false,
    hflags_gif: l1.gif !== 0,
    smm: l1.smm,
    smram: null,
    nested: newNested(l1.vm_hsave_pa),
    nested_run_pending: false,
    nmi_l1_to_l2: false,
    soft_int_injected: false,
    soft_int_next_rip: 0n,
    nmi_pending: 0,
    pending: emptyPending(),
    mmu: 'root_mmu',
    pdptrs: [0n, 0n, 0n, 0n],
    pdptrs_lazy: false,
    l1_tsc_offset: 0n,
    tsc_offset: 0n,
    avic_inhibited: false,
    pat: l1.pat,
    maxphyaddr: l1.maxphyaddr,
    host: l1.host,
    guest: l1.guest,
    quirks: l1.quirks,
    mem,
  };
  // vmcb02 is allocated once and starts "all clean" in hardware's eyes: only a dirty mark makes
  // the CPU reload it (what 15003179c74d is about).
  v.vmcb02.control.clean = 0xffffffff;
  return v;
}

/** Where vmcb12 sits: the page at rAX as VMRUN reads it (low 32 bits outside 64-bit mode). */
export function vmcb12Gpa(s: SvmScenario): bigint {
  const long64 = (s.l1.efer & EFER.LMA) !== 0n && (s.l1.cs_attrib & SEG_ATTR.L) !== 0;
  return (long64 ? s.l1.rax : s.l1.rax & 0xffffffffn) & ~0xfffn;
}

interface EntrySnap {
  view: L1View;
  vmcb02: Vmcb | null;
  ctl: VmcbControl | null;
}

function snap(ctx: Ctx): EntrySnap {
  const v = ctx.v;
  const inL2 = v.guest_mode && v.current === '02';
  // The entry view skips the vmcb12 copy: invariants read vmcb12 before and after, not at entry.
  return { view: l1View(v, null), vmcb02: inL2 ? cloneVmcb(v.vmcb02) : null, ctl: inL2 ? cloneControl(v.nested.ctl) : null };
}

function finish(ctx: Ctx, s: SvmScenario, before: L1View, entry: EntrySnap, outcome: Outcome, stage: 'early' | 'late' | null, vmrun: VmrunResult | null, l2: L2Result | null): SvmRunResult {
  const after = l1ViewFinal(ctx.v, vmcb12Gpa(s));
  let finalOutcome = outcome;
  if (ctx.v.pending.triple_fault && outcome !== 'userspace-exit') finalOutcome = 'triple-fault';
  return {
    trace: ctx.t, outcome: finalOutcome, stage, vmrun, l2,
    l2_exit_code: l2 && l2.outcome === 'exit' ? l2.exit_code : null,
    before, entry: entry.view, entry_vmcb02: entry.vmcb02, entry_ctl: entry.ctl, after, vcpu: ctx.v,
  };
}

function runL2IfEntered(ctx: Ctx, s: SvmScenario): { l2: L2Result | null; entry: EntrySnap } {
  const entry = snap(ctx);
  if (!ctx.v.guest_mode) return { l2: null, entry };
  return { l2: run_l2(ctx, s.l2), entry };
}

function runVmrun(ctx: Ctx, s: SvmScenario, before: L1View): SvmRunResult {
  const r = nested_svm_vmrun(ctx, s.race);
  if (r.outcome !== 'entered') {
    const entry = snap(ctx);
    const stage = r.outcome === 'vmexit-invalid' ? r.stage : null;
    return finish(ctx, s, before, entry, r.outcome, stage, r, null);
  }
  const { l2, entry } = runL2IfEntered(ctx, s);
  return finish(ctx, s, before, entry, 'entered', null, r, l2);
}

/**
 * RSM into L2: VMRUN the (valid) smm.vmrun_vmcb12, take an SMI in L2, let the SMM handler leave
 * `vmcb12` in memory, optionally migrate, then RSM.
 */
function runRsm(ctx: Ctx, s: SvmScenario, before: L1View): SvmRunResult {
  const gpa = vmcb12Gpa(s);
  const smm = s.smm;
  const r = nested_svm_vmrun(ctx, null);
  if (r.outcome !== 'entered') {
    ctx.t.emit('rsm_flow_not_applicable', { vmrun: r.outcome });
    return finish(ctx, s, before, snap(ctx), r.outcome, r.outcome === 'vmexit-invalid' ? r.stage : null, r, null);
  }
  // The VM entry happens, then the SMI arrives before L2's first instruction.
  ctx.v.nested_run_pending = false;
  if (svm_enter_smm(ctx)) {
    ctx.v.pending.triple_fault = true;
    return finish(ctx, s, before, snap(ctx), 'triple-fault', null, r, null);
  }
  const vmcb12 = ctx.v.mem.mapVmcb(gpa);
  if (vmcb12) {
    const repl = cloneVmcb(s.vmcb12);
    vmcb12.control = repl.control;
    vmcb12.save = repl.save;
  }
  if (smm?.migrate) migrate_in_smm(ctx);
  const rsm = emulator_leave_smm(ctx);
  if (rsm === 'shutdown') return finish(ctx, s, before, snap(ctx), 'triple-fault', null, r, null);
  const { l2, entry } = runL2IfEntered(ctx, s);
  return finish(ctx, s, before, entry, 'entered', null, r, l2);
}

/** KVM_SET_SREGS/REGS with L2's registers, then KVM_SET_NESTED_STATE, then KVM_RUN. */
function runSetNestedState(ctx: Ctx, s: SvmScenario, before: L1View): SvmRunResult {
  const { v } = ctx;
  // The host save area userspace restores is L1's state as it was (vmcb01 forces SVME for hardware).
  const l1save = cloneVmcb(v.vmcb01).save;
  l1save.efer = s.l1.efer;
  const l2 = s.vmcb12.save;
  v.regs = { rax: l2.rax, rsp: l2.rsp, rip: l2.rip, rflags: l2.rflags, efer: l2.efer, cr0: l2.cr0, cr2: l2.cr2, cr3: l2.cr3, cr4: l2.cr4, dr6: l2.dr6, dr7: l2.dr7 };
  v.vmcb01.save = cloneVmcb(s.vmcb12).save;
  const ns = s.nested_state ?? { flags: 0x103, gpat: s.vmcb12.save.g_pat };
  const r = svm_set_nested_state(ctx, { flags: ns.flags, vmcb_pa: s.l1.rax, gpat: ns.gpat, control: s.vmcb12.control, save: l1save });
  if (r) return finish(ctx, s, before, snap(ctx), 'einval', null, null, null);
  if (!v.guest_mode) return finish(ctx, s, before, snap(ctx), 'entered', null, null, null);
  if (!svm_get_nested_state_pages(ctx)) {
    return finish(ctx, s, before, snap(ctx), 'userspace-exit', null, null, null);
  }
  const res = runL2IfEntered(ctx, s);
  return finish(ctx, s, before, res.entry, 'entered', null, null, res.l2);
}

export function run(s: SvmScenario, p: Profile, dropped?: ReadonlySet<string>): SvmRunResult {
  const v = buildVcpu(s);
  const t = new Trace(dropped ?? profileDropped(p));
  const ctx: Ctx = { v, t, p };
  // vmcb12 is in guest memory before L1 executes anything.
  const first = s.entry === 'rsm' && s.smm ? s.smm.vmrun_vmcb12 : s.vmcb12;
  const gpa = vmcb12Gpa(s);
  const placed = v.mem.putVmcb(gpa, cloneVmcb(first), true);
  // The scenario is never modified, so its vmcb12 serves as the "before" copy.
  const before = l1View(v, null);
  before.vmcb12 = placed ? first : null;
  t.emit('scenario', { entry: s.entry, profile: p.name });
  switch (s.entry) {
    case 'rsm':
      return runRsm(ctx, s, before);
    case 'set_nested_state':
      return runSetNestedState(ctx, s, before);
    default:
      return runVmrun(ctx, s, before);
  }
}

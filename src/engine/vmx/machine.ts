// The state one runVmx call works on: L1's registers, the cached vmcs12, L1 memory, KVM's nested
// bookkeeping (guest mode, nested_run_pending, the emulated preemption timer) and the VmxVcpu view
// the VMX-instruction helpers (instructions.ts) take. Built from a scenario copy, so nothing here
// aliases the caller's scenario.

import type { Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import type { Profile } from '../profiles.ts';
import type { Trace } from '../trace.ts';
import { newVmxCheckCtx, type VmxCheckCtx } from './ctx.ts';
import type { VmxInsnCtx } from './instructions.ts';
import { L1Memory } from './l1mem.ts';
import type { MsrEnv } from './msrs.ts';
import type { Vmcs02State, VmxMsrWrite } from './result.ts';
import type { VmxScenario, VmxL1 } from './scenario.ts';
import { INVALID_GPA, type VmxVcpu } from './vcpu.ts';

const EFER_LMA = 1n << 10n;
const AR_L = 1 << 13;

export interface VmxMachine {
  t: Trace;
  p: Profile;
  s: VmxScenario;
  l1: VmxL1;
  vmcs12: Vmcs12;
  launch_state: 'clear' | 'launched';
  mem: L1Memory;
  /** The view VMX-instruction helpers read and write (RFLAGS, RIP, DR6, the queued #DB). */
  v: VmxVcpu;
  insn: VmxInsnCtx;
  msrEnv: MsrEnv;
  guest_mode: boolean;
  nested_run_pending: boolean;
  timer_armed: boolean;
  triple_fault: boolean;
  freed: boolean;
  vmcs02: Vmcs02State | null;
  msr_writes: VmxMsrWrite[];
}

export function newVmxMachine(s: VmxScenario, t: Trace, p: Profile): VmxMachine {
  const l1 = s.l1;
  const vmcs12 = s.vmcs12;
  const v: VmxVcpu = {
    cpl: l1.cpl,
    cr0: l1.cr0,
    cr4: l1.cr4,
    efer: l1.efer,
    cs_l: (l1.seg.cs.ar & AR_L) !== 0,
    rflags: l1.rflags,
    rip: l1.rip,
    dr6: l1.dr6,
    exception: null,
    msr_ia32_feature_control: 0x5n,
    smm: l1.smm,
    maxphyaddr: s.guest.maxphyaddr,
    caps: s.caps,
    vmx: {
      vmxon: l1.vmxon,
      vmxon_ptr: l1.vmxon ? l1.vmxon_ptr : INVALID_GPA,
      current_vmptr: s.current_vmptr,
      cached_vmcs12: s.current_vmptr === INVALID_GPA ? null : { vmcs12, revision_id: s.vmcs12_revision, launch_state: s.launch_state === 'launched' },
      vmcs12s: new Map(),
    },
  };
  return {
    t, p, s, l1, vmcs12,
    launch_state: s.launch_state,
    mem: new L1Memory(s.mem, s.ram_top),
    v,
    insn: { v, t, p },
    msrEnv: { cpuid: s.guest.cpuid, mpx: s.guest.mpx, pmu_gp_counters: s.guest.pmu_gp_counters, pmu_fixed_counters: s.guest.pmu_fixed_counters },
    guest_mode: false,
    nested_run_pending: false,
    timer_armed: false,
    triple_fault: false,
    freed: false,
    vmcs02: null,
    msr_writes: [],
  };
}

/** Copies what the VMX-instruction helpers changed (RFLAGS, RIP, DR6) back into L1's registers. */
export function syncFromInsn(m: VmxMachine): void {
  m.l1.rflags = m.v.rflags;
  m.l1.rip = m.v.rip;
  m.l1.dr6 = m.v.dr6;
}

/** Pushes L1's registers into the helpers' view (after KVM loaded new L1 state). */
export function syncToInsn(m: VmxMachine): void {
  const { l1, v } = m;
  v.cpl = l1.cpl;
  v.cr0 = l1.cr0;
  v.cr4 = l1.cr4;
  v.efer = l1.efer;
  v.cs_l = (l1.seg.cs.ar & AR_L) !== 0;
  v.rflags = l1.rflags;
  v.rip = l1.rip;
  v.dr6 = l1.dr6;
}

/** The nested-check context: nested_run_pending decides whether guest EFER is checked. */
export function checkCtx(m: VmxMachine, nested_run_pending: boolean): VmxCheckCtx {
  return newVmxCheckCtx({ t: m.t, p: m.p, caps: m.s.caps, guest: m.s.guest, nested_run_pending });
}

export function l1InLongMode(l1: VmxL1): boolean {
  return (l1.efer & EFER_LMA) !== 0n;
}

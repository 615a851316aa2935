// The valid base of every VMX scenario: KVM's default nested caps (EPT, VPID, unrestricted guest on
// in L0), a 64-bit CPL-0 L1 in VMX root operation with a clear current VMCS whose vmcs12 is
// validVmcs12 (64-bit host and guest, EPT with a 4-level WB EPTP, VPID, MSR bitmaps, no I/O
// bitmaps, activity state active), L1 memory all zeros below 4 GiB, VMLAUNCH, and an L2 that
// executes VMCALL. Arbitraries mutate it; `check --vmcs12` fills left-out fields from it.

import { PAT_DEFAULT } from '../../arch/svm/defs.ts';
import { kvmNestedVmxMsrs, type NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import { VMCS12_REVISION } from '../../arch/vmx/vmcs12.ts';
import { defaultVmxGuestFacts } from './ctx.ts';
import { validVmcs12, VMCS12_BASE_CR0, VMCS12_BASE_CR4, VMCS12_BASE_EFER } from './nested/vmcs12_base.ts';
import type { VmxL0, VmxL1, VmxScenario, VmxSegment } from './scenario.ts';

/** GPAs of L1's own structures (below VMCS12_BASE_GPA's pages, all in RAM). */
export const VMX_L1_GPA = {
  vmxon: 0x1000n,
  vmcs12: 0x2000n,
  cr3: 0x3000n,
} as const;

export const VMX_BASE_RAM_TOP = 0x100000000n;

export const DEFAULT_VMX_L0: Readonly<VmxL0> = { enable_ept: true, enable_unrestricted_guest: true, warn_on_missed_cc: false };

/** KVM's nested caps for an L0 with these module parameters (UG needs EPT: vmx.c hardware_setup). */
export function capsForL0(l0: VmxL0): NestedVmxMsrs {
  const ept = l0.enable_ept;
  return kvmNestedVmxMsrs({ enableEpt: ept, enableEptAdBits: ept, enableMbec: ept, enableUnrestrictedGuest: ept && l0.enable_unrestricted_guest });
}

const seg = (selector: number, ar: number, base = 0n, limit = 0xffffffff): VmxSegment => ({ selector, base, limit, ar });

/** A 64-bit CPL-0 L1 in VMX root operation (CR4.VMXE, flat segments, LDTR unusable). */
export function validVmxL1(): VmxL1 {
  return {
    cpl: 0,
    cr0: VMCS12_BASE_CR0,
    cr3: VMX_L1_GPA.cr3,
    cr4: VMCS12_BASE_CR4,
    efer: VMCS12_BASE_EFER,
    rflags: 0x2n,
    rip: 0x400000n,
    rsp: 0x80000n,
    dr6: 0xffff0ff0n,
    dr7: 0x400n,
    debugctl: 0n,
    pat: PAT_DEFAULT,
    bndcfgs: 0n,
    perf_global_ctrl: 0n,
    sysenter_cs: 0,
    sysenter_esp: 0n,
    sysenter_eip: 0n,
    s_cet: 0n,
    ssp: 0n,
    ssp_tbl: 0n,
    seg: {
      es: seg(0x10, 0xc093),
      cs: seg(0x08, 0xa09b),
      ss: seg(0x10, 0xc093),
      ds: seg(0x10, 0xc093),
      fs: seg(0x10, 0xc093),
      gs: seg(0x10, 0xc093),
      ldtr: seg(0, 0x10000, 0n, 0),
      tr: seg(0x40, 0x008b, 0x50000n, 0x67),
    },
    gdtr: { base: 0x51000n, limit: 0xffff },
    idtr: { base: 0x52000n, limit: 0xfff },
    interruptibility: 0,
    x2apic: false,
    msrs: {},
    smm: false,
    vmxon: true,
    vmxon_ptr: VMX_L1_GPA.vmxon,
  };
}

export interface ValidVmxScenarioOptions {
  l0?: Partial<VmxL0>;
}

export function validVmxScenario(opts: ValidVmxScenarioOptions = {}): VmxScenario {
  const l0: VmxL0 = { ...DEFAULT_VMX_L0, ...opts.l0 };
  if (!l0.enable_ept) l0.enable_unrestricted_guest = false;
  const caps = capsForL0(l0);
  return {
    arch: 'vmx',
    l0,
    caps,
    guest: defaultVmxGuestFacts(),
    l1: validVmxL1(),
    current_vmptr: VMX_L1_GPA.vmcs12,
    vmcs12_revision: VMCS12_REVISION,
    vmcs12_shadow: false,
    launch_state: 'clear',
    vmcs12: validVmcs12(caps),
    mem: {},
    ram_top: VMX_BASE_RAM_TOP,
    path: 'vmlaunch',
    nested_state: { guest_mode: true, run_pending: true },
    l2: { kind: 'vmcall' },
    after: 'none',
  };
}


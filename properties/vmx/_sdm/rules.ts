// The SDM's VMLAUNCH/VMRESUME rules as data rows, in the order the instruction applies them:
// the instruction reference (vol. 3C §31.3 "VMLAUNCH/VMRESUME": #UD, #GP, VMfailInvalid, VMfailValid
// 26/4/5), §27.2 controls (VMfailValid 7) and host state (VMfailValid 8), §27.3.1 guest state (exit 33)
// and §27.4 MSR loading (exit 34). Older editions number ch. 27 as 26 and §31.3 as §30.3.
//
// A row `fails` when its rule is violated; `when` is the rule's "if ..." precondition.

import { CR0, CR4, EFER, RFLAGS } from '../../../src/arch/svm/defs.ts';
import { EPT_CAP, VMX_BASIC, VMX_MISC } from '../../../src/arch/vmx/caps.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VMFUNC_CONTROLS, VM_ENTRY, VM_EXIT } from '../../../src/arch/vmx/controls.ts';
import { EPTP } from '../../../src/arch/vmx/eptp.ts';
import { ENTRY_FAIL, VMXERR } from '../../../src/arch/vmx/errors.ts';
import { INTR_TYPE } from '../../../src/arch/vmx/intr_info.ts';
import { VMCS12_HDR_SHADOW_VMCS, VMCS12_REVISION } from '../../../src/arch/vmx/vmcs12.ts';
import type { VmxSegName } from '../../../src/engine/vmx/scenario.ts';
import {
  DEBUGCTL_BTF, DEBUGCTL_SUPPORTED, INVALID_GPA, U64, arReservedClear, bit, bndcfgsOk, canonical, cetMsrOk, cr4Ok, ctlOk,
  eferSupported, entryHas, exitHas, fixedOk, granularityOk, guestPe, guestPg, miscHas, pageAddrOk, patValid,
  perfGlobalCtrlOk, pinHas, procHas, secHas, withinWidth, type Seg, type View,
} from './helpers.ts';
import { MSR_INDEX, wrmsrFaults } from './msrs.ts';
import type { SdmMsrRule, SdmRule, SdmVerdict } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Outcomes

const UD: SdmVerdict = { kind: '#UD' };
const GP: SdmVerdict = { kind: '#GP' };
const FAIL_INVALID: SdmVerdict = { kind: 'vmfail-invalid' };
const failValid = (error: number): SdmVerdict => ({ kind: 'vmfail-valid', error });
const CTL = failValid(VMXERR.ENTRY_INVALID_CONTROL_FIELD);
const HOST = failValid(VMXERR.ENTRY_INVALID_HOST_STATE_FIELD);
const GUEST: SdmVerdict = { kind: 'exit', reason: 33, qual: BigInt(ENTRY_FAIL.DEFAULT) };
const LINK: SdmVerdict = { kind: 'exit', reason: 33, qual: BigInt(ENTRY_FAIL.VMCS_LINK_PTR) };
const PDPTE: SdmVerdict = { kind: 'exit', reason: 33, qual: BigInt(ENTRY_FAIL.PDPTE) };

// ---------------------------------------------------------------------------------------------
// Small predicates

const INSN = '§31.3 VMLAUNCH/VMRESUME';
const hi32 = (x: bigint): bigint => BigInt.asUintN(64, x) >> 32n;
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
/** CR3 bits that may be set besides the address: LAM_U57/LAM_U48 (62:61) with LAM. */
const cr3Ok = (cr3: bigint, x: View): boolean => withinWidth(x.cpu.lam ? u64(cr3) & ~(bit(61) | bit(62)) : cr3, x.maxphyaddr);
const canonVa = (a: bigint, x: View): boolean => canonical(a, x.vaBits);
const msrListMax = (x: View): number => 512 * (Number((x.misc & VMX_MISC.MAX_MSR_MASK) >> VMX_MISC.MAX_MSR_SHIFT) + 1);

/** Hardware exceptions that push an error code (SDM vol. 3A Table 6-1). */
export const EXCEPTIONS_WITH_ERROR_CODE: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

const injType = (x: View, t: number): boolean => x.inj.valid && x.inj.type === t;
/** Guest will be in protected mode for event delivery: unrestricted guest off, or CR0.PE = 1. */
const protMode = (x: View): boolean => !x.ug || guestPe(x);

// ---------------------------------------------------------------------------------------------
// (1)–(5) The instruction reference: exceptions, VMfailInvalid, VMfailValid 26/4/5

export const INSTRUCTION_RULES: readonly SdmRule[] = [
  { id: 'ud-not-in-vmx-operation', sdm: INSN, rule: '#UD if not in VMX operation', fails: (x) => !x.s.l1.vmxon, outcome: UD },
  { id: 'ud-real-mode', sdm: INSN, rule: '#UD if CR0.PE = 0', fails: (x) => (u64(x.s.l1.cr0) & CR0.PE) === 0n, outcome: UD },
  { id: 'ud-virtual-8086', sdm: INSN, rule: '#UD if RFLAGS.VM = 1', fails: (x) => (u64(x.s.l1.rflags) & RFLAGS.VM) !== 0n, outcome: UD },
  {
    id: 'ud-compatibility-mode', sdm: INSN, rule: '#UD if IA32_EFER.LMA = 1 and CS.L = 0 (compatibility mode)',
    fails: (x) => (u64(x.s.l1.efer) & EFER.LMA) !== 0n && (x.s.l1.seg.cs.ar & 0x2000) === 0,
    outcome: UD,
  },
  {
    id: 'ud-smm', sdm: `${INSN}; §32.14`, rule: 'in SMM the (virtual) processor is not in VMX operation (no dual-monitor treatment): #UD',
    fails: (x) => x.s.l1.smm, outcome: UD,
  },
  { id: 'gp-cpl', sdm: INSN, rule: '#GP(0) if CPL > 0', fails: (x) => x.s.l1.cpl !== 0, outcome: GP },
  {
    id: 'vmfail-invalid-no-current-vmcs', sdm: INSN, rule: 'VMfailInvalid if the current-VMCS pointer is not valid (FFFFFFFF_FFFFFFFFH)',
    fails: (x) => u64(x.s.current_vmptr) === INVALID_GPA, outcome: FAIL_INVALID,
  },
  {
    id: 'vmfail-invalid-shadow-vmcs', sdm: `${INSN}; §25.10`, rule: 'VMfailInvalid if the current VMCS is a shadow VMCS (shadow-VMCS indicator 1)',
    fails: (x) => x.s.vmcs12_shadow, outcome: FAIL_INVALID,
  },
  {
    id: 'vmfail-mov-ss-blocking', sdm: INSN, rule: 'VMfailValid(26) if events are blocked by MOV SS',
    fails: (x) => (x.s.l1.interruptibility & 2) !== 0, outcome: failValid(VMXERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS),
  },
  {
    id: 'vmfail-vmlaunch-not-clear', sdm: INSN, rule: 'VMLAUNCH: VMfailValid(4) if the launch state is not clear',
    when: (x) => x.launch, fails: (x) => x.s.launch_state !== 'clear', outcome: failValid(VMXERR.VMLAUNCH_NONCLEAR_VMCS),
  },
  {
    id: 'vmfail-vmresume-not-launched', sdm: INSN, rule: 'VMRESUME: VMfailValid(5) if the launch state is not launched',
    when: (x) => !x.launch, fails: (x) => x.s.launch_state !== 'launched', outcome: failValid(VMXERR.VMRESUME_NONLAUNCHED_VMCS),
  },
];

// ---------------------------------------------------------------------------------------------
// (6) §27.2.1 checks on VMX controls ⇒ VMfailValid(7)

const S1 = '§27.2.1.1';
const S2 = '§27.2.1.2';
const S3 = '§27.2.1.3';

/** A page address of a control structure: bits 11:0 zero and within the physical-address width. */
function pageRule(id: string, what: string, when: (x: View) => boolean, addr: (x: View) => bigint): SdmRule {
  return {
    id, sdm: S1, rule: `${what}: bits 11:0 are 0 and no bit beyond the physical-address width is set`,
    when, fails: (x) => !pageAddrOk(addr(x), x.maxphyaddr), outcome: CTL,
  };
}

/** The MSR-store/load area rules for one (count, address) pair (§27.2.1.2, §27.2.1.3). */
function msrAreaRules(tag: string, sdm: string, what: string, count: (x: View) => number, addr: (x: View) => bigint): SdmRule[] {
  const on = (x: View): boolean => count(x) >>> 0 !== 0;
  const last = (x: View): bigint => u64(addr(x)) + 16n * BigInt(count(x) >>> 0) - 1n;
  return [
    {
      id: `${tag}-count-above-max`, sdm: `${sdm}; App. A.6`, deviation: 'msr-count-above-max',
      rule: `${what} count above the recommended maximum 512 · (IA32_VMX_MISC[27:25] + 1): undefined by the SDM; modelled as KVM's VMfailValid(7) before any load`,
      when: on, fails: (x) => (count(x) >>> 0) > msrListMax(x), outcome: CTL,
    },
    { id: `${tag}-addr-align`, sdm, rule: `${what} address: bits 3:0 are 0`, when: on, fails: (x) => (u64(addr(x)) & 0xfn) !== 0n, outcome: CTL },
    { id: `${tag}-addr-width`, sdm, rule: `${what} address within the physical-address width`, when: on, fails: (x) => !withinWidth(addr(x), x.maxphyaddr), outcome: CTL },
    {
      id: `${tag}-last-byte-width`, sdm, rule: `${what}: the address of the last byte (addr + 16·count − 1) within the physical-address width`,
      when: on, fails: (x) => !withinWidth(last(x), x.maxphyaddr) || last(x) > U64, outcome: CTL,
    },
  ];
}

export const CONTROL_RULES: readonly SdmRule[] = [
  // ---- §27.2.1.1 VM-execution control fields
  {
    id: 'ctl-pin-allowed', sdm: `${S1}; App. A.3.1`, rule: 'pin-based controls within IA32_VMX_TRUE_PINBASED_CTLS allowed-0/allowed-1',
    fails: (x) => !ctlOk(x.pin, x.caps.pinbasedCtlsLow, x.caps.pinbasedCtlsHigh), outcome: CTL,
  },
  {
    id: 'ctl-proc-allowed', sdm: `${S1}; App. A.3.2`, rule: 'primary processor-based controls within IA32_VMX_TRUE_PROCBASED_CTLS',
    fails: (x) => !ctlOk(x.proc, x.caps.procbasedCtlsLow, x.caps.procbasedCtlsHigh), outcome: CTL,
  },
  {
    id: 'ctl-secondary-allowed', sdm: `${S1}; App. A.3.3`, rule: 'activate secondary controls ⇒ secondary controls within IA32_VMX_PROCBASED_CTLS2',
    when: (x) => procHas(x, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS),
    fails: (x) => !ctlOk(x.sec, x.caps.secondaryCtlsLow, x.caps.secondaryCtlsHigh), outcome: CTL,
  },
  {
    id: 'ctl-cr3-target-count', sdm: S1, rule: 'CR3-target count ≤ IA32_VMX_MISC[24:16]',
    fails: (x) => (x.v.cr3_target_count >>> 0) > Number((x.misc & VMX_MISC.CR3_TARGET_COUNT_MASK) >> VMX_MISC.CR3_TARGET_COUNT_SHIFT), outcome: CTL,
  },
  pageRule('ctl-io-bitmap-a', 'use I/O bitmaps ⇒ I/O-bitmap A address', (x) => procHas(x, CPU_BASED.USE_IO_BITMAPS), (x) => x.v.io_bitmap_a),
  pageRule('ctl-io-bitmap-b', 'use I/O bitmaps ⇒ I/O-bitmap B address', (x) => procHas(x, CPU_BASED.USE_IO_BITMAPS), (x) => x.v.io_bitmap_b),
  pageRule('ctl-msr-bitmap', 'use MSR bitmaps ⇒ MSR-bitmap address', (x) => procHas(x, CPU_BASED.USE_MSR_BITMAPS), (x) => x.v.msr_bitmap),
  pageRule('ctl-virtual-apic-page', 'use TPR shadow ⇒ virtual-APIC address', (x) => procHas(x, CPU_BASED.TPR_SHADOW), (x) => x.v.virtual_apic_page_addr),
  {
    id: 'ctl-tpr-threshold-high-bits', sdm: S1, rule: 'use TPR shadow and not virtual-interrupt delivery ⇒ TPR threshold bits 31:4 are 0',
    when: (x) => procHas(x, CPU_BASED.TPR_SHADOW) && !secHas(x, SECONDARY.VIRTUAL_INTR_DELIVERY),
    fails: (x) => (x.v.tpr_threshold >>> 4) !== 0, outcome: CTL,
  },
  {
    id: 'ctl-tpr-threshold-vs-vtpr', sdm: S1, deviation: 'vtpr-threshold-unchecked',
    rule: 'use TPR shadow, not virtual-interrupt delivery, not virtualize APIC accesses ⇒ TPR threshold[3:0] ≤ VTPR[7:4] (byte 80H of the virtual-APIC page)',
    when: (x) => procHas(x, CPU_BASED.TPR_SHADOW) && !secHas(x, SECONDARY.VIRTUAL_INTR_DELIVERY) && !secHas(x, SECONDARY.VIRTUALIZE_APIC_ACCESSES),
    fails: (x) => (x.v.tpr_threshold & 0xf) > (x.mem.byte(u64(x.v.virtual_apic_page_addr) + 0x80n) >>> 4), outcome: CTL,
  },
  {
    id: 'ctl-no-tpr-shadow-apicv', sdm: S1,
    rule: 'use TPR shadow = 0 ⇒ virtualize x2APIC mode, APIC-register virtualization and virtual-interrupt delivery are 0',
    when: (x) => !procHas(x, CPU_BASED.TPR_SHADOW),
    fails: (x) => secHas(x, SECONDARY.VIRTUALIZE_X2APIC_MODE | SECONDARY.APIC_REGISTER_VIRT | SECONDARY.VIRTUAL_INTR_DELIVERY), outcome: CTL,
  },
  {
    id: 'ctl-virtual-nmis-need-nmi-exiting', sdm: S1, rule: 'NMI exiting = 0 ⇒ virtual NMIs = 0',
    when: (x) => !pinHas(x, PIN_BASED.NMI_EXITING), fails: (x) => pinHas(x, PIN_BASED.VIRTUAL_NMIS), outcome: CTL,
  },
  {
    id: 'ctl-nmi-window-needs-virtual-nmis', sdm: S1, rule: 'virtual NMIs = 0 ⇒ NMI-window exiting = 0',
    when: (x) => !pinHas(x, PIN_BASED.VIRTUAL_NMIS), fails: (x) => procHas(x, CPU_BASED.NMI_WINDOW_EXITING), outcome: CTL,
  },
  pageRule('ctl-apic-access-page', 'virtualize APIC accesses ⇒ APIC-access address', (x) => secHas(x, SECONDARY.VIRTUALIZE_APIC_ACCESSES), (x) => x.v.apic_access_addr),
  {
    id: 'ctl-x2apic-vs-apic-access', sdm: S1, rule: 'virtualize x2APIC mode = 1 ⇒ virtualize APIC accesses = 0',
    when: (x) => secHas(x, SECONDARY.VIRTUALIZE_X2APIC_MODE), fails: (x) => secHas(x, SECONDARY.VIRTUALIZE_APIC_ACCESSES), outcome: CTL,
  },
  {
    id: 'ctl-vid-needs-ext-intr-exiting', sdm: S1, rule: 'virtual-interrupt delivery = 1 ⇒ external-interrupt exiting = 1',
    when: (x) => secHas(x, SECONDARY.VIRTUAL_INTR_DELIVERY), fails: (x) => !pinHas(x, PIN_BASED.EXT_INTR_MASK), outcome: CTL,
  },
  {
    id: 'ctl-posted-intr-needs-vid', sdm: S1, rule: 'process posted interrupts ⇒ virtual-interrupt delivery = 1',
    when: (x) => pinHas(x, PIN_BASED.POSTED_INTR), fails: (x) => !secHas(x, SECONDARY.VIRTUAL_INTR_DELIVERY), outcome: CTL,
  },
  {
    id: 'ctl-posted-intr-needs-ack-on-exit', sdm: S1, rule: 'process posted interrupts ⇒ acknowledge interrupt on exit = 1',
    when: (x) => pinHas(x, PIN_BASED.POSTED_INTR), fails: (x) => !exitHas(x, VM_EXIT.ACK_INTR_ON_EXIT), outcome: CTL,
  },
  {
    id: 'ctl-posted-intr-vector', sdm: S1, rule: 'process posted interrupts ⇒ notification vector bits 15:8 are 0',
    when: (x) => pinHas(x, PIN_BASED.POSTED_INTR), fails: (x) => (x.v.posted_intr_nv & 0xff00) !== 0, outcome: CTL,
  },
  {
    id: 'ctl-posted-intr-desc', sdm: S1, rule: 'process posted interrupts ⇒ descriptor address bits 5:0 are 0 and within the physical-address width',
    when: (x) => pinHas(x, PIN_BASED.POSTED_INTR),
    fails: (x) => (u64(x.v.posted_intr_desc_addr) & 0x3fn) !== 0n || !withinWidth(x.v.posted_intr_desc_addr, x.maxphyaddr), outcome: CTL,
  },
  {
    id: 'ctl-vpid-nonzero', sdm: S1, rule: 'enable VPID ⇒ VPID ≠ 0',
    when: (x) => secHas(x, SECONDARY.ENABLE_VPID), fails: (x) => (x.v.virtual_processor_id & 0xffff) === 0, outcome: CTL,
  },
  {
    id: 'ctl-eptp-memtype', sdm: `${S1}; §25.6.11; App. A.10`, rule: 'enable EPT ⇒ EPTP memory type (2:0) is UC (needs EPT_VPID_CAP bit 8) or WB (needs bit 14)',
    when: (x) => x.ept,
    fails: (x) => {
      const mt = u64(x.v.ept_pointer) & EPTP.MT_MASK;
      if (mt === EPTP.MT_UC) return (x.caps.eptCaps & EPT_CAP.UC) === 0;
      if (mt === EPTP.MT_WB) return (x.caps.eptCaps & EPT_CAP.WB) === 0;
      return true;
    },
    outcome: CTL,
  },
  {
    id: 'ctl-eptp-walk-length', sdm: `${S1}; §25.6.11`, rule: 'enable EPT ⇒ EPTP bits 5:3 are 3 (4-level, needs EPT_VPID_CAP bit 6) or 4 (5-level, needs bit 7)',
    when: (x) => x.ept,
    fails: (x) => {
      const pwl = u64(x.v.ept_pointer) & EPTP.PWL_MASK;
      if (pwl === EPTP.PWL_4) return (x.caps.eptCaps & EPT_CAP.PAGE_WALK_4) === 0;
      if (pwl === EPTP.PWL_5) return (x.caps.eptCaps & EPT_CAP.PAGE_WALK_5) === 0;
      return true;
    },
    outcome: CTL,
  },
  {
    id: 'ctl-eptp-ad', sdm: `${S1}; §25.6.11`, rule: 'enable EPT ⇒ EPTP bit 6 (A/D) is 0 unless EPT_VPID_CAP bit 21',
    when: (x) => x.ept, fails: (x) => (u64(x.v.ept_pointer) & EPTP.AD_ENABLE) !== 0n && (x.caps.eptCaps & EPT_CAP.AD) === 0, outcome: CTL,
  },
  {
    id: 'ctl-eptp-reserved', sdm: `${S1}; §25.6.11`, rule: 'enable EPT ⇒ EPTP reserved bits 11:7 and bits beyond the physical-address width are 0',
    when: (x) => x.ept, fails: (x) => (u64(x.v.ept_pointer) & 0xf80n) !== 0n || !withinWidth(x.v.ept_pointer, x.maxphyaddr), outcome: CTL,
  },
  {
    id: 'ctl-pml-needs-ept', sdm: S1, rule: 'enable PML ⇒ enable EPT = 1',
    when: (x) => secHas(x, SECONDARY.ENABLE_PML), fails: (x) => !x.ept, outcome: CTL,
  },
  pageRule('ctl-pml-address', 'enable PML ⇒ PML address', (x) => secHas(x, SECONDARY.ENABLE_PML), (x) => x.v.pml_address),
  {
    id: 'ctl-ug-needs-ept', sdm: S1, rule: 'unrestricted guest ⇒ enable EPT = 1',
    when: (x) => x.ug, fails: (x) => !x.ept, outcome: CTL,
  },
  {
    id: 'ctl-mbec-needs-ept', sdm: S1, rule: 'mode-based execute control for EPT ⇒ enable EPT = 1',
    when: (x) => secHas(x, SECONDARY.MODE_BASED_EPT_EXEC), fails: (x) => !x.ept, outcome: CTL,
  },
  {
    id: 'ctl-vmfunc-subset', sdm: `${S1}; App. A.11`, rule: 'enable VM functions ⇒ VM-function controls within IA32_VMX_VMFUNC',
    when: (x) => secHas(x, SECONDARY.ENABLE_VMFUNC), fails: (x) => (u64(x.v.vm_function_control) & ~u64(x.caps.vmfuncControls) & U64) !== 0n, outcome: CTL,
  },
  {
    id: 'ctl-eptp-switching-needs-ept', sdm: S1, rule: 'EPTP switching (VM function 0) ⇒ enable EPT = 1',
    when: (x) => secHas(x, SECONDARY.ENABLE_VMFUNC) && (u64(x.v.vm_function_control) & VMFUNC_CONTROLS.EPTP_SWITCHING) !== 0n,
    fails: (x) => !x.ept, outcome: CTL,
  },
  pageRule('ctl-eptp-list', 'EPTP switching ⇒ EPTP-list address',
    (x) => secHas(x, SECONDARY.ENABLE_VMFUNC) && (u64(x.v.vm_function_control) & VMFUNC_CONTROLS.EPTP_SWITCHING) !== 0n, (x) => x.v.eptp_list_address),
  pageRule('ctl-vmread-bitmap', 'VMCS shadowing ⇒ VMREAD-bitmap address', (x) => secHas(x, SECONDARY.SHADOW_VMCS), (x) => x.v.vmread_bitmap),
  pageRule('ctl-vmwrite-bitmap', 'VMCS shadowing ⇒ VMWRITE-bitmap address', (x) => secHas(x, SECONDARY.SHADOW_VMCS), (x) => x.v.vmwrite_bitmap),
  {
    id: 'ctl-tsc-multiplier-nonzero', sdm: `${S1} (see deviations: tsc-multiplier-zero)`, deviation: 'tsc-multiplier-zero',
    rule: 'use TSC scaling ⇒ TSC multiplier ≠ 0',
    when: (x) => secHas(x, SECONDARY.TSC_SCALING), fails: (x) => u64(x.v.tsc_multiplier) === 0n, outcome: CTL,
  },
  // ---- §27.2.1.2 VM-exit control fields
  {
    id: 'ctl-exit-allowed', sdm: `${S2}; App. A.4`, rule: 'VM-exit controls within IA32_VMX_TRUE_EXIT_CTLS',
    fails: (x) => !ctlOk(x.exit, x.caps.exitCtlsLow, x.caps.exitCtlsHigh), outcome: CTL,
  },
  {
    id: 'ctl-save-timer-needs-timer', sdm: S2, rule: 'activate VMX-preemption timer = 0 ⇒ save VMX-preemption-timer value = 0',
    when: (x) => !pinHas(x, PIN_BASED.VMX_PREEMPTION_TIMER), fails: (x) => exitHas(x, VM_EXIT.SAVE_VMX_PREEMPTION_TIMER), outcome: CTL,
  },
  ...msrAreaRules('ctl-exit-msr-store', S2, 'VM-exit MSR-store area', (x) => x.v.vm_exit_msr_store_count, (x) => x.v.vm_exit_msr_store_addr),
  ...msrAreaRules('ctl-exit-msr-load', S2, 'VM-exit MSR-load area', (x) => x.v.vm_exit_msr_load_count, (x) => x.v.vm_exit_msr_load_addr),
  // ---- §27.2.1.3 VM-entry control fields
  {
    id: 'ctl-entry-allowed', sdm: `${S3}; App. A.5`, rule: 'VM-entry controls within IA32_VMX_TRUE_ENTRY_CTLS',
    fails: (x) => !ctlOk(x.entry, x.caps.entryCtlsLow, x.caps.entryCtlsHigh), outcome: CTL,
  },
  {
    id: 'ctl-inj-type-reserved', sdm: S3, rule: 'injection valid ⇒ interruption type is not 1 (reserved)',
    when: (x) => x.inj.valid, fails: (x) => x.inj.type === INTR_TYPE.RESERVED, outcome: CTL,
  },
  {
    id: 'ctl-inj-other-event-needs-mtf', sdm: S3, rule: 'injection valid ⇒ type 7 (other event) only if the monitor trap flag control is supported',
    when: (x) => injType(x, INTR_TYPE.OTHER_EVENT), fails: (x) => (x.caps.procbasedCtlsHigh & CPU_BASED.MONITOR_TRAP_FLAG) === 0, outcome: CTL,
  },
  {
    id: 'ctl-inj-nmi-vector', sdm: S3, rule: 'type NMI ⇒ vector 2',
    when: (x) => injType(x, INTR_TYPE.NMI), fails: (x) => x.inj.vector !== 2, outcome: CTL,
  },
  {
    id: 'ctl-inj-exception-vector', sdm: S3, rule: 'type hardware exception ⇒ vector ≤ 31',
    when: (x) => injType(x, INTR_TYPE.HARD_EXCEPTION), fails: (x) => x.inj.vector > 31, outcome: CTL,
  },
  {
    id: 'ctl-inj-other-event-vector', sdm: S3, rule: 'type other event ⇒ vector 0 (pending MTF VM exit)',
    when: (x) => injType(x, INTR_TYPE.OTHER_EVENT), fails: (x) => x.inj.vector !== 0, outcome: CTL,
  },
  {
    id: 'ctl-inj-deliver-ec-not-allowed', sdm: S3,
    rule: 'deliver error code = 0 unless the guest is in protected mode (UG = 0 or CR0.PE = 1) and the type is hardware exception',
    when: (x) => x.inj.valid && (!protMode(x) || x.inj.type !== INTR_TYPE.HARD_EXCEPTION), fails: (x) => x.inj.deliverEc, outcome: CTL,
  },
  {
    id: 'ctl-inj-deliver-ec-mismatch', sdm: `${S3}; App. A.1 (IA32_VMX_BASIC[56])`,
    rule: 'protected mode, hardware exception, IA32_VMX_BASIC[56] = 0 ⇒ deliver error code = 1 iff the vector is 8, 10–14, 17 or 21',
    when: (x) => injType(x, INTR_TYPE.HARD_EXCEPTION) && protMode(x) && (u64(x.caps.basic) & VMX_BASIC.NO_HW_ERROR_CODE_CC) === 0n,
    fails: (x) => x.inj.deliverEc !== EXCEPTIONS_WITH_ERROR_CODE.has(x.inj.vector), outcome: CTL,
  },
  {
    id: 'ctl-inj-error-code-high', sdm: S3, rule: 'deliver error code = 1 ⇒ VM-entry exception error code bits 31:16 are 0',
    when: (x) => x.inj.valid && x.inj.deliverEc, fails: (x) => (x.v.vm_entry_exception_error_code >>> 16) !== 0, outcome: CTL,
  },
  {
    id: 'ctl-inj-reserved', sdm: S3, rule: 'injection valid ⇒ interruption-information bits 30:12 are 0',
    when: (x) => x.inj.valid, fails: (x) => (x.inj.raw & 0x7ffff000) !== 0, outcome: CTL,
  },
  {
    id: 'ctl-inj-insn-len', sdm: S3, rule: 'type 4, 5 or 6 ⇒ VM-entry instruction length 1–15 (0 allowed only with IA32_VMX_MISC[30])',
    when: (x) => x.inj.valid && (x.inj.type === INTR_TYPE.SOFT_INTR || x.inj.type === INTR_TYPE.PRIV_SW_EXCEPTION || x.inj.type === INTR_TYPE.SOFT_EXCEPTION),
    fails: (x) => {
      const n = x.v.vm_entry_instruction_len >>> 0;
      return n > 15 || (n === 0 && !miscHas(x, VMX_MISC.ZERO_LEN_INS));
    },
    outcome: CTL,
  },
  ...msrAreaRules('ctl-entry-msr-load', S3, 'VM-entry MSR-load area', (x) => x.v.vm_entry_msr_load_count, (x) => x.v.vm_entry_msr_load_addr),
];

// ---------------------------------------------------------------------------------------------
// (7) §27.2.2–§27.2.4 checks on the host-state area ⇒ VMfailValid(8)

const H2 = '§27.2.2';
const H3 = '§27.2.3';
const H4 = '§27.2.4';

const HOST_SELS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'tr'] as const;
const hostSel = (x: View, n: (typeof HOST_SELS)[number]): number => (x.v[`host_${n}_selector`] as number) & 0xffff;

export const HOST_RULES: readonly SdmRule[] = [
  // ---- §27.2.2 host control registers and MSRs
  {
    id: 'host-cr0-fixed', sdm: `${H2}; App. A.7`, rule: 'host CR0 within IA32_VMX_CR0_FIXED0/FIXED1',
    fails: (x) => !fixedOk(x.v.host_cr0, x.caps.cr0Fixed0, x.caps.cr0Fixed1), outcome: HOST,
  },
  {
    id: 'host-cr4-fixed', sdm: `${H2}; App. A.8`, rule: 'host CR4 within IA32_VMX_CR4_FIXED0/FIXED1 and sets no CR4 bit the processor does not support',
    fails: (x) => !cr4Ok(x.v.host_cr4, x.caps, x.cpu), outcome: HOST,
  },
  { id: 'host-cr3-width', sdm: H2, rule: 'host CR3 sets no bit beyond the physical-address width', fails: (x) => !cr3Ok(x.v.host_cr3, x), outcome: HOST },
  {
    id: 'host-cet-needs-wp', sdm: H2, rule: 'host CR4.CET = 1 ⇒ host CR0.WP = 1',
    when: (x) => (u64(x.v.host_cr4) & CR4.CET) !== 0n, fails: (x) => (u64(x.v.host_cr0) & CR0.WP) === 0n, outcome: HOST,
  },
  {
    id: 'host-cet-state', sdm: H2, rule: 'load CET state ⇒ IA32_S_CET reserved bits 0; SSP bits 1:0 zero; S_CET, SSP, SSP table canonical (bits 63:32 zero without host address-space size)',
    when: (x) => exitHas(x, VM_EXIT.LOAD_CET_STATE),
    fails: (x) => {
      const v = x.v;
      if (!cetMsrOk(v.host_s_cet) || (u64(v.host_ssp) & 3n) !== 0n) return true;
      const ok = (a: bigint): boolean => (x.hostAs ? canonVa(a, x) : hi32(a) === 0n);
      return !ok(v.host_s_cet) || !ok(v.host_ssp) || !ok(v.host_ssp_tbl);
    },
    outcome: HOST,
  },
  { id: 'host-sysenter-esp', sdm: H2, rule: 'host IA32_SYSENTER_ESP canonical', fails: (x) => !canonVa(x.v.host_ia32_sysenter_esp, x), outcome: HOST },
  { id: 'host-sysenter-eip', sdm: H2, rule: 'host IA32_SYSENTER_EIP canonical', fails: (x) => !canonVa(x.v.host_ia32_sysenter_eip, x), outcome: HOST },
  {
    id: 'host-perf-global-ctrl', sdm: H2, rule: 'load IA32_PERF_GLOBAL_CTRL ⇒ its reserved bits are 0',
    when: (x) => exitHas(x, VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL),
    fails: (x) => !perfGlobalCtrlOk(x.v.host_ia32_perf_global_ctrl, x.s.guest.pmu_gp_counters, x.s.guest.pmu_fixed_counters), outcome: HOST,
  },
  {
    id: 'host-pat', sdm: H2, rule: 'load IA32_PAT ⇒ each PAT entry is a valid memory type',
    when: (x) => exitHas(x, VM_EXIT.LOAD_IA32_PAT), fails: (x) => !patValid(x.v.host_ia32_pat), outcome: HOST,
  },
  {
    id: 'host-efer-reserved', sdm: H2, rule: 'load IA32_EFER ⇒ reserved EFER bits are 0',
    when: (x) => exitHas(x, VM_EXIT.LOAD_IA32_EFER), fails: (x) => (u64(x.v.host_ia32_efer) & ~eferSupported(x.cpu) & U64) !== 0n, outcome: HOST,
  },
  {
    id: 'host-efer-lma-lme', sdm: H2, rule: 'load IA32_EFER ⇒ EFER.LMA and EFER.LME each equal host address-space size',
    when: (x) => exitHas(x, VM_EXIT.LOAD_IA32_EFER),
    fails: (x) => ((u64(x.v.host_ia32_efer) & EFER.LMA) !== 0n) !== x.hostAs || ((u64(x.v.host_ia32_efer) & EFER.LME) !== 0n) !== x.hostAs,
    outcome: HOST,
  },
  // ---- §27.2.3 host segment and descriptor-table registers
  ...HOST_SELS.map((n): SdmRule => ({
    id: `host-${n}-selector-rpl-ti`, sdm: H3, rule: `host ${n.toUpperCase()} selector: RPL (1:0) and TI (2) are 0`,
    fails: (x) => (hostSel(x, n) & 7) !== 0, outcome: HOST,
  })),
  { id: 'host-cs-selector-null', sdm: H3, rule: 'host CS selector ≠ 0', fails: (x) => hostSel(x, 'cs') === 0, outcome: HOST },
  { id: 'host-tr-selector-null', sdm: H3, rule: 'host TR selector ≠ 0', fails: (x) => hostSel(x, 'tr') === 0, outcome: HOST },
  {
    id: 'host-ss-selector-null', sdm: H3, rule: 'host address-space size = 0 ⇒ host SS selector ≠ 0',
    when: (x) => !x.hostAs, fails: (x) => hostSel(x, 'ss') === 0, outcome: HOST,
  },
  { id: 'host-fs-base', sdm: H3, rule: 'host FS base canonical', fails: (x) => !canonVa(x.v.host_fs_base, x), outcome: HOST },
  { id: 'host-gs-base', sdm: H3, rule: 'host GS base canonical', fails: (x) => !canonVa(x.v.host_gs_base, x), outcome: HOST },
  { id: 'host-gdtr-base', sdm: H3, rule: 'host GDTR base canonical', fails: (x) => !canonVa(x.v.host_gdtr_base, x), outcome: HOST },
  { id: 'host-idtr-base', sdm: H3, rule: 'host IDTR base canonical', fails: (x) => !canonVa(x.v.host_idtr_base, x), outcome: HOST },
  { id: 'host-tr-base', sdm: H3, rule: 'host TR base canonical', fails: (x) => !canonVa(x.v.host_tr_base, x), outcome: HOST },
  // ---- §27.2.4 address-space size
  {
    id: 'host-address-space-size', sdm: H4, rule: 'host address-space size = 1 iff the processor is in IA-32e mode (L1 IA32_EFER.LMA)',
    fails: (x) => x.hostAs !== ((u64(x.s.l1.efer) & EFER.LMA) !== 0n), outcome: HOST,
  },
  {
    id: 'host-legacy-no-ia32e-guest', sdm: H4, rule: 'host address-space size = 0 ⇒ IA-32e mode guest = 0',
    when: (x) => !x.hostAs, fails: (x) => x.ia32eGuest, outcome: HOST,
  },
  {
    id: 'host-legacy-no-pcide', sdm: H4, rule: 'host address-space size = 0 ⇒ host CR4.PCIDE = 0',
    when: (x) => !x.hostAs, fails: (x) => (u64(x.v.host_cr4) & CR4.PCIDE) !== 0n, outcome: HOST,
  },
  {
    id: 'host-legacy-rip-high', sdm: H4, rule: 'host address-space size = 0 ⇒ host RIP bits 63:32 are 0',
    when: (x) => !x.hostAs, fails: (x) => hi32(x.v.host_rip) !== 0n, outcome: HOST,
  },
  {
    id: 'host-ia32e-pae', sdm: H4, rule: 'host address-space size = 1 ⇒ host CR4.PAE = 1',
    when: (x) => x.hostAs, fails: (x) => (u64(x.v.host_cr4) & CR4.PAE) === 0n, outcome: HOST,
  },
  {
    id: 'host-ia32e-rip-canonical', sdm: H4, rule: 'host address-space size = 1 ⇒ host RIP canonical (57 bits with host CR4.LA57, else 48)',
    when: (x) => x.hostAs, fails: (x) => !canonical(x.v.host_rip, (u64(x.v.host_cr4) & CR4.LA57) !== 0n ? 57 : 48), outcome: HOST,
  },
];

// ---------------------------------------------------------------------------------------------
// (8) §27.3.1 checks on the guest-state area ⇒ exit 33 (qual 0; 4 link pointer; 2 PDPTEs)

const G1 = '§27.3.1.1';
const G2 = '§27.3.1.2';
const G3 = '§27.3.1.3';
const G4 = '§27.3.1.4';
const G5 = '§27.3.1.5';
const G6 = '§27.3.1.6';

const DATA_SEGS = ['ss', 'ds', 'es', 'fs', 'gs'] as const;
const V86_SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
const sg = (x: View, n: VmxSegName): Seg => x.g.seg[n];
const usable = (x: View, n: VmxSegName): boolean => !sg(x, n).unusable;
const notV86 = (x: View): boolean => !x.g.v86;
const guestCr0Fixed0 = (x: View): bigint => (x.ug ? x.caps.cr0Fixed0 & ~(CR0.PE | CR0.PG) : x.caps.cr0Fixed0);
const guestPae32 = (x: View): boolean => guestPg(x) && (x.g.cr4 & CR4.PAE) !== 0n && !x.ia32eGuest;
const ripWidth = (x: View): number => ((x.g.cr4 & CR4.LA57) !== 0n ? 57 : 48);

/** PDPTE reserved bits: 2:1, 8:5 and bits at or above MAXPHYADDR. */
const pdpteReserved = (maxphyaddr: number): bigint => (U64 & ~((1n << BigInt(maxphyaddr)) - 1n)) | 0x1e6n;

/** The four PDPTEs VM entry uses: the VMCS fields with EPT, else read from guest CR3 (null = unreadable). */
function guestPdptes(x: View): (bigint | null)[] {
  if (x.ept) return [x.v.guest_pdptr0, x.v.guest_pdptr1, x.v.guest_pdptr2, x.v.guest_pdptr3];
  const base = u64(x.v.guest_cr3) & 0xffffffe0n;
  return [0n, 1n, 2n, 3n].map((i) => (x.mem.inRam(base + 8n * i, 8) ? x.mem.read(base + 8n * i, 8) : null));
}

const pdpteBad = (e: bigint, x: View): boolean => (e & 1n) !== 0n && (u64(e) & pdpteReserved(x.maxphyaddr)) !== 0n;

const lp = (x: View): bigint => u64(x.v.vmcs_link_pointer);
const linkOn = (x: View): boolean => lp(x) !== INVALID_GPA;

const HLT = 1;
const SHUTDOWN = 2;
const WAIT_SIPI = 3;

export const GUEST_RULES: readonly SdmRule[] = [
  // ---- §27.3.1.1 control registers, debug registers, MSRs
  {
    id: 'guest-cr0-fixed', sdm: `${G1}; App. A.7`, rule: 'guest CR0 within IA32_VMX_CR0_FIXED0/FIXED1 (PE and PG need not be 1 with unrestricted guest)',
    fails: (x) => !fixedOk(x.g.cr0, guestCr0Fixed0(x), x.caps.cr0Fixed1), outcome: GUEST,
  },
  { id: 'guest-cr0-pg-without-pe', sdm: G1, rule: 'guest CR0.PG = 1 ⇒ CR0.PE = 1', when: guestPg, fails: (x) => !guestPe(x), outcome: GUEST },
  {
    id: 'guest-cr4-fixed', sdm: `${G1}; App. A.8`, rule: 'guest CR4 within IA32_VMX_CR4_FIXED0/FIXED1 and sets no CR4 bit the processor does not support',
    fails: (x) => !cr4Ok(x.g.cr4, x.caps, x.cpu), outcome: GUEST,
  },
  {
    id: 'guest-cet-needs-wp', sdm: G1, rule: 'guest CR4.CET = 1 ⇒ guest CR0.WP = 1',
    when: (x) => (x.g.cr4 & CR4.CET) !== 0n, fails: (x) => (x.g.cr0 & CR0.WP) === 0n, outcome: GUEST,
  },
  {
    id: 'guest-debugctl-reserved', sdm: G1, rule: 'load debug controls ⇒ IA32_DEBUGCTL reserved bits are 0',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_DEBUG_CONTROLS), fails: (x) => (u64(x.v.guest_ia32_debugctl) & ~DEBUGCTL_SUPPORTED & U64) !== 0n, outcome: GUEST,
  },
  {
    id: 'guest-dr7-high', sdm: G1, rule: 'load debug controls ⇒ DR7 bits 63:32 are 0',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_DEBUG_CONTROLS), fails: (x) => hi32(x.v.guest_dr7) !== 0n, outcome: GUEST,
  },
  {
    id: 'guest-ia32e-pg-pae', sdm: G1, rule: 'IA-32e mode guest ⇒ CR0.PG = 1 and CR4.PAE = 1',
    when: (x) => x.ia32eGuest, fails: (x) => !guestPg(x) || (x.g.cr4 & CR4.PAE) === 0n, outcome: GUEST,
  },
  {
    id: 'guest-legacy-no-pcide', sdm: G1, rule: 'IA-32e mode guest = 0 ⇒ CR4.PCIDE = 0',
    when: (x) => !x.ia32eGuest, fails: (x) => (x.g.cr4 & CR4.PCIDE) !== 0n, outcome: GUEST,
  },
  { id: 'guest-cr3-width', sdm: G1, rule: 'guest CR3 sets no bit beyond the physical-address width', fails: (x) => !cr3Ok(x.v.guest_cr3, x), outcome: GUEST },
  { id: 'guest-sysenter-esp', sdm: G1, rule: 'guest IA32_SYSENTER_ESP canonical', fails: (x) => !canonVa(x.v.guest_sysenter_esp, x), outcome: GUEST },
  { id: 'guest-sysenter-eip', sdm: G1, rule: 'guest IA32_SYSENTER_EIP canonical', fails: (x) => !canonVa(x.v.guest_sysenter_eip, x), outcome: GUEST },
  {
    id: 'guest-perf-global-ctrl', sdm: G1, rule: 'load IA32_PERF_GLOBAL_CTRL ⇒ its reserved bits are 0',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL),
    fails: (x) => !perfGlobalCtrlOk(x.v.guest_ia32_perf_global_ctrl, x.s.guest.pmu_gp_counters, x.s.guest.pmu_fixed_counters), outcome: GUEST,
  },
  {
    id: 'guest-pat', sdm: G1, rule: 'load IA32_PAT ⇒ each PAT entry is a valid memory type',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_IA32_PAT), fails: (x) => !patValid(x.v.guest_ia32_pat), outcome: GUEST,
  },
  {
    id: 'guest-efer-reserved', sdm: G1, rule: 'load IA32_EFER ⇒ reserved EFER bits are 0',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_IA32_EFER), fails: (x) => (u64(x.v.guest_ia32_efer) & ~eferSupported(x.cpu) & U64) !== 0n, outcome: GUEST,
  },
  {
    id: 'guest-efer-lma', sdm: G1, rule: 'load IA32_EFER ⇒ EFER.LMA = IA-32e mode guest',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_IA32_EFER), fails: (x) => ((u64(x.v.guest_ia32_efer) & EFER.LMA) !== 0n) !== x.ia32eGuest, outcome: GUEST,
  },
  {
    id: 'guest-efer-lme', sdm: G1, rule: 'load IA32_EFER and CR0.PG = 1 ⇒ EFER.LME = IA-32e mode guest',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_IA32_EFER) && guestPg(x),
    fails: (x) => ((u64(x.v.guest_ia32_efer) & EFER.LME) !== 0n) !== x.ia32eGuest, outcome: GUEST,
  },
  {
    id: 'guest-bndcfgs', sdm: G1, rule: 'load IA32_BNDCFGS ⇒ bits 11:2 are 0 and the base (63:12) is canonical',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_BNDCFGS), fails: (x) => !bndcfgsOk(x.v.guest_bndcfgs, x.vaBits), outcome: GUEST,
  },
  {
    id: 'guest-cet-state', sdm: G1, rule: 'load CET state ⇒ IA32_S_CET reserved bits 0; SSP bits 1:0 zero; S_CET, SSP, SSP table canonical (bits 63:32 zero outside IA-32e mode)',
    when: (x) => entryHas(x, VM_ENTRY.LOAD_CET_STATE),
    fails: (x) => {
      const v = x.v;
      if (!cetMsrOk(v.guest_s_cet) || (u64(v.guest_ssp) & 3n) !== 0n) return true;
      const ok = (a: bigint): boolean => (x.ia32eGuest ? canonVa(a, x) : hi32(a) === 0n);
      return !ok(v.guest_s_cet) || !ok(v.guest_ssp) || !ok(v.guest_ssp_tbl);
    },
    outcome: GUEST,
  },
  // ---- §27.3.1.2 segment registers: selectors
  { id: 'guest-tr-ti', sdm: G2, rule: 'TR selector TI (bit 2) = 0', fails: (x) => sg(x, 'tr').ti, outcome: GUEST },
  { id: 'guest-ldtr-ti', sdm: G2, rule: 'LDTR usable ⇒ selector TI = 0', when: (x) => usable(x, 'ldtr'), fails: (x) => sg(x, 'ldtr').ti, outcome: GUEST },
  {
    id: 'guest-ss-rpl', sdm: G2, rule: 'not virtual-8086 and not unrestricted guest ⇒ SS.RPL = CS.RPL',
    when: (x) => notV86(x) && !x.ug, fails: (x) => sg(x, 'ss').rpl !== sg(x, 'cs').rpl, outcome: GUEST,
  },
  // bases
  ...V86_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-v86-base`, sdm: G2, rule: `virtual-8086 ⇒ ${n.toUpperCase()} base = selector · 16`,
    when: (x) => x.g.v86, fails: (x) => sg(x, n).base !== BigInt(sg(x, n).selector) << 4n, outcome: GUEST,
  })),
  { id: 'guest-tr-base', sdm: G2, rule: 'TR base canonical', fails: (x) => !canonVa(sg(x, 'tr').base, x), outcome: GUEST },
  { id: 'guest-fs-base', sdm: G2, rule: 'FS base canonical', fails: (x) => !canonVa(sg(x, 'fs').base, x), outcome: GUEST },
  { id: 'guest-gs-base', sdm: G2, rule: 'GS base canonical', fails: (x) => !canonVa(sg(x, 'gs').base, x), outcome: GUEST },
  { id: 'guest-ldtr-base', sdm: G2, rule: 'LDTR usable ⇒ base canonical', when: (x) => usable(x, 'ldtr'), fails: (x) => !canonVa(sg(x, 'ldtr').base, x), outcome: GUEST },
  { id: 'guest-cs-base-high', sdm: G2, rule: 'CS base bits 63:32 are 0', fails: (x) => hi32(sg(x, 'cs').base) !== 0n, outcome: GUEST },
  ...(['ss', 'ds', 'es'] as const).map((n): SdmRule => ({
    id: `guest-${n}-base-high`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ base bits 63:32 are 0`,
    when: (x) => usable(x, n), fails: (x) => hi32(sg(x, n).base) !== 0n, outcome: GUEST,
  })),
  // limits and access rights, virtual-8086
  ...V86_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-v86-limit-ar`, sdm: G2, rule: `virtual-8086 ⇒ ${n.toUpperCase()} limit = FFFFH and access rights = F3H`,
    when: (x) => x.g.v86, fails: (x) => sg(x, n).limit !== 0xffff || sg(x, n).ar !== 0xf3, outcome: GUEST,
  })),
  // access rights, not virtual-8086
  {
    id: 'guest-cs-type', sdm: G2, rule: 'CS type is 9, 11, 13 or 15 (accessed code), or 3 with unrestricted guest',
    when: notV86, fails: (x) => ![9, 11, 13, 15].includes(sg(x, 'cs').type) && !(x.ug && sg(x, 'cs').type === 3), outcome: GUEST,
  },
  {
    id: 'guest-ss-type', sdm: G2, rule: 'SS usable ⇒ type 3 or 7',
    when: (x) => notV86(x) && usable(x, 'ss'), fails: (x) => sg(x, 'ss').type !== 3 && sg(x, 'ss').type !== 7, outcome: GUEST,
  },
  ...(['ds', 'es', 'fs', 'gs'] as const).map((n): SdmRule => ({
    id: `guest-${n}-type`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ type accessed (bit 0) and, if code (bit 3), readable (bit 1)`,
    when: (x) => notV86(x) && usable(x, n),
    fails: (x) => (sg(x, n).type & 1) === 0 || ((sg(x, n).type & 8) !== 0 && (sg(x, n).type & 2) === 0), outcome: GUEST,
  })),
  { id: 'guest-cs-s', sdm: G2, rule: 'CS S (bit 4) = 1', when: notV86, fails: (x) => !sg(x, 'cs').s, outcome: GUEST },
  ...DATA_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-s`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ S = 1`,
    when: (x) => notV86(x) && usable(x, n), fails: (x) => !sg(x, n).s, outcome: GUEST,
  })),
  {
    id: 'guest-cs-dpl', sdm: G2, rule: 'CS type 3 ⇒ DPL 0; type 9/11 ⇒ DPL = SS.DPL; type 13/15 ⇒ DPL ≤ SS.DPL',
    when: notV86,
    fails: (x) => {
      const cs = sg(x, 'cs');
      const ss = sg(x, 'ss');
      if (cs.type === 3) return cs.dpl !== 0;
      if (cs.type === 9 || cs.type === 11) return cs.dpl !== ss.dpl;
      if (cs.type === 13 || cs.type === 15) return cs.dpl > ss.dpl;
      return false;
    },
    outcome: GUEST,
  },
  {
    id: 'guest-ss-dpl-rpl', sdm: G2, rule: 'not unrestricted guest ⇒ SS.DPL = SS.RPL',
    when: (x) => notV86(x) && !x.ug, fails: (x) => sg(x, 'ss').dpl !== sg(x, 'ss').rpl, outcome: GUEST,
  },
  {
    id: 'guest-ss-dpl-zero', sdm: G2, rule: 'CS type 3 or CR0.PE = 0 ⇒ SS.DPL = 0',
    when: (x) => notV86(x) && (sg(x, 'cs').type === 3 || !guestPe(x)), fails: (x) => sg(x, 'ss').dpl !== 0, outcome: GUEST,
  },
  ...(['ds', 'es', 'fs', 'gs'] as const).map((n): SdmRule => ({
    id: `guest-${n}-dpl`, sdm: G2, rule: `not unrestricted guest, ${n.toUpperCase()} usable, type 0–11 ⇒ DPL ≥ RPL`,
    when: (x) => notV86(x) && !x.ug && usable(x, n) && sg(x, n).type <= 11, fails: (x) => sg(x, n).dpl < sg(x, n).rpl, outcome: GUEST,
  })),
  { id: 'guest-cs-present', sdm: G2, rule: 'CS P (bit 7) = 1', when: notV86, fails: (x) => !sg(x, 'cs').p, outcome: GUEST },
  ...DATA_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-present`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ P = 1`,
    when: (x) => notV86(x) && usable(x, n), fails: (x) => !sg(x, n).p, outcome: GUEST,
  })),
  { id: 'guest-cs-ar-reserved', sdm: G2, rule: 'CS access-rights bits 11:8 and 31:17 are 0', when: notV86, fails: (x) => !arReservedClear(sg(x, 'cs')), outcome: GUEST },
  ...DATA_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-ar-reserved`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ access-rights bits 11:8 and 31:17 are 0`,
    when: (x) => notV86(x) && usable(x, n), fails: (x) => !arReservedClear(sg(x, n)), outcome: GUEST,
  })),
  {
    id: 'guest-cs-l-db', sdm: G2, rule: 'IA-32e mode guest and CS.L = 1 ⇒ CS.D/B = 0',
    when: (x) => notV86(x) && x.ia32eGuest && sg(x, 'cs').l, fails: (x) => sg(x, 'cs').db, outcome: GUEST,
  },
  { id: 'guest-cs-granularity', sdm: G2, rule: 'CS limit/G consistent', when: notV86, fails: (x) => !granularityOk(sg(x, 'cs')), outcome: GUEST },
  ...DATA_SEGS.map((n): SdmRule => ({
    id: `guest-${n}-granularity`, sdm: G2, rule: `${n.toUpperCase()} usable ⇒ limit/G consistent`,
    when: (x) => notV86(x) && usable(x, n), fails: (x) => !granularityOk(sg(x, n)), outcome: GUEST,
  })),
  // TR and LDTR access rights
  {
    id: 'guest-tr-type', sdm: G2, rule: 'TR type 11 (busy 64-bit TSS) in IA-32e mode; 3 or 11 otherwise',
    fails: (x) => (x.ia32eGuest ? sg(x, 'tr').type !== 11 : sg(x, 'tr').type !== 3 && sg(x, 'tr').type !== 11), outcome: GUEST,
  },
  { id: 'guest-tr-s', sdm: G2, rule: 'TR S = 0', fails: (x) => sg(x, 'tr').s, outcome: GUEST },
  { id: 'guest-tr-present', sdm: G2, rule: 'TR P = 1', fails: (x) => !sg(x, 'tr').p, outcome: GUEST },
  { id: 'guest-tr-ar-reserved', sdm: G2, rule: 'TR access-rights bits 11:8 and 31:17 are 0', fails: (x) => !arReservedClear(sg(x, 'tr')), outcome: GUEST },
  { id: 'guest-tr-granularity', sdm: G2, rule: 'TR limit/G consistent', fails: (x) => !granularityOk(sg(x, 'tr')), outcome: GUEST },
  { id: 'guest-tr-unusable', sdm: G2, rule: 'TR unusable (bit 16) = 0', fails: (x) => sg(x, 'tr').unusable, outcome: GUEST },
  { id: 'guest-ldtr-type', sdm: G2, rule: 'LDTR usable ⇒ type 2', when: (x) => usable(x, 'ldtr'), fails: (x) => sg(x, 'ldtr').type !== 2, outcome: GUEST },
  { id: 'guest-ldtr-s', sdm: G2, rule: 'LDTR usable ⇒ S = 0', when: (x) => usable(x, 'ldtr'), fails: (x) => sg(x, 'ldtr').s, outcome: GUEST },
  { id: 'guest-ldtr-present', sdm: G2, rule: 'LDTR usable ⇒ P = 1', when: (x) => usable(x, 'ldtr'), fails: (x) => !sg(x, 'ldtr').p, outcome: GUEST },
  {
    id: 'guest-ldtr-ar-reserved', sdm: G2, rule: 'LDTR usable ⇒ access-rights bits 11:8 and 31:17 are 0',
    when: (x) => usable(x, 'ldtr'), fails: (x) => !arReservedClear(sg(x, 'ldtr')), outcome: GUEST,
  },
  { id: 'guest-ldtr-granularity', sdm: G2, rule: 'LDTR usable ⇒ limit/G consistent', when: (x) => usable(x, 'ldtr'), fails: (x) => !granularityOk(sg(x, 'ldtr')), outcome: GUEST },
  // ---- §27.3.1.3 GDTR, IDTR
  { id: 'guest-gdtr-base', sdm: G3, rule: 'GDTR base canonical', fails: (x) => !canonVa(x.v.guest_gdtr_base, x), outcome: GUEST },
  { id: 'guest-idtr-base', sdm: G3, rule: 'IDTR base canonical', fails: (x) => !canonVa(x.v.guest_idtr_base, x), outcome: GUEST },
  { id: 'guest-gdtr-limit', sdm: G3, rule: 'GDTR limit bits 31:16 are 0', fails: (x) => (x.v.guest_gdtr_limit >>> 16) !== 0, outcome: GUEST },
  { id: 'guest-idtr-limit', sdm: G3, rule: 'IDTR limit bits 31:16 are 0', fails: (x) => (x.v.guest_idtr_limit >>> 16) !== 0, outcome: GUEST },
  // ---- §27.3.1.4 RIP and RFLAGS
  {
    id: 'guest-rip-high', sdm: G4, rule: 'not (IA-32e mode guest and CS.L = 1) ⇒ RIP bits 63:32 are 0',
    when: (x) => !(x.ia32eGuest && sg(x, 'cs').l), fails: (x) => hi32(x.v.guest_rip) !== 0n, outcome: GUEST,
  },
  {
    id: 'guest-rip-canonical', sdm: G4, rule: 'IA-32e mode guest and CS.L = 1 ⇒ RIP canonical (57 bits with guest CR4.LA57, else 48)',
    when: (x) => x.ia32eGuest && sg(x, 'cs').l, fails: (x) => !canonical(x.v.guest_rip, ripWidth(x)), outcome: GUEST,
  },
  {
    id: 'guest-rflags-reserved', sdm: G4, rule: 'RFLAGS bits 63:22, 15, 5, 3 are 0 and bit 1 is 1',
    fails: (x) => (x.g.rflags & ~0x3fffffn & U64) !== 0n || (x.g.rflags & 0x8028n) !== 0n || (x.g.rflags & 2n) === 0n, outcome: GUEST,
  },
  {
    id: 'guest-rflags-vm', sdm: G4, rule: 'IA-32e mode guest or CR0.PE = 0 ⇒ RFLAGS.VM = 0',
    when: (x) => x.ia32eGuest || !guestPe(x), fails: (x) => x.g.v86, outcome: GUEST,
  },
  {
    id: 'guest-rflags-if-ext-int', sdm: G4, rule: 'injecting an external interrupt ⇒ RFLAGS.IF = 1',
    when: (x) => injType(x, INTR_TYPE.EXT_INTR), fails: (x) => (x.g.rflags & RFLAGS.IF) === 0n, outcome: GUEST,
  },
  // ---- §27.3.1.5 non-register state
  {
    id: 'guest-activity-supported', sdm: `${G5}; App. A.6`, rule: 'activity state is 0–3 and, if 1–3, supported per IA32_VMX_MISC bits 6–8',
    fails: (x) => {
      const a = x.g.activity;
      if (a === 0) return false;
      if (a === HLT) return !miscHas(x, VMX_MISC.ACTIVITY_HLT);
      if (a === SHUTDOWN) return !miscHas(x, VMX_MISC.ACTIVITY_SHUTDOWN);
      if (a === WAIT_SIPI) return !miscHas(x, VMX_MISC.ACTIVITY_WAIT_SIPI);
      return true;
    },
    outcome: GUEST,
  },
  {
    id: 'guest-activity-hlt-ss-dpl', sdm: G5, rule: 'activity state HLT ⇒ SS.DPL = 0',
    when: (x) => x.g.activity === HLT, fails: (x) => sg(x, 'ss').dpl !== 0, outcome: GUEST,
  },
  {
    id: 'guest-activity-blocking', sdm: G5, rule: 'activity state not active ⇒ no blocking by STI or by MOV SS',
    when: (x) => x.g.activity !== 0, fails: (x) => (x.g.intr & 3) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-activity-injection', sdm: G5,
    rule: 'injection with activity HLT: only external interrupt, NMI, #DB/#MC (hardware exception 1/18) or other event; SHUTDOWN: only NMI or #MC; WAIT_SIPI: none',
    when: (x) => x.inj.valid && x.g.activity !== 0,
    fails: (x) => {
      const { type: t, vector: vec } = x.inj;
      if (x.g.activity === HLT) {
        return !(t === INTR_TYPE.EXT_INTR || t === INTR_TYPE.NMI || t === INTR_TYPE.OTHER_EVENT
          || (t === INTR_TYPE.HARD_EXCEPTION && (vec === 1 || vec === 18)));
      }
      if (x.g.activity === SHUTDOWN) return !(t === INTR_TYPE.NMI || (t === INTR_TYPE.HARD_EXCEPTION && vec === 18));
      return true; // WAIT_SIPI (an unsupported state failed above)
    },
    outcome: GUEST,
  },
  { id: 'guest-intr-reserved', sdm: G5, rule: 'interruptibility-state bits 31:5 are 0', fails: (x) => (x.g.intr >>> 5) !== 0, outcome: GUEST },
  { id: 'guest-intr-sti-and-mov-ss', sdm: G5, rule: 'blocking by STI and blocking by MOV SS are not both 1', fails: (x) => (x.g.intr & 3) === 3, outcome: GUEST },
  {
    id: 'guest-intr-sti-if', sdm: G5, rule: 'RFLAGS.IF = 0 ⇒ blocking by STI = 0',
    when: (x) => (x.g.rflags & RFLAGS.IF) === 0n, fails: (x) => (x.g.intr & 1) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-intr-ext-int', sdm: G5, rule: 'injecting an external interrupt ⇒ blocking by STI = 0 and blocking by MOV SS = 0',
    when: (x) => injType(x, INTR_TYPE.EXT_INTR), fails: (x) => (x.g.intr & 3) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-intr-nmi-mov-ss', sdm: G5, rule: 'injecting an NMI ⇒ blocking by MOV SS = 0',
    when: (x) => injType(x, INTR_TYPE.NMI), fails: (x) => (x.g.intr & 2) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-intr-smi', sdm: G5, rule: 'not in SMM ⇒ blocking by SMI (bit 2) = 0',
    fails: (x) => (x.g.intr & 4) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-intr-vnmi-nmi', sdm: G5, rule: 'virtual NMIs and injecting an NMI ⇒ blocking by NMI (bit 3) = 0',
    when: (x) => pinHas(x, PIN_BASED.VIRTUAL_NMIS) && injType(x, INTR_TYPE.NMI), fails: (x) => (x.g.intr & 8) !== 0, outcome: GUEST,
  },
  {
    id: 'guest-pending-dbg-reserved', sdm: G5, rule: 'pending debug exceptions bits 11:4, 13, 15 and 63:17 are 0',
    fails: (x) => (x.g.pendingDbg & (0xff0n | bit(13) | bit(15) | (U64 & ~0x1ffffn))) !== 0n, outcome: GUEST,
  },
  {
    id: 'guest-pending-dbg-bs', sdm: G5, rule: 'blocking by STI or MOV SS, or activity HLT ⇒ BS (bit 14) = 1 iff RFLAGS.TF = 1 and IA32_DEBUGCTL.BTF = 0',
    when: (x) => (x.g.intr & 3) !== 0 || x.g.activity === HLT,
    fails: (x) => {
      const want = (x.g.rflags & RFLAGS.TF) !== 0n && (u64(x.v.guest_ia32_debugctl) & DEBUGCTL_BTF) === 0n;
      return ((x.g.pendingDbg & bit(14)) !== 0n) !== want;
    },
    outcome: GUEST,
  },
  {
    id: 'guest-pending-dbg-rtm', sdm: G5, rule: 'pending debug exceptions bit 16 (RTM) = 1 ⇒ bits 11:0 and 15:13 are 0, bit 12 is 1, and no blocking by MOV SS',
    when: (x) => (x.g.pendingDbg & bit(16)) !== 0n,
    fails: (x) => (x.g.pendingDbg & 0xffffn) !== 0x1000n || (x.g.intr & 2) !== 0, outcome: GUEST,
  },
  // VMCS link pointer (exit qualification 4)
  {
    id: 'guest-link-ptr-address', sdm: G5, rule: 'link pointer ≠ FFFFFFFF_FFFFFFFFH ⇒ bits 11:0 are 0 and no bit beyond the physical-address width',
    when: linkOn, fails: (x) => !pageAddrOk(lp(x), x.maxphyaddr), outcome: LINK,
  },
  {
    id: 'guest-link-ptr-memory', sdm: G5, rule: 'link pointer ≠ ~0 ⇒ its page is in L1 memory (the header can be read)',
    when: linkOn, fails: (x) => !x.mem.inRam(lp(x), 8), outcome: LINK,
  },
  {
    id: 'guest-link-ptr-revision', sdm: G5, rule: 'link pointer ≠ ~0 ⇒ header bits 30:0 hold the VMCS revision identifier',
    when: linkOn, fails: (x) => Number(x.mem.read(lp(x), 4) & 0x7fffffffn) !== VMCS12_REVISION, outcome: LINK,
  },
  {
    id: 'guest-link-ptr-shadow', sdm: G5, rule: 'link pointer ≠ ~0 ⇒ header bit 31 equals the VMCS-shadowing control',
    when: linkOn, fails: (x) => ((Number(x.mem.read(lp(x), 4)) & VMCS12_HDR_SHADOW_VMCS) !== 0) !== secHas(x, SECONDARY.SHADOW_VMCS), outcome: LINK,
  },
  {
    id: 'guest-link-ptr-current', sdm: G5, rule: 'link pointer ≠ ~0 ⇒ it is not the current-VMCS pointer',
    when: linkOn, fails: (x) => lp(x) === u64(x.s.current_vmptr), outcome: LINK,
  },
  {
    id: 'guest-link-ptr-vmxon', sdm: G5, rule: 'link pointer ≠ ~0 ⇒ it is not the VMXON pointer',
    when: linkOn, fails: (x) => lp(x) === u64(x.s.l1.vmxon_ptr), outcome: LINK,
  },
  // ---- §27.3.1.6 PDPTEs (exit qualification 2)
  {
    id: 'guest-pdpte-reserved-ept', sdm: G6,
    rule: 'enable EPT, CR0.PG, CR4.PAE, not IA-32e mode ⇒ each present PDPTE field (GUEST_PDPTE0–3) has bits 2:1, 8:5 and ≥ MAXPHYADDR clear',
    when: (x) => x.ept && guestPae32(x),
    fails: (x) => guestPdptes(x).some((e) => e === null || pdpteBad(e, x)),
    outcome: PDPTE,
  },
  {
    id: 'guest-pdpte-reserved-memory', sdm: `${G6}; §27.3.2.4`,
    rule: 'enable EPT = 0, CR0.PG, CR4.PAE, not IA-32e mode ⇒ the PDPTEs loaded from guest CR3 are readable and each present one has bits 2:1, 8:5 and ≥ MAXPHYADDR clear',
    when: (x) => !x.ept && guestPae32(x),
    fails: (x) => guestPdptes(x).some((e) => e === null || pdpteBad(e, x)),
    outcome: PDPTE,
  },
];

// ---------------------------------------------------------------------------------------------
// (9) §27.4 loading MSRs ⇒ exit 34, qualification = 1-based index of the failing entry

const L4 = '§27.4';

export const MSR_LOAD_RULES: readonly SdmMsrRule[] = [
  { id: 'msr-load-unreadable', sdm: L4, rule: 'the entry lies in L1 memory (a read outside it fails the load)', fails: (_x, e) => !e.readable },
  { id: 'msr-load-reserved', sdm: L4, rule: 'bits 63:32 of the entry (reserved) are 0', fails: (_x, e) => e.reserved !== 0 },
  { id: 'msr-load-fs-gs-base', sdm: L4, rule: 'index is not IA32_FS_BASE (C0000100H) or IA32_GS_BASE (C0000101H)', fails: (_x, e) => e.index === MSR_INDEX.FS_BASE || e.index === MSR_INDEX.GS_BASE },
  { id: 'msr-load-x2apic', sdm: L4, rule: 'index bits 31:8 are not 000008H (x2APIC MSRs)', fails: (_x, e) => e.index >>> 8 === 0x8 },
  { id: 'msr-load-smm-only', sdm: L4, rule: 'index is not an MSR writable only in SMM (IA32_SMM_MONITOR_CTL, 9BH)', fails: (_x, e) => e.index === MSR_INDEX.SMM_MONITOR_CTL },
  {
    id: 'msr-load-model-specific', sdm: `${L4}; vol. 4`, rule: 'index is not one VM entry may not load for model-specific reasons (microcode update: 79H, 8BH)',
    fails: (_x, e) => e.index === MSR_INDEX.BIOS_UPDT_TRIG || e.index === MSR_INDEX.BIOS_SIGN_ID,
  },
  {
    id: 'msr-load-wrmsr-gp', sdm: `${L4}; WRMSR`, rule: 'WRMSR of the value (CR0.PE = 1, CPL 0, not in SMM) would not raise #GP (unimplemented MSR ⇒ #GP)',
    fails: (x, e, st) => wrmsrFaults(e.index, e.value, x, st),
  },
];

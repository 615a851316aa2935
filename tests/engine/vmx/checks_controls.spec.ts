// nested_vmx_check_controls (spec §2.4) in kvm-unit-tests style: a valid base passes; every rule id
// has a directed test where one mutation of the base fails with exactly that id; boundary values that
// must pass; and a property that the checks never throw and evaluate ids in VMX_CONTROL_CHECK_IDS order.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EPT_CAP, type NestedVmxMsrs, kvmNestedVmxMsrs } from '../../../src/arch/vmx/caps.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../../src/arch/vmx/controls.ts';
import { EPTP } from '../../../src/arch/vmx/eptp.ts';
import { INTR_INFO, INTR_TYPE } from '../../../src/arch/vmx/intr_info.ts';
import { type Vmcs12, cloneVmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import { Trace } from '../../../src/engine/trace.ts';
import { defaultVmxGuestFacts, newVmxCheckCtx, type VmxCheckCtx } from '../../../src/engine/vmx/ctx.ts';
import {
  VMX_CONTROL_CHECK_IDS, nested_vmx_check_controls, nested_vmx_check_eptp, nested_vmx_check_msr_switch,
} from '../../../src/engine/vmx/nested/checks_controls.ts';
import { validVmcs12 } from '../../../src/engine/vmx/nested/vmcs12_base.ts';
import { junkVmcs12Arb, vmcs12Arb } from '../../arch/vmx/helpers.ts';
import * as bits from '../../../src/arbitraries/_internals/helpers/controlBits.ts';

const KVM_NEXT = getProfile('kvm-next')!;
const CAPS = kvmNestedVmxMsrs();
const MAXPHYADDR = 48;
const TOP = 1n << BigInt(MAXPHYADDR);

function ctxOf(caps: NestedVmxMsrs = CAPS, t: Trace = new Trace()): VmxCheckCtx {
  return newVmxCheckCtx({ t, p: KVM_NEXT, caps, guest: defaultVmxGuestFacts({ maxphyaddr: MAXPHYADDR, mpx: false }) });
}

function base(): Vmcs12 {
  return validVmcs12(CAPS);
}

/** Runs the checks: the verdict and the failing ids. */
function check(v: Vmcs12, caps: NestedVmxMsrs = CAPS): { ok: boolean; failed: string[]; checked: string[] } {
  const ctx = ctxOf(caps);
  const ok = nested_vmx_check_controls(ctx, v);
  return { ok, failed: ctx.t.failedChecks(), checked: ctx.t.checkIds };
}

// ---- mutation helpers

const P = PIN_BASED;
const C = CPU_BASED;
const S = SECONDARY;
const intr = (type: number, vector: number, extra = 0) => (INTR_INFO.VALID | (type << INTR_INFO.TYPE_SHIFT) | vector | extra) >>> 0;

/** Full posted-interrupt setup: TPR shadow, VID, external-interrupt exiting, ack on exit. */
function postedIntr(v: Vmcs12): void {
  bits.proc(v, C.TPR_SHADOW);
  bits.sec(v, S.VIRTUAL_INTR_DELIVERY);
  bits.pin(v, P.EXT_INTR_MASK | P.POSTED_INTR);
  bits.exit(v, VM_EXIT.ACK_INTR_ON_EXIT);
  v.posted_intr_nv = 0xf2;
}

const eptCapsWithout = (bit: number) => kvmNestedVmxMsrs({ host: { eptCaps: (0xffffffff & ~bit) >>> 0 } });

interface Directed {
  /** The rule as the SDM (or KVM) states it. */
  rule: string;
  mutate: (v: Vmcs12) => void;
  caps?: NestedVmxMsrs;
}

function msrSwitchCases(prefix: 'exit-msr-load' | 'exit-msr-store' | 'entry-msr-load'): Record<string, Directed> {
  const set = (v: Vmcs12, count: number, addr: bigint) => {
    if (prefix === 'exit-msr-load') { v.vm_exit_msr_load_count = count; v.vm_exit_msr_load_addr = addr; }
    if (prefix === 'exit-msr-store') { v.vm_exit_msr_store_count = count; v.vm_exit_msr_store_addr = addr; }
    if (prefix === 'entry-msr-load') { v.vm_entry_msr_load_count = count; v.vm_entry_msr_load_addr = addr; }
  };
  return {
    [`${prefix}-count-too-high`]: { rule: 'KVM: count > 512 * (MISC[27:25] + 1) fails early', mutate: (v) => set(v, 513, 0x1a000n) },
    [`${prefix}-addr-misaligned`]: { rule: 'bits 3:0 of the MSR area address must be 0', mutate: (v) => set(v, 1, 0x1a008n) },
    [`${prefix}-addr-illegal`]: { rule: 'the MSR area address must be within the physical-address width', mutate: (v) => set(v, 1, TOP) },
    [`${prefix}-end-illegal`]: { rule: 'address + count * 16 - 1 must be within the physical-address width', mutate: (v) => set(v, 2, TOP - 16n) },
  };
}

const DIRECTED: Record<string, Directed> = {
  'pin-controls-invalid': { rule: 'pin-based controls must respect allowed-0 settings', mutate: (v) => { v.pin_based_vm_exec_control = 0; } },
  'proc-controls-invalid': { rule: 'processor-based controls must respect allowed-1 settings (no tertiary controls)', mutate: (v) => bits.proc(v, C.ACTIVATE_TERTIARY_CONTROLS) },
  'secondary-controls-invalid': { rule: 'secondary controls must respect allowed-1 settings (no PAUSE-loop exiting)', mutate: (v) => bits.sec(v, S.PAUSE_LOOP_EXITING) },
  'cr3-target-count-nonzero': { rule: 'CR3-target count must not exceed IA32_VMX_MISC[24:16] (0 on KVM)', mutate: (v) => { v.cr3_target_count = 1; } },
  'io-bitmap-a-invalid': { rule: 'bits 11:0 of I/O bitmap A must be 0', mutate: (v) => { bits.proc(v, C.USE_IO_BITMAPS); v.io_bitmap_a = 0x10001n; } },
  'io-bitmap-b-invalid': { rule: 'I/O bitmap B must be within the physical-address width', mutate: (v) => { bits.proc(v, C.USE_IO_BITMAPS); v.io_bitmap_b = TOP; } },
  'msr-bitmap-invalid': { rule: 'bits 11:0 of the MSR-bitmap address must be 0', mutate: (v) => { v.msr_bitmap = 0x12800n; } },
  'virtual-apic-page-invalid': { rule: 'bits 11:0 of the virtual-APIC address must be 0 with use TPR shadow', mutate: (v) => { bits.proc(v, C.TPR_SHADOW); v.virtual_apic_page_addr = 0x13004n; } },
  'tpr-threshold-high-without-vid': { rule: 'without virtual-interrupt delivery, TPR threshold bits 31:4 must be 0', mutate: (v) => { bits.proc(v, C.TPR_SHADOW); v.tpr_threshold = 0x10; } },
  'apic-access-page-invalid': { rule: 'APIC-access address must be within the physical-address width', mutate: (v) => { bits.sec(v, S.VIRTUALIZE_APIC_ACCESSES); v.apic_access_addr = 1n << 50n; } },
  'x2apic-virt-with-apic-access-virt': { rule: 'virtualize x2APIC mode requires virtualize APIC accesses = 0', mutate: (v) => { bits.proc(v, C.TPR_SHADOW); bits.sec(v, S.VIRTUALIZE_X2APIC_MODE | S.VIRTUALIZE_APIC_ACCESSES); } },
  'vid-without-ext-intr-exiting': { rule: 'virtual-interrupt delivery requires external-interrupt exiting', mutate: (v) => { bits.proc(v, C.TPR_SHADOW); bits.sec(v, S.VIRTUAL_INTR_DELIVERY); } },
  'posted-intr-without-vid': { rule: 'process posted interrupts requires virtual-interrupt delivery', mutate: (v) => { postedIntr(v); bits.sec(v, 0, S.VIRTUAL_INTR_DELIVERY); } },
  'posted-intr-without-ack-intr-on-exit': { rule: 'process posted interrupts requires acknowledge interrupt on exit', mutate: (v) => { postedIntr(v); v.vm_exit_controls = (v.vm_exit_controls & ~VM_EXIT.ACK_INTR_ON_EXIT) >>> 0; } },
  'posted-intr-nv-high-bits': { rule: 'posted-interrupt notification vector bits 15:8 must be 0', mutate: (v) => { postedIntr(v); v.posted_intr_nv = 0x1f2; } },
  'posted-intr-desc-misaligned': { rule: 'bits 5:0 of the posted-interrupt descriptor address must be 0', mutate: (v) => { postedIntr(v); v.posted_intr_desc_addr = 0x15020n; } },
  'posted-intr-desc-illegal': { rule: 'posted-interrupt descriptor address within the physical-address width', mutate: (v) => { postedIntr(v); v.posted_intr_desc_addr = TOP; } },
  'apicv-without-tpr-shadow': { rule: 'APIC-register virtualization requires use TPR shadow', mutate: (v) => bits.sec(v, S.APIC_REGISTER_VIRT) },
  'virtual-nmis-without-nmi-exiting': { rule: 'NMI exiting = 0 requires virtual NMIs = 0', mutate: (v) => bits.pin(v, P.VIRTUAL_NMIS) },
  'nmi-window-without-virtual-nmis': { rule: 'virtual NMIs = 0 requires NMI-window exiting = 0', mutate: (v) => bits.proc(v, C.NMI_WINDOW_EXITING) },
  'pml-without-ept': { rule: 'enable PML requires enable EPT', mutate: (v) => { bits.sec(v, 0, S.ENABLE_EPT); bits.sec(v, S.ENABLE_PML); } },
  'pml-address-invalid': { rule: 'bits 11:0 of the PML address must be 0', mutate: (v) => { bits.sec(v, S.ENABLE_PML); v.pml_address = 0x16008n; } },
  'unrestricted-guest-without-ept': { rule: 'unrestricted guest requires enable EPT', mutate: (v) => { bits.sec(v, 0, S.ENABLE_EPT); bits.sec(v, S.UNRESTRICTED_GUEST); } },
  'mbec-without-ept': { rule: 'mode-based execute control for EPT requires enable EPT', mutate: (v) => { bits.sec(v, 0, S.ENABLE_EPT); bits.sec(v, S.MODE_BASED_EPT_EXEC); } },
  'vmread-bitmap-invalid': { rule: 'bits 11:0 of the VMREAD-bitmap address must be 0', mutate: (v) => { bits.sec(v, S.SHADOW_VMCS); v.vmread_bitmap = 0x17001n; } },
  'vmwrite-bitmap-invalid': { rule: 'VMWRITE-bitmap address within the physical-address width', mutate: (v) => { bits.sec(v, S.SHADOW_VMCS); v.vmwrite_bitmap = 1n << 63n; } },
  'vpid-zero': { rule: 'enable VPID requires VPID != 0000H', mutate: (v) => { v.virtual_processor_id = 0; } },
  'save-preemption-timer-without-timer': { rule: 'save VMX-preemption timer value requires activate VMX-preemption timer', mutate: (v) => bits.exit(v, VM_EXIT.SAVE_VMX_PREEMPTION_TIMER) },
  'eptp-memtype-uc-unsupported': { rule: 'EPTP memory type UC must be supported (never on KVM)', mutate: (v) => { v.ept_pointer &= ~EPTP.MT_MASK; } },
  'eptp-memtype-wb-unsupported': { rule: 'EPTP memory type WB must be supported', mutate: () => {}, caps: eptCapsWithout(EPT_CAP.WB) },
  'eptp-memtype-invalid': { rule: 'EPTP memory type must be UC or WB', mutate: (v) => { v.ept_pointer = (v.ept_pointer & ~EPTP.MT_MASK) | 5n; } },
  'eptp-pwl4-unsupported': { rule: 'EPTP 4-level walk must be supported', mutate: () => {}, caps: eptCapsWithout(EPT_CAP.PAGE_WALK_4) },
  'eptp-pwl5-unsupported': { rule: 'EPTP 5-level walk must be supported', mutate: (v) => { v.ept_pointer = (v.ept_pointer & ~EPTP.PWL_MASK) | EPTP.PWL_5; }, caps: eptCapsWithout(EPT_CAP.PAGE_WALK_5) },
  'eptp-pwl-invalid': { rule: 'EPTP page-walk length minus 1 must be 3 or 4', mutate: (v) => { v.ept_pointer = (v.ept_pointer & ~EPTP.PWL_MASK) | 0x10n; } },
  'eptp-address-illegal': { rule: 'EPTP bits 63:MAXPHYADDR must be 0', mutate: (v) => { v.ept_pointer |= TOP; } },
  'eptp-reserved-bits': { rule: 'EPTP bits 11:7 must be 0', mutate: (v) => { v.ept_pointer |= 1n << 7n; } },
  'eptp-ad-unsupported': { rule: 'EPTP bit 6 requires EPT A/D support', mutate: (v) => { v.ept_pointer |= EPTP.AD_ENABLE; }, caps: kvmNestedVmxMsrs({ enableEptAdBits: false }) },
  'vmfunc-controls-unsupported': { rule: 'VM-function controls must be allowed by IA32_VMX_VMFUNC', mutate: (v) => { bits.sec(v, S.ENABLE_VMFUNC); v.vm_function_control = 2n; } },
  'eptp-switching-without-ept': { rule: 'EPTP switching requires enable EPT', mutate: (v) => { bits.sec(v, 0, S.ENABLE_EPT); bits.sec(v, S.ENABLE_VMFUNC); v.vm_function_control = 1n; } },
  'eptp-list-address-invalid': { rule: 'bits 11:0 of the EPTP-list address must be 0', mutate: (v) => { bits.sec(v, S.ENABLE_VMFUNC); v.vm_function_control = 1n; v.eptp_list_address = 0x19010n; } },
  'tsc-multiplier-zero': { rule: 'KVM: TSC scaling requires a non-zero TSC multiplier', mutate: (v) => { bits.sec(v, S.TSC_SCALING); v.tsc_multiplier = 0n; } },
  'exit-controls-invalid': { rule: 'VM-exit controls must respect allowed-0 settings', mutate: (v) => { v.vm_exit_controls = (v.vm_exit_controls & ~1) >>> 0; } },
  ...msrSwitchCases('exit-msr-load'),
  ...msrSwitchCases('exit-msr-store'),
  'entry-controls-invalid': { rule: 'VM-entry controls must respect allowed-1 settings (entry to SMM never allowed)', mutate: (v) => { v.vm_entry_controls = (v.vm_entry_controls | VM_ENTRY.SMM) >>> 0; } },
  'entry-intr-type-reserved': { rule: 'interruption type must not be 1 (reserved)', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.RESERVED, 0); } },
  'entry-intr-type-other-without-mtf': { rule: 'interruption type 7 requires monitor trap flag support', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.OTHER_EVENT, 0); }, caps: kvmNestedVmxMsrs({ host: { proc: (0xffffffff & ~C.MONITOR_TRAP_FLAG) >>> 0 } }) },
  'entry-nmi-vector-not-2': { rule: 'type NMI requires vector 2', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.NMI, 3); } },
  'entry-hard-exception-vector-high': { rule: 'type hardware exception requires vector <= 31', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 32); } },
  'entry-other-event-vector-nonzero': { rule: 'type other event requires vector 0', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.OTHER_EVENT, 1); } },
  'entry-error-code-not-deliverable': { rule: 'deliver error code must be 0 unless a hardware exception in protected mode', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.EXT_INTR, 0x20, INTR_INFO.DELIVER_CODE); } },
  'entry-error-code-mismatch': { rule: 'deliver error code must match the vector (#GP has one)', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13); } },
  'entry-error-code-high-bits': { rule: 'bits 31:16 of the VM-entry exception error code must be 0', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13, INTR_INFO.DELIVER_CODE); v.vm_entry_exception_error_code = 0x10000; } },
  'entry-intr-info-reserved-bits': { rule: 'bits 30:12 of the VM-entry interruption information must be 0', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 6, 1 << 12); } },
  'entry-instruction-len-too-long': { rule: 'soft interrupt requires VM-entry instruction length <= 15', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.SOFT_INTR, 0x80); v.vm_entry_instruction_len = 16; } },
  'entry-instruction-len-zero': { rule: 'soft interrupt requires instruction length >= 1 without IA32_VMX_MISC[30]', mutate: (v) => { v.vm_entry_intr_info_field = intr(INTR_TYPE.SOFT_INTR, 0x80); v.vm_entry_instruction_len = 0; } },
  ...msrSwitchCases('entry-msr-load'),
};

describe('nested_vmx_check_controls', () => {
  describe('valid base', () => {
    it('should pass with KVM default caps and no failed check', () => {
      const r = check(base());
      expect(r.failed).toEqual([]);
      expect(r.ok).toBe(true);
    });

    it('should evaluate ids in VMX_CONTROL_CHECK_IDS order, each at most once', () => {
      const { checked } = check(base());
      const pos = checked.map((id) => VMX_CONTROL_CHECK_IDS.indexOf(id));
      expect(pos.every((p) => p >= 0)).toBe(true);
      expect([...pos].sort((a, b) => a - b)).toEqual(pos);
      expect(new Set(checked).size).toBe(checked.length);
    });

    it('should list every id once', () => {
      expect(new Set(VMX_CONTROL_CHECK_IDS).size).toBe(VMX_CONTROL_CHECK_IDS.length);
      expect(VMX_CONTROL_CHECK_IDS.every((id) => /^[a-z0-9]+(-[a-z0-9]+)*$/.test(id))).toBe(true);
    });
  });

  describe('directed: one mutation fails exactly one rule', () => {
    it('should have a directed test for every id', () => {
      expect(Object.keys(DIRECTED).sort()).toEqual([...VMX_CONTROL_CHECK_IDS].sort());
    });

    for (const id of VMX_CONTROL_CHECK_IDS) {
      const d = DIRECTED[id];
      it(`should fail '${id}': "${d?.rule ?? 'missing'}"`, () => {
        expect(d).toBeDefined();
        const v = base();
        d!.mutate(v);
        const r = check(v, d!.caps);
        expect(r.failed).toEqual([id]);
        expect(r.ok).toBe(false);
      });
    }

    it('should drop a check removed by a mutant trace and pass', () => {
      const v = base();
      v.virtual_processor_id = 0;
      const ctx = ctxOf(CAPS, new Trace(new Set(['vpid-zero'])));
      expect(nested_vmx_check_controls(ctx, v)).toBe(true);
      expect(ctx.t.checked.find((c) => c.id === 'vpid-zero')?.dropped).toBe(true);
    });

    it('should stop at the first failing rule (execution before entry)', () => {
      const v = base();
      v.virtual_processor_id = 0;
      v.vm_entry_intr_info_field = intr(INTR_TYPE.RESERVED, 0);
      expect(check(v).failed).toEqual(['vpid-zero']);
    });
  });

  describe('boundaries that must pass', () => {
    const passes = (v: Vmcs12, caps: NestedVmxMsrs = CAPS) => {
      const r = check(v, caps);
      expect(r.failed).toEqual([]);
      expect(r.ok).toBe(true);
    };

    it('should accept MSR-switch count 512 and reject 513 ("at most 512 * (MISC[27:25] + 1) entries")', () => {
      for (const prefix of ['exit-msr-load', 'exit-msr-store', 'entry-msr-load']) {
        const ctx = ctxOf();
        expect(nested_vmx_check_msr_switch(ctx, 512, 0x1a000n, prefix)).toBe(true);
        expect(nested_vmx_check_msr_switch(ctx, 513, 0x1a000n, prefix)).toBe(false);
        expect(ctx.t.failedChecks()).toEqual([`${prefix}-count-too-high`]);
      }
      const v = base();
      v.vm_exit_msr_load_count = 512;
      v.vm_exit_msr_store_count = 512;
      v.vm_entry_msr_load_count = 512;
      passes(v);
    });

    it('should accept an MSR area whose last byte is the last legal GPA', () => {
      const v = base();
      v.vm_entry_msr_load_count = 512;
      v.vm_entry_msr_load_addr = TOP - 512n * 16n;
      passes(v);
    });

    it('should ignore the MSR area address when the count is 0', () => {
      const v = base();
      v.vm_exit_msr_load_addr = 0xfffffffffffffff1n;
      passes(v);
    });

    it('should accept EPTP with A/D enabled when caps allow it', () => {
      const v = base();
      v.ept_pointer |= EPTP.AD_ENABLE;
      passes(v);
    });

    it('should accept a 5-level EPTP when caps allow it', () => {
      const v = base();
      v.ept_pointer = (v.ept_pointer & ~EPTP.PWL_MASK) | EPTP.PWL_5;
      passes(v);
    });

    it('should accept the highest legal EPTP address', () => {
      const ctx = ctxOf();
      expect(nested_vmx_check_eptp(ctx, (TOP - 0x1000n) | EPTP.PWL_4 | EPTP.MT_WB)).toBe(true);
      expect(ctx.t.failedChecks()).toEqual([]);
    });

    it('should accept #GP with an error code in protected mode', () => {
      const v = base();
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13, INTR_INFO.DELIVER_CODE);
      v.vm_entry_exception_error_code = 0xffff;
      passes(v);
    });

    it('should accept #UD without an error code and an NMI with vector 2', () => {
      const v = base();
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 6);
      passes(v);
      v.vm_entry_intr_info_field = intr(INTR_TYPE.NMI, 2);
      passes(v);
    });

    it('should accept #GP without an error code when BASIC[56] (no HW error-code check) is advertised', () => {
      const v = base();
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13);
      passes(v, kvmNestedVmxMsrs({ host: { basicNoHwErrcodeCc: true } }));
    });

    it('should reject an error code in real mode under unrestricted guest ("PE = 0 ⇒ deliver error code = 0")', () => {
      const v = base();
      bits.sec(v, S.UNRESTRICTED_GUEST);
      v.guest_cr0 &= ~1n;
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13, INTR_INFO.DELIVER_CODE);
      expect(check(v).failed).toEqual(['entry-error-code-not-deliverable']);
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 13);
      passes(v);
    });

    it('should accept instruction length 15 and 1 for software interrupts / exceptions', () => {
      const v = base();
      for (const type of [INTR_TYPE.SOFT_INTR, INTR_TYPE.PRIV_SW_EXCEPTION, INTR_TYPE.SOFT_EXCEPTION]) {
        v.vm_entry_intr_info_field = intr(type, type === INTR_TYPE.SOFT_INTR ? 0x80 : 3);
        v.vm_entry_instruction_len = 15;
        passes(v);
        v.vm_entry_instruction_len = 1;
        passes(v);
      }
    });

    it('should ignore instruction length for a hardware exception', () => {
      const v = base();
      v.vm_entry_intr_info_field = intr(INTR_TYPE.HARD_EXCEPTION, 6);
      v.vm_entry_instruction_len = 0;
      passes(v);
    });

    it('should accept a pending MTF ("other event" vector 0) when MTF is supported', () => {
      const v = base();
      v.vm_entry_intr_info_field = intr(INTR_TYPE.OTHER_EVENT, 0);
      passes(v);
    });

    it('should ignore an invalid (bit 31 clear) interruption-information field', () => {
      const v = base();
      v.vm_entry_intr_info_field = 0x7fffffff;
      passes(v);
    });

    it('should ignore secondary-control garbage when ACTIVATE_SECONDARY is clear ("nested_cpu_has2")', () => {
      const v = base();
      v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control & ~C.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
      v.secondary_vm_exec_control = 0xffffffff;
      v.ept_pointer = 0xffffffffffffffffn;
      v.virtual_processor_id = 0;
      const r = check(v);
      expect(r.failed).toEqual([]);
      expect(r.checked).not.toContain('secondary-controls-invalid');
      expect(r.checked).not.toContain('eptp-memtype-invalid');
    });

    it('should accept TPR threshold 0xf without VID and 0xff with VID', () => {
      const v = base();
      bits.proc(v, C.TPR_SHADOW);
      v.tpr_threshold = 0xf;
      passes(v);
      bits.pin(v, P.EXT_INTR_MASK);
      bits.sec(v, S.VIRTUAL_INTR_DELIVERY);
      v.tpr_threshold = 0xff;
      passes(v);
    });

    it('should accept full posted-interrupt setup with a 64-byte aligned descriptor', () => {
      const v = base();
      postedIntr(v);
      v.posted_intr_desc_addr = 0x15040n;
      passes(v);
    });

    it('should accept every feature the base leaves off, once turned on with valid addresses', () => {
      const v = base();
      postedIntr(v);
      bits.proc(v, C.USE_IO_BITMAPS | C.NMI_WINDOW_EXITING);
      bits.pin(v, P.NMI_EXITING | P.VIRTUAL_NMIS | P.VMX_PREEMPTION_TIMER);
      bits.exit(v, VM_EXIT.SAVE_VMX_PREEMPTION_TIMER);
      bits.sec(v, S.APIC_REGISTER_VIRT | S.VIRTUALIZE_APIC_ACCESSES | S.ENABLE_PML | S.UNRESTRICTED_GUEST
        | S.MODE_BASED_EPT_EXEC | S.SHADOW_VMCS | S.ENABLE_VMFUNC | S.TSC_SCALING);
      v.vm_function_control = 1n;
      passes(v);
    });

    it('should accept a base built for reduced caps (no EPT, no VPID)', () => {
      const caps = kvmNestedVmxMsrs({ enableEpt: false, enableEptAdBits: false, enableMbec: false, enableVpid: false, enableUnrestrictedGuest: false });
      passes(validVmcs12(caps), caps);
    });
  });

  describe('robustness', () => {
    const verdictConsistent = (v: Vmcs12) => {
      const r = check(v);
      expect(r.failed.length).toBeLessThanOrEqual(1);
      expect(r.ok).toBe(r.failed.length === 0);
      const pos = r.checked.map((id) => VMX_CONTROL_CHECK_IDS.indexOf(id));
      expect(pos.every((p) => p >= 0)).toBe(true);
      expect([...pos].sort((a, b) => a - b)).toEqual(pos);
    };

    it('should never throw on arbitrary 32/64-bit field values', () => {
      fc.assert(fc.property(vmcs12Arb(), verdictConsistent), { numRuns: 300 });
    });

    it('should never throw on out-of-range member values', () => {
      fc.assert(fc.property(junkVmcs12Arb(), (v) => { check(v); }), { numRuns: 200 });
    });

    it('should never throw when control fields of the valid base take arbitrary values', () => {
      const u32 = fc.integer({ min: 0, max: 0xffffffff });
      const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
      const fields = fc.record({
        pin_based_vm_exec_control: u32, cpu_based_vm_exec_control: u32, secondary_vm_exec_control: u32,
        vm_exit_controls: u32, vm_entry_controls: u32, vm_entry_intr_info_field: u32,
        vm_entry_exception_error_code: u32, vm_entry_instruction_len: u32, tpr_threshold: u32,
        vm_exit_msr_load_count: u32, vm_entry_msr_load_count: u32, ept_pointer: u64, msr_bitmap: u64,
        vm_entry_msr_load_addr: u64, vm_function_control: u64,
      }, { requiredKeys: [] });
      fc.assert(fc.property(fields, (f) => {
        const v = cloneVmcs12(base());
        Object.assign(v, f);
        verdictConsistent(v);
      }), { numRuns: 500 });
    });
  });
});

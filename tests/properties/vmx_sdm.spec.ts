import { describe, expect, it } from 'vitest';

import { CR0, CR4, EFER } from '../../src/arch/svm/defs.ts';
import { PIN_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../src/arch/vmx/controls.ts';
import { VMCS12_REVISION } from '../../src/arch/vmx/vmcs12.ts';
import { memKey, type VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { validVmxScenario } from '../../src/engine/vmx/scenario_base.ts';
import { HARDWARE_CHECKED_GUEST_RULES, SDM_DEVIATIONS, deviationsForRule, listedGuestQualDifference, listedOrderDifference } from '../../properties/vmx/_sdm/deviations.ts';
import {
  CONTROL_RULES, GUEST_RULES, HOST_RULES, INSTRUCTION_RULES, MSR_LOAD_RULES, SDM_RULE_COUNT, sdmVmlaunch, sdmViolations,
  type SdmJudgement,
} from '../../properties/vmx/_sdm/vmlaunch_sdm_model.ts';

const launch = (s: VmxScenario): SdmJudgement => sdmVmlaunch(s, { launch: true });

function base(f?: (s: VmxScenario) => void): VmxScenario {
  const s = validVmxScenario();
  f?.(s);
  return s;
}

function write64(s: VmxScenario, gpa: bigint, v: bigint): void {
  s.mem[memKey(gpa)] = BigInt.asUintN(64, v);
}

/** Writes a VM-entry MSR-load list at vmcs12.vm_entry_msr_load_addr and sets the count. */
function msrList(s: VmxScenario, entries: { index: number; value: bigint; reserved?: number }[]): void {
  const addr = s.vmcs12.vm_entry_msr_load_addr;
  entries.forEach((e, i) => {
    const at = addr + 16n * BigInt(i);
    write64(s, at, BigInt(e.index >>> 0) | (BigInt((e.reserved ?? 0) >>> 0) << 32n));
    write64(s, at + 8n, e.value);
  });
  s.vmcs12.vm_entry_msr_load_count = entries.length;
}

describe('SDM model of VMLAUNCH/VMRESUME', () => {
  it('enters the valid base (VMLAUNCH), and VMRESUME of a launched VMCS', () => {
    expect(launch(base())).toEqual({ verdict: { kind: 'entered' }, rule: null });
    expect(sdmViolations(base(), { launch: true })).toEqual([]);
    const s = base((x) => { x.launch_state = 'launched'; });
    expect(sdmVmlaunch(s, { launch: false })).toEqual({ verdict: { kind: 'entered' }, rule: null });
  });

  it('rule ids are unique and the rows carry their SDM section', () => {
    const ids = [...INSTRUCTION_RULES, ...CONTROL_RULES, ...HOST_RULES, ...GUEST_RULES, ...MSR_LOAD_RULES].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(SDM_RULE_COUNT);
    for (const r of [...INSTRUCTION_RULES, ...CONTROL_RULES, ...HOST_RULES, ...GUEST_RULES, ...MSR_LOAD_RULES]) expect(r.sdm).toMatch(/§/);
  });

  // (1) #UD
  it('#UD outside VMX operation, in compatibility mode, in v8086 mode, real mode and SMM', () => {
    expect(launch(base((s) => { s.l1.vmxon = false; }))).toEqual({ verdict: { kind: '#UD' }, rule: 'ud-not-in-vmx-operation' });
    expect(launch(base((s) => { s.l1.seg.cs.ar &= ~0x2000; })).rule).toBe('ud-compatibility-mode');
    expect(launch(base((s) => { s.l1.rflags |= 1n << 17n; })).verdict).toEqual({ kind: '#UD' });
    expect(launch(base((s) => { s.l1.cr0 &= ~CR0.PE; })).rule).toBe('ud-real-mode');
    expect(launch(base((s) => { s.l1.smm = true; })).verdict).toEqual({ kind: '#UD' });
  });

  // (2) #GP
  it('#GP(0) at CPL 3, after the #UD checks', () => {
    expect(launch(base((s) => { s.l1.cpl = 3; }))).toEqual({ verdict: { kind: '#GP' }, rule: 'gp-cpl' });
    expect(launch(base((s) => { s.l1.cpl = 3; s.l1.vmxon = false; })).verdict).toEqual({ kind: '#UD' });
  });

  // (3) VMfailInvalid
  it('VMfailInvalid without a current VMCS or with a shadow VMCS current', () => {
    expect(launch(base((s) => { s.current_vmptr = 0xffff_ffff_ffff_ffffn; }))).toEqual({ verdict: { kind: 'vmfail-invalid' }, rule: 'vmfail-invalid-no-current-vmcs' });
    expect(launch(base((s) => { s.vmcs12_shadow = true; })).verdict).toEqual({ kind: 'vmfail-invalid' });
  });

  // (4) MOV SS
  it('VMfailValid(26) when events are blocked by MOV SS', () => {
    expect(launch(base((s) => { s.l1.interruptibility = 2; })).verdict).toEqual({ kind: 'vmfail-valid', error: 26 });
  });

  // (5) launch state
  it('VMfailValid(4) for VMLAUNCH of a launched VMCS, 5 for VMRESUME of a clear one', () => {
    expect(launch(base((s) => { s.launch_state = 'launched'; })).verdict).toEqual({ kind: 'vmfail-valid', error: 4 });
    expect(sdmVmlaunch(base(), { launch: false }).verdict).toEqual({ kind: 'vmfail-valid', error: 5 });
  });

  // (6) controls
  it('VMfailValid(7) for a pin-based control outside the allowed-1 settings', () => {
    const j = launch(base((s) => { s.vmcs12.pin_based_vm_exec_control |= 0x80000000; }));
    expect(j).toEqual({ verdict: { kind: 'vmfail-valid', error: 7 }, rule: 'ctl-pin-allowed' });
  });

  it('VMfailValid(7) for further control rules', () => {
    // UC EPTP memory type is never advertised by KVM's EPT caps
    expect(launch(base((s) => { s.vmcs12.ept_pointer &= ~7n; })).rule).toBe('ctl-eptp-memtype');
    // virtual NMIs without NMI exiting
    expect(launch(base((s) => { s.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VIRTUAL_NMIS; })).rule).toBe('ctl-virtual-nmis-need-nmi-exiting');
    // reserved injection type 1
    expect(launch(base((s) => { s.vmcs12.vm_entry_intr_info_field = 0x80000100; })).rule).toBe('ctl-inj-type-reserved');
    // #GP (13) injected without an error code in protected mode
    expect(launch(base((s) => { s.vmcs12.vm_entry_intr_info_field = 0x8000030d; })).rule).toBe('ctl-inj-deliver-ec-mismatch');
    // VPID 0
    expect(launch(base((s) => { s.vmcs12.virtual_processor_id = 0; })).rule).toBe('ctl-vpid-nonzero');
    // secondary controls are ignored when "activate secondary controls" is 0
    expect(launch(base((s) => {
      s.vmcs12.cpu_based_vm_exec_control &= ~0x80000000;
      s.vmcs12.secondary_vm_exec_control = 0xffffffff;
    })).verdict.kind).not.toBe('vmfail-valid');
  });

  it('VMfailValid(7) for an MSR-load count of 513 (the listed KVM choice for an undefined case)', () => {
    const j = launch(base((s) => { s.vmcs12.vm_entry_msr_load_count = 513; }));
    expect(j).toEqual({ verdict: { kind: 'vmfail-valid', error: 7 }, rule: 'ctl-entry-msr-load-count-above-max' });
    expect(SDM_DEVIATIONS.find((d) => d.id === 'msr-count-above-max')?.kind).toBe('undefined');
  });

  // (7) host state
  it('VMfailValid(8) for host CR4.PKE without PKU in CPUID (though CR4_FIXED1 allows it)', () => {
    const s = base((x) => { x.vmcs12.host_cr4 |= CR4.PKE; });
    expect((s.caps.cr4Fixed1 & CR4.PKE) !== 0n).toBe(true);
    expect(launch(s)).toEqual({ verdict: { kind: 'vmfail-valid', error: 8 }, rule: 'host-cr4-fixed' });
    s.guest.cpuid.pku = true;
    expect(launch(s).verdict).toEqual({ kind: 'entered' });
  });

  it('VMfailValid(8) for host rules; controls are checked first', () => {
    expect(launch(base((s) => { s.vmcs12.host_tr_selector = 0; })).rule).toBe('host-tr-selector-null');
    expect(launch(base((s) => { s.vmcs12.host_rip = 0x0000_8000_0000_0000n; })).rule).toBe('host-ia32e-rip-canonical');
    const asz = launch(base((s) => {
      s.vmcs12.vm_exit_controls &= ~VM_EXIT.HOST_ADDR_SPACE_SIZE;
      s.vmcs12.vm_exit_controls &= ~VM_EXIT.LOAD_IA32_EFER;
    }));
    expect(asz).toEqual({ verdict: { kind: 'vmfail-valid', error: 8 }, rule: 'host-address-space-size' });
    const both = launch(base((s) => { s.vmcs12.host_tr_selector = 0; s.vmcs12.pin_based_vm_exec_control |= 0x80000000; }));
    expect(both.verdict).toEqual({ kind: 'vmfail-valid', error: 7 });
  });

  // (8) guest state
  it('exit 33 for guest CR0.PG without PE (unrestricted guest relaxes PE/PG, not PG ⇒ PE)', () => {
    const j = launch(base((s) => {
      s.vmcs12.secondary_vm_exec_control |= SECONDARY.UNRESTRICTED_GUEST;
      s.vmcs12.guest_cr0 &= ~CR0.PE;
    }));
    expect(j).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 0n }, rule: 'guest-cr0-pg-without-pe' });
  });

  it('exit 33 for an IA-32e mode guest with CR4.PAE clear', () => {
    expect(launch(base((s) => { s.vmcs12.guest_cr4 &= ~CR4.PAE; }))).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 0n }, rule: 'guest-ia32e-pg-pae' });
  });

  it('exit 33 for a bad TR type (32-bit busy TSS is fine outside IA-32e mode only)', () => {
    expect(launch(base((s) => { s.vmcs12.guest_tr_ar_bytes = 0x0083; }))).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 0n }, rule: 'guest-tr-type' });
  });

  it('exit 33 for RFLAGS, interruptibility and activity rules', () => {
    expect(launch(base((s) => { s.vmcs12.guest_rflags = 0n; })).rule).toBe('guest-rflags-reserved');
    expect(launch(base((s) => { s.vmcs12.guest_interruptibility_info = 1; })).rule).toBe('guest-intr-sti-if');
    expect(launch(base((s) => { s.vmcs12.guest_activity_state = 2; })).rule).toBe('guest-activity-supported');
  });

  it('exit 33 qual 4 for a VMCS link pointer with a wrong header; entered with the right one', () => {
    const lp = 0x5000n;
    const wrong = base((s) => { s.vmcs12.vmcs_link_pointer = lp; write64(s, lp, 0x1234n); });
    expect(launch(wrong)).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 4n }, rule: 'guest-link-ptr-revision' });
    const right = base((s) => { s.vmcs12.vmcs_link_pointer = lp; write64(s, lp, BigInt(VMCS12_REVISION)); });
    expect(launch(right).verdict).toEqual({ kind: 'entered' });
    const shadowBit = base((s) => { s.vmcs12.vmcs_link_pointer = lp; write64(s, lp, BigInt(VMCS12_REVISION) | 0x80000000n); });
    expect(launch(shadowBit).rule).toBe('guest-link-ptr-shadow');
    const current = base((s) => { s.vmcs12.vmcs_link_pointer = s.current_vmptr; write64(s, s.current_vmptr, BigInt(VMCS12_REVISION)); });
    expect(launch(current)).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 4n }, rule: 'guest-link-ptr-current' });
  });

  it('exit 33 qual 2 for a PAE guest (EPT) with a reserved bit in a present PDPTE', () => {
    const s = base((x) => {
      x.vmcs12.vm_entry_controls &= ~VM_ENTRY.IA32E_MODE;
      x.vmcs12.guest_ia32_efer = 0n;
      x.vmcs12.guest_cs_ar_bytes = 0xc09b;
    });
    expect(launch(s).verdict).toEqual({ kind: 'entered' });
    s.vmcs12.guest_pdptr1 = 1n | (1n << 5n);
    expect(launch(s)).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 2n }, rule: 'guest-pdpte-reserved-ept' });
    // without EPT the PDPTEs come from guest CR3 in memory
    s.vmcs12.secondary_vm_exec_control &= ~SECONDARY.ENABLE_EPT;
    expect(launch(s).verdict).toEqual({ kind: 'entered' });
    write64(s, s.vmcs12.guest_cr3 + 8n, 1n | (1n << 5n));
    expect(launch(s)).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 2n }, rule: 'guest-pdpte-reserved-memory' });
    expect(HARDWARE_CHECKED_GUEST_RULES.has('guest-pdpte-reserved-memory')).toBe(false);
    expect(HARDWARE_CHECKED_GUEST_RULES.has('guest-pdpte-reserved-ept')).toBe(true);
  });

  // (9) MSR-load list
  it('exit 34 with qual 2 for FS_BASE as the second MSR-load entry', () => {
    const s = base((x) => msrList(x, [{ index: 0xc0000081, value: 0x0023001000000000n }, { index: 0xc0000100, value: 0n }]));
    expect(launch(s)).toEqual({ verdict: { kind: 'exit', reason: 34, qual: 2n }, rule: 'msr-load-fs-gs-base' });
  });

  it('MSR-load entries: valid loads enter; WRMSR #GP, unknown MSRs and reserved bits fail at their index', () => {
    expect(launch(base((x) => msrList(x, [{ index: 0x277, value: 0x0007040600070406n }, { index: 0xc0000082, value: 0xffff_8000_0000_0000n }]))).verdict)
      .toEqual({ kind: 'entered' });
    expect(launch(base((x) => msrList(x, [{ index: 0x277, value: 0x08n }]))))
      .toEqual({ verdict: { kind: 'exit', reason: 34, qual: 1n }, rule: 'msr-load-wrmsr-gp' });
    expect(launch(base((x) => msrList(x, [{ index: 0x10, value: 0n }, { index: 0x12345, value: 0n }]))).verdict)
      .toEqual({ kind: 'exit', reason: 34, qual: 2n });
    expect(launch(base((x) => msrList(x, [{ index: 0x10, value: 0n, reserved: 1 }]))).rule).toBe('msr-load-reserved');
    expect(launch(base((x) => msrList(x, [{ index: 0x808, value: 0n }]))).rule).toBe('msr-load-x2apic');
    // EFER.LME may not change while the guest's CR0.PG = 1
    expect(launch(base((x) => msrList(x, [{ index: 0xc0000080, value: EFER.LMA }]))).rule).toBe('msr-load-wrmsr-gp');
    // an entry beyond L1's RAM
    const far = base((x) => {
      x.vmcs12.vm_entry_msr_load_addr = x.ram_top - 16n;
      msrList(x, [{ index: 0x10, value: 0n }]);
      x.vmcs12.vm_entry_msr_load_count = 2;
    });
    expect(launch(far)).toEqual({ verdict: { kind: 'exit', reason: 34, qual: 2n }, rule: 'msr-load-unreadable' });
  });

  it('guest-state rules (33) come before the MSR-load list (34); KVM\'s reverse order is a listed difference', () => {
    const s = base((x) => {
      x.vmcs12.guest_tr_ar_bytes = 0x0083;
      msrList(x, [{ index: 0xc0000100, value: 0n }]);
    });
    const j = launch(s);
    expect(j.verdict).toEqual({ kind: 'exit', reason: 33, qual: 0n });
    expect(HARDWARE_CHECKED_GUEST_RULES.has('guest-tr-type')).toBe(true);
    expect(listedOrderDifference(j.rule!, 'entry-msr-load')?.id).toBe('entry-order-msr-load-before-hw-guest-checks');
    expect(listedOrderDifference('guest-cr0-fixed', 'entry-msr-load')).toBeUndefined();
    expect(listedOrderDifference('guest-tr-type', 'guest-cr0-fixed')).toBeUndefined();
  });

  it('two failing guest-state rules: SDM order gives qual 0, KVM\'s order 4 — a listed difference only when both rules fail', () => {
    const s = base((x) => {
      x.vmcs12.guest_cr4 &= ~CR4.PAE;
      x.vmcs12.vmcs_link_pointer = 0x5000n;
    });
    expect(launch(s)).toEqual({ verdict: { kind: 'exit', reason: 33, qual: 0n }, rule: 'guest-ia32e-pg-pae' });
    expect(listedGuestQualDifference(s, { launch: true }, 4n)?.id).toBe('guest-qual-order');
    expect(listedGuestQualDifference(s, { launch: true }, 2n)).toBeUndefined();
    expect(listedGuestQualDifference(base((x) => { x.vmcs12.guest_cr4 &= ~CR4.PAE; }), { launch: true }, 4n)).toBeUndefined();
  });

  it('SDM-only rules KVM leaves unchecked are listed by rule id', () => {
    const s = base((x) => {
      x.vmcs12.cpu_based_vm_exec_control |= 1 << 21; // use TPR shadow; VTPR (byte 80H of the zeroed page) = 0
      x.vmcs12.tpr_threshold = 5;
    });
    const j = launch(s);
    expect(j).toEqual({ verdict: { kind: 'vmfail-valid', error: 7 }, rule: 'ctl-tpr-threshold-vs-vtpr' });
    expect(deviationsForRule(j.rule!).map((d) => d.id)).toEqual(['vtpr-threshold-unchecked']);
    expect(deviationsForRule('guest-link-ptr-vmxon').map((d) => d.id)).toEqual(['link-ptr-current-vmxon-unchecked']);
    expect(deviationsForRule('guest-cr0-fixed')).toEqual([]);
  });
});

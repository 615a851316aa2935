// runVmx end to end: each ordered outcome of nested_vmx_run from the valid base with one change
// (spec §2.2 lattice), the failed-entry path's exact effects, the hardware layer's place after the
// MSR-load list, SET_NESTED_STATE, the preemption timer, the x2APIC bitmap merge, and totality.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4, EFER } from '../../../src/arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY } from '../../../src/arch/vmx/controls.ts';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import { INTR_INFO } from '../../../src/arch/vmx/intr_info.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { runVmx } from '../../../src/engine/vmx/run.ts';
import { memKey, type VmxScenario } from '../../../src/engine/vmx/scenario.ts';
import { validVmxScenario } from '../../../src/engine/vmx/scenario_base.ts';

const kvm = getProfile('kvm-next') as Profile;
const bug = (name: string): Profile => getProfile(name) as Profile;
const FAILED = 0x80000000;

function scn(edit: (s: VmxScenario) => void = () => {}, l0?: Parameters<typeof validVmxScenario>[0]): VmxScenario {
  const s = validVmxScenario(l0);
  edit(s);
  return s;
}

/** Writes MSR-list entries (index, value) at gpa in the scenario's memory. */
function msrList(s: VmxScenario, gpa: bigint, entries: [number, bigint, number?][]): void {
  entries.forEach(([index, value, reserved = 0], i) => {
    const at = gpa + BigInt(i) * 16n;
    s.mem[memKey(at)] = BigInt(index) | (BigInt(reserved) << 32n);
    s.mem[memKey(at + 8n)] = value;
  });
}

describe('runVmx: the valid base', () => {
  it('enters L2, L2 VMCALL exits to L1 with the host state and launch state launched', () => {
    const s = scn();
    const r = runVmx(s, kvm);
    expect(r.outcome).toBe('entered');
    expect(r.l2_exit?.reason).toBe(18);
    expect(r.after.vmcs12.vm_exit_reason).toBe(18);
    expect(r.after.vmcs12.vm_exit_instruction_len).toBe(3);
    expect(r.after.launch_state).toBe('launched');
    expect(r.after.l1.rip).toBe(s.vmcs12.host_rip);
    expect(r.after.l1.rsp).toBe(s.vmcs12.host_rsp);
    expect(r.after.l1.rflags).toBe(2n);
    expect(r.after.guest_mode).toBe(false);
    expect(r.trace.warns()).toEqual([]);
  });
  it('is deterministic and leaves the caller\'s scenario untouched', () => {
    const s = scn();
    const copy = structuredClone(s);
    const a = runVmx(s, kvm);
    const b = runVmx(s, kvm);
    expect(s).toEqual(copy);
    expect(a.trace.events).toEqual(b.trace.events);
    expect(a.after).toEqual(b.after);
  });
});

describe('runVmx: nested_vmx_run ordered outcomes (spec §2.2)', () => {
  it('#UD outside VMX operation, before the CPL check', () => {
    const r = runVmx(scn((s) => { s.l1.vmxon = false; s.l1.cpl = 3; }), kvm);
    expect(r.outcome).toBe('#UD');
    expect(r.after.l1.rip).toBe(r.before.l1.rip);
  });
  it('#GP(0) at CPL 3; CVE-2018-12904 emulated it instead', () => {
    const s = scn((x) => { x.l1.cpl = 3; });
    expect(runVmx(s, kvm).outcome).toBe('#GP');
    expect(runVmx(s, bug('cve-2018-12904')).outcome).toBe('entered');
  });
  it('VMfailInvalid without a current VMCS (CF set, no error number, RIP advanced)', () => {
    const r = runVmx(scn((s) => { s.current_vmptr = 0xffffffffffffffffn; }), kvm);
    expect(r.outcome).toBe('vmfail-invalid');
    expect(r.after.l1.rflags & 1n).toBe(1n);
    expect(r.after.l1.rip).toBe(r.before.l1.rip + 3n);
  });
  it('VMfailInvalid for a shadow VMCS', () => {
    expect(runVmx(scn((s) => { s.vmcs12_shadow = true; }), kvm).outcome).toBe('vmfail-invalid');
  });
  it('VMfailValid 26 with MOV-SS blocking, before the launch state', () => {
    const r = runVmx(scn((s) => { s.l1.interruptibility = 2; s.launch_state = 'launched'; }), kvm);
    expect([r.outcome, r.vm_instruction_error]).toEqual(['vmfail-valid', 26]);
    expect(r.after.vmcs12.vm_instruction_error).toBe(26);
    expect(r.after.l1.rflags & 0x40n).toBe(0x40n);
  });
  it('4 for VMLAUNCH of a launched VMCS, 5 for VMRESUME of a clear one', () => {
    expect(runVmx(scn((s) => { s.launch_state = 'launched'; }), kvm).vm_instruction_error).toBe(4);
    expect(runVmx(scn((s) => { s.path = 'vmresume'; }), kvm).vm_instruction_error).toBe(5);
    const resumed = runVmx(scn((s) => { s.path = 'vmresume'; s.launch_state = 'launched'; }), kvm);
    expect(resumed.outcome).toBe('entered');
  });
  it('7 for a control check, before 8 for a host-state check', () => {
    const r = runVmx(scn((s) => { s.vmcs12.virtual_processor_id = 0; s.vmcs12.host_tr_selector = 0; }), kvm);
    expect(r.vm_instruction_error).toBe(7);
    expect(r.trace.failedChecks()).toEqual(['vpid-zero']);
  });
  it('8 for the host address-space size against L1 EFER.LMA, and for host state', () => {
    expect(runVmx(scn((s) => { s.vmcs12.host_tr_selector = 0; }), kvm).vm_instruction_error).toBe(8);
    const r = runVmx(scn((s) => { s.l1.efer &= ~EFER.LMA; s.l1.seg.cs.ar &= ~(1 << 13); }), kvm);
    expect(r.vm_instruction_error).toBe(8);
    expect(r.trace.failedChecks()).toEqual(['host-addr-space-size-lma-mismatch']);
  });
  it('a VMfail changes only RFLAGS, RIP and VM_INSTRUCTION_ERROR; TF queues the single-step #DB', () => {
    const r = runVmx(scn((s) => { s.vmcs12.virtual_processor_id = 0; s.l1.rflags = 0x102n; }), kvm);
    expect(r.after.exception).toEqual({ vector: 1, payload: 1n << 14n });
    expect(r.after.l1.dr6 & (1n << 14n)).toBe(1n << 14n);
    const { rflags: _a, rip: _b, dr6: _c, ...restAfter } = r.after.l1;
    const { rflags: _d, rip: _e, dr6: _f, ...restBefore } = r.before.l1;
    expect(restAfter).toEqual(restBefore);
  });
});

describe('runVmx: failed VM entry (exit 33/34)', () => {
  it('guest-state check ⇒ exit 33|bit31, qual 0, host state with the fixed values, no other exit-info field', () => {
    const s = scn((x) => { x.vmcs12.guest_activity_state = 2; x.vmcs12.vm_exit_intr_info = 0x1234; x.l1.dr7 = 0x4ffn; });
    const r = runVmx(s, kvm);
    expect(r.outcome).toBe('entry-failure');
    expect(r.rejected_by).toBe('kvm');
    expect(r.exit_reason).toBe((33 | FAILED) >>> 0);
    expect(r.exit_qualification).toBe(0n);
    expect(r.after.vmcs12.vm_exit_intr_info).toBe(0x1234);
    expect(r.after.launch_state).toBe('clear');
    expect(r.after.l1.rflags).toBe(2n);
    expect(r.after.l1.dr7).toBe(0x400n);
    expect(r.after.l1.gdtr.limit).toBe(0xffff);
    expect(r.after.l1.seg.tr.limit).toBe(0x67);
    expect(r.after.l1.seg.ldtr.ar).toBe(0x10000);
    expect(r.after.l1.rip).toBe(s.vmcs12.host_rip);
  });
  it('the VMCS link pointer ⇒ qualification 4', () => {
    const r = runVmx(scn((s) => { s.vmcs12.vmcs_link_pointer = 0x5000n; }), kvm);
    expect([r.exit_reason, r.exit_qualification]).toEqual([(33 | FAILED) >>> 0, 4n]);
  });
  it('PAE guest without nested EPT and a bad PDPTE ⇒ qualification 2 (nested_vmx_load_cr3)', () => {
    const s = scn((x) => {
      const v = x.vmcs12;
      v.secondary_vm_exec_control &= ~SECONDARY.ENABLE_EPT;
      v.vm_entry_controls &= ~VM_ENTRY.IA32E_MODE;
      v.guest_ia32_efer = 0n;
      v.guest_cs_ar_bytes = 0xc09b;
      x.mem[memKey(v.guest_cr3)] = 0x5001n | (1n << 5n); // present, reserved bit 5 set
    });
    const r = runVmx(s, kvm);
    expect([r.exit_reason, r.exit_qualification]).toEqual([(33 | FAILED) >>> 0, 2n]);
  });
  it('the VM-entry MSR-load list: 1-based index of the failing entry ⇒ exit 34; earlier entries stay loaded', () => {
    const s = scn((x) => {
      x.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      x.vmcs12.vm_entry_msr_load_count = 3;
      msrList(x, 0x1b000n, [[0x174, 0x10n], [0xc0000081, 0x1234n], [0xc0000100, 0n]]);
    });
    const r = runVmx(s, kvm);
    expect([r.exit_reason, r.exit_qualification]).toEqual([(34 | FAILED) >>> 0, 3n]);
    expect(r.msr_writes.map((w) => w.index)).toEqual([0x174, 0xc0000081]);
    expect(r.after.l1.msrs['0xc0000081']).toBe(0x1234n);
  });
  it('KVM order: a bad segment plus a bad MSR-load entry gives 34 (the CPU\'s segment check comes after)', () => {
    const s = scn((x) => {
      x.vmcs12.guest_tr_ar_bytes = 0x0083; // TR type 3 in IA-32e mode: hardware rule
      x.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      x.vmcs12.vm_entry_msr_load_count = 1;
      msrList(x, 0x1b000n, [[0xc0000100, 0n]]);
    });
    expect(runVmx(s, kvm).exit_reason).toBe((34 | FAILED) >>> 0);
    const hwOnly = runVmx(scn((x) => { x.vmcs12.guest_tr_ar_bytes = 0x0083; }), kvm);
    expect(hwOnly.exit_reason).toBe((33 | FAILED) >>> 0);
    expect(hwOnly.rejected_by).toBe('hardware');
    expect(hwOnly.hardware?.owner).toBe('hardware');
  });
  it('an MSR count above 512 is VMfail 7; without the check the load fails at entry 513', () => {
    const s = scn((x) => {
      x.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      x.vmcs12.vm_entry_msr_load_count = 513;
      msrList(x, 0x1b000n, Array.from({ length: 513 }, () => [0x174, 0n] as [number, bigint]));
    });
    expect(runVmx(s, kvm).vm_instruction_error).toBe(7);
    const b = runVmx(s, bug('msr-list-count-unchecked'));
    expect([b.outcome, b.exit_qualification]).toEqual(['entry-failure', 513n]);
  });
});

describe('runVmx: historical bugs change the outcome', () => {
  it('CVE-2023-30456: IA-32e without PAE is exit 33 from KVM; without the check, L0 without EPT enters L2', () => {
    const s = scn((x) => { x.vmcs12.guest_cr4 &= ~CR4.PAE; }, { l0: { enable_ept: false } });
    expect(runVmx(s, kvm).rejected_by).toBe('kvm');
    expect(runVmx(s, bug('cve-2023-30456')).outcome).toBe('entered');
    const withEpt = scn((x) => { x.vmcs12.guest_cr4 &= ~CR4.PAE; });
    const hw = runVmx(withEpt, bug('cve-2023-30456'));
    expect([hw.outcome, hw.rejected_by, hw.hardware?.owner]).toEqual(['entry-failure', 'hardware', 'kvm']);
  });
  it('CVE-2023-30456: CR0.PG without PE under unrestricted guest is KVM\'s exit 33; without the check the CPU catches it', () => {
    const s = scn((x) => {
      x.vmcs12.secondary_vm_exec_control |= SECONDARY.UNRESTRICTED_GUEST;
      x.vmcs12.guest_cr0 &= ~CR0.PE;
    });
    expect(runVmx(s, kvm).trace.failedChecks()).toEqual(['guest-cr0-pg-without-pe']);
    const b = runVmx(s, bug('cve-2023-30456'));
    expect([b.rejected_by, b.hardware?.rule, b.hardware?.owner]).toEqual(['hardware', 'hw-guest-cr0-pg-without-pe', 'kvm']);
    // Without unrestricted guest CR0_FIXED0 already requires PE.
    expect(runVmx(scn((x) => { x.vmcs12.guest_cr0 &= ~CR0.PE; }), kvm).trace.failedChecks()).toEqual(['guest-cr0-fixed-bits']);
  });
  it('error code bits 31:16: VMfail 7 from KVM, a late VMfail from the CPU without the check', () => {
    const s = scn((x) => {
      x.vmcs12.vm_entry_intr_info_field = (INTR_INFO.VALID | INTR_INFO.DELIVER_CODE | (3 << 8) | 14) >>> 0;
      x.vmcs12.vm_entry_exception_error_code = 0x10002;
    });
    const k = runVmx(s, kvm);
    expect([k.vm_instruction_error, k.late_vmfail]).toEqual([7, false]);
    const b = runVmx(s, bug('error-code-high-bits'));
    expect([b.vm_instruction_error, b.late_vmfail, b.hardware?.owner]).toEqual([7, true, 'kvm']);
  });
  it('CVE-2019-3887: APIC-register virtualization without x2APIC mode passes x2APIC reads to L2 only in the bug', () => {
    const s = scn((x) => {
      x.vmcs12.cpu_based_vm_exec_control |= CPU_BASED.TPR_SHADOW;
      x.vmcs12.secondary_vm_exec_control |= SECONDARY.APIC_REGISTER_VIRT;
      x.l2 = { kind: 'rdmsr', msr: 0x802 };
    });
    const k = runVmx(s, kvm);
    expect(k.vmcs02?.x2apic_passthrough).toEqual([]);
    const b = runVmx(s, bug('cve-2019-3887'));
    expect(b.vmcs02?.x2apic_passthrough).toContain('r:0x802');
    expect(b.l2_event).toBe('l0-x2apic-accessed');
  });
  it('CVE-2019-7221: destroying the vCPU in L2 leaves the preemption timer armed only in the bug', () => {
    const s = scn((x) => {
      x.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER;
      x.vmcs12.vmx_preemption_timer_value = 1000;
      x.l2 = { kind: 'vcpu-destroy' };
    });
    expect(runVmx(s, kvm).after.timer_armed).toBe(false);
    const b = runVmx(s, bug('cve-2019-7221'));
    expect([b.after.timer_armed, b.after.freed]).toEqual([true, true]);
  });
  it('a timer armed before the entry succeeded survives a failed entry (mutant)', () => {
    const s = scn((x) => {
      x.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER;
      x.vmcs12.guest_activity_state = 2;
    });
    expect(runVmx(s, kvm).after.timer_armed).toBe(false);
    expect(runVmx(s, bug('mutant-timer-armed-early')).after.timer_armed).toBe(true);
  });
});

describe('runVmx: window exits right after VM entry (SDM 26.7.5, 26.7.6)', () => {
  const l2Exit = (edit: (s: VmxScenario) => void): number | undefined => runVmx(scn((x) => { x.l2 = { kind: 'cpuid' }; edit(x); }), kvm).l2_exit?.reason;
  const nmiWindow = (x: VmxScenario): void => {
    x.vmcs12.pin_based_vm_exec_control |= PIN_BASED.NMI_EXITING | PIN_BASED.VIRTUAL_NMIS;
    x.vmcs12.cpu_based_vm_exec_control |= CPU_BASED.NMI_WINDOW_EXITING;
  };
  it('an open NMI window L1 exits on comes before L2\'s first instruction; virtual-NMI, MOV-SS or STI blocking holds it', () => {
    expect(l2Exit(() => {})).toBe(10);
    expect(l2Exit(nmiWindow)).toBe(8);
    // STI blocking needs RFLAGS.IF set (SDM 26.3.1.5).
    for (const blocking of [1, 2, 8]) expect(l2Exit((x) => { nmiWindow(x); x.vmcs12.guest_rflags |= 1n << 9n; x.vmcs12.guest_interruptibility_info = blocking; })).toBe(10);
  });
  it('an interrupt window opens with RFLAGS.IF and no STI or MOV-SS blocking, after the NMI window', () => {
    const intrWindow = (x: VmxScenario): void => { x.vmcs12.cpu_based_vm_exec_control |= CPU_BASED.INTR_WINDOW_EXITING; };
    expect(l2Exit((x) => { intrWindow(x); x.vmcs12.guest_rflags |= 1n << 9n; })).toBe(7);
    expect(l2Exit((x) => { intrWindow(x); x.vmcs12.guest_rflags &= ~(1n << 9n); })).toBe(10);
    expect(l2Exit((x) => { intrWindow(x); x.vmcs12.guest_rflags |= 1n << 9n; x.vmcs12.guest_interruptibility_info = 1; })).toBe(10);
    expect(l2Exit((x) => { intrWindow(x); nmiWindow(x); x.vmcs12.guest_rflags |= 1n << 9n; })).toBe(8);
  });
  it('a zero preemption timer comes first, and an injected event defers both windows', () => {
    expect(l2Exit((x) => { nmiWindow(x); x.vmcs12.pin_based_vm_exec_control |= PIN_BASED.VMX_PREEMPTION_TIMER; x.vmcs12.vmx_preemption_timer_value = 0; })).toBe(52);
    expect(l2Exit((x) => { nmiWindow(x); x.vmcs12.vm_entry_intr_info_field = INTR_INFO.VALID | (3 << 8) | 6; })).toBe(10);
  });
});

describe('runVmx: KVM_SET_NESTED_STATE', () => {
  it('enters guest mode without the MOV-SS, launch-state and MSR-load-list checks', () => {
    const s = scn((x) => {
      x.path = 'set-nested-state';
      x.l1.interruptibility = 2;
      x.launch_state = 'launched';
      x.vmcs12.vm_entry_msr_load_count = 1;
      x.vmcs12.vm_entry_msr_load_addr = 0x1b000n;
      msrList(x, 0x1b000n, [[0xc0000100, 0n]]);
    });
    const r = runVmx(s, kvm);
    expect(r.outcome).toBe('entered');
    expect(r.msr_writes).toEqual([]);
  });
  it('-EINVAL for a state the checks refuse; guest EFER only with RUN_PENDING', () => {
    expect(runVmx(scn((x) => { x.path = 'set-nested-state'; x.vmcs12.virtual_processor_id = 0; }), kvm).outcome).toBe('einval');
    const efer = (pending: boolean) => scn((x) => {
      x.path = 'set-nested-state';
      x.nested_state.run_pending = pending;
      x.vmcs12.guest_ia32_efer = EFER.LME; // LMA clear with IA32E_MODE set
    });
    expect(runVmx(efer(true), kvm).outcome).toBe('einval');
    expect(runVmx(efer(false), kvm).outcome).not.toBe('einval');
  });
});

describe('runVmx: totality', () => {
  it('never throws on arbitrary vmcs12 field values and paths', () => {
    const field = fc.constantFrom(...VMCS12_FIELDS);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(field, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 12 }),
        fc.constantFrom('vmlaunch', 'vmresume', 'set-nested-state'),
        fc.constantFrom('vmcall', 'cpuid', 'hlt', 'vcpu-destroy'),
        (edits, path, l2) => {
          const s = validVmxScenario();
          for (const [f, x] of edits) {
            const v = s.vmcs12 as unknown as Record<string, bigint | number>;
            v[f.name] = typeof v[f.name] === 'bigint' ? x : Number(x & 0xffffffffn);
          }
          s.path = path as VmxScenario['path'];
          s.l2 = { kind: l2 } as VmxScenario['l2'];
          const r = runVmx(s, kvm);
          expect(typeof r.outcome).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
  });
});

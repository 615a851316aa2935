import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CR0 } from '../../src/arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, VM_ENTRY, VM_EXIT } from '../../src/arch/vmx/controls.ts';
import { checkVmcs12State, formatVmcs12Verdict, vmxScenarioFromState, type Vmcs12Verdict } from '../../src/campaign/checkVmcs12.ts';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { validVmxScenario } from '../../src/engine/vmx/scenario_base.ts';
import { cli, expectOneLineError, tempDir } from './helpers.ts';

const KVM_NEXT = getProfile('kvm-next')!;
const BASE = validVmxScenario().vmcs12;
const hex = (v: bigint | number): string => `0x${(typeof v === 'number' ? BigInt(v >>> 0) : v).toString(16)}`;
const CR4_PKE = 1n << 22n;
const NONCANONICAL = '0xaaaaaaaaaaaaaaaa';

/** An MSR-load list at 0x1b000: entry 1 IA32_SYSENTER_CS = 0, entry 2 IA32_FS_BASE (refused in the list). */
const MSR_LIST_STATE = {
  vmcs12: { vm_entry_msr_load_count: 2, vm_entry_msr_load_addr: '0x1b000' },
  memory: { '0x1b000': '74010000000000000000000000000000' + '000100c0000000000000000000000000' },
};

function check(state: unknown): Vmcs12Verdict {
  return checkVmcs12State(state, KVM_NEXT, 'test.json');
}

describe('check --vmcs12 (module)', () => {
  it('should enter L2 with an empty state (every field from validVmxScenario) and report its VMCALL exit', () => {
    expect(check({})).toEqual({ outcome: 'entered', vm_instruction_error: null, exit_reason: '0x12', exit_qualification: '0x0', failed_checks: [] });
  });

  it('should VMfail(7) with VPID 0 and name vpid-zero', () => {
    expect(check({ vmcs12: { virtual_processor_id: '0x0' } })).toEqual({
      outcome: 'vmfail-valid', vm_instruction_error: 7, exit_reason: null, exit_qualification: null, failed_checks: ['vpid-zero'],
    });
  });

  it('should fail the entry with exit 33, qualification 0, for guest activity state 2', () => {
    expect(check({ vmcs12: { guest_activity_state: 2 } })).toMatchObject({
      outcome: 'entry-failure', vm_instruction_error: null, exit_reason: '0x80000021', exit_qualification: '0x0',
    });
  });

  it('should fail the entry with exit 34, qualification 2, for FS_BASE as entry 2 of the MSR-load list', () => {
    expect(check(MSR_LIST_STATE)).toMatchObject({ outcome: 'entry-failure', exit_reason: '0x80000022', exit_qualification: '0x2' });
  });

  it('should raise #GP for a VMLAUNCH at CPL 3', () => {
    expect(check({ l1: { cpl: 3 } })).toMatchObject({ outcome: '#GP', vm_instruction_error: null, exit_reason: null });
  });

  it('should apply caps overrides: CR4_FIXED1 without PKE rejects a guest CR4 with PKE', () => {
    const cr4 = hex(BASE.guest_cr4 | CR4_PKE);
    const fixed1 = hex(validVmxScenario().caps.cr4Fixed1 & ~CR4_PKE);
    // With PKU in CPUID and the default caps, CR4.PKE is fine ...
    expect(check({ caps: { pku: true }, vmcs12: { guest_cr4: cr4 } }).outcome).toBe('entered');
    // ... and CR4_FIXED1 without PKE makes it a fixed-bit violation.
    expect(check({ caps: { pku: true, IA32_VMX_CR4_FIXED1: fixed1 }, vmcs12: { guest_cr4: cr4 } })).toMatchObject({
      outcome: 'entry-failure', exit_reason: '0x80000021', failed_checks: ['guest-cr4-fixed-bits'],
    });
  });

  it('should map the control MSRs to allowed-0 (low) and allowed-1 (high) dwords', () => {
    const s = vmxScenarioFromState({ caps: { IA32_VMX_TRUE_PINBASED_CTLS: '0x0000007f00000016', IA32_VMX_EPT_VPID_CAP: '0x00000f0100000000', maxphyaddr: 39, la57: true } });
    expect([s.caps.pinbasedCtlsLow, s.caps.pinbasedCtlsHigh, s.caps.eptCaps, s.caps.vpidCaps]).toEqual([0x16, 0x7f, 0, 0xf01]);
    expect(s.guest.maxphyaddr).toBe(39);
    expect(s.guest.cpuid.la57).toBe(true);
  });

  it('should truncate vmcs12 values to the field width and write memory bytes little-endian into 8-byte words', () => {
    const s = vmxScenarioFromState({ vmcs12: { virtual_processor_id: '0x12345', guest_rip: 0x1000 }, memory: { '0x1b004': '0102030405' } });
    expect(s.vmcs12.virtual_processor_id).toBe(0x2345);
    expect(s.vmcs12.guest_rip).toBe(0x1000n);
    expect(s.mem['0x1b000']).toBe(0x0403020100000000n);
    expect(s.mem['0x1b008']).toBe(0x05n);
  });

  it('should take l1 registers, launch state, current VMCS pointer and path', () => {
    const s = vmxScenarioFromState({ l1: { cr4: '0x2020', rflags: 2, x2apic: true, launch_state: 'launched', current_vmptr: '0x5000', path: 'vmresume', seg: { cs: { selector: '0x10' } } } });
    expect([s.l1.cr4, s.l1.rflags, s.l1.x2apic, s.launch_state, s.current_vmptr, s.path, s.l1.seg.cs.selector]).toEqual([0x2020n, 2n, true, 'launched', 0x5000n, 'vmresume', 0x10]);
    // VMRESUME of a clear VMCS: VMfail(5).
    expect(check({ l1: { path: 'vmresume' } })).toMatchObject({ outcome: 'vmfail-valid', vm_instruction_error: 5 });
  });

  it('should reject unknown names and bad values with a one-line NESTFUZZ_BAD_INPUT error', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ vmcs12: { guest_rip2: '0x0' } }, /unknown vmcs12 field "guest_rip2"/],
      [{ vmcs12: { guest_rip: 'zero' } }, /vmcs12\.guest_rip is "zero"/],
      [{ l1: { cr9: '0x0' } }, /unknown field "l1\.cr9"/],
      [{ l1: { cpl: 4 } }, /l1\.cpl is 4/],
      [{ caps: { IA32_VMX_PINBASED_CTLS: '0x0' } }, /unknown field "caps\.IA32_VMX_PINBASED_CTLS"/],
      [{ memory: { '0x1000': 'xyz' } }, /not a string of hex bytes/],
      [{ vmcb12: {} }, /unknown top-level key "vmcb12"/],
      [[], /top level must be a JSON object/],
    ];
    for (const [state, re] of bad) {
      let err: unknown;
      try {
        check(state);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NestfuzzError);
      const e = err as NestfuzzError;
      expect(e.code).toBe('NESTFUZZ_BAD_INPUT');
      expect(e.toLine()).toMatch(re);
      expect(e.toLine()).not.toContain('\n');
    }
  });

  it('should refuse a profile that models a nested-SVM bug', () => {
    expect(() => checkVmcs12State({}, getProfile('cve-2021-29657')!)).toThrow(/models a nested-SVM bug/);
  });

  it('should render one readable line', () => {
    expect(formatVmcs12Verdict(check({ vmcs12: { virtual_processor_id: 0 } }), 'a.json')).toBe('a.json: vmfail-valid, VM-instruction error 7, failed: vpid-zero');
  });
});

// kvm-unit-tests x86/vmx_tests.c expectations (facts only; the same cases tests/engine/vmx/kvm_unit_tests.spec.ts
// checks rule by rule), re-expressed as state.json and judged end to end: test_vmx_invalid_controls →
// VMfailValid 7; test_vmx_vmlaunch(VMXERR_ENTRY_INVALID_HOST_STATE_FIELD) → VMfailValid 8;
// test_guest_state(xfail) → VM exit 33 with qualification 0; the valid variants enter L2.
describe('check --vmcs12 agrees with kvm-unit-tests', () => {
  type Expect = { vmfail: 7 | 8; rule: string } | { exit33: string } | 'enters';
  const cases: Array<[string, Record<string, unknown>, Expect]> = [
    ['test_cr3_targets: CR3-target count 1', { cr3_target_count: 1 }, { vmfail: 7, rule: 'cr3-target-count-nonzero' }],
    ['test_io_bitmaps: I/O bitmap A = PAGE_SIZE - 1',
      { cpu_based_vm_exec_control: hex(BASE.cpu_based_vm_exec_control | CPU_BASED.USE_IO_BITMAPS), io_bitmap_a: '0xfff' }, { vmfail: 7, rule: 'io-bitmap-a-invalid' }],
    ['test_msr_bitmap: MSR bitmap = 1 << 11', { msr_bitmap: '0x800' }, { vmfail: 7, rule: 'msr-bitmap-invalid' }],
    ['test_msr_bitmap: MSR bitmap = 1 << 12', { msr_bitmap: '0x1000' }, 'enters'],
    ['test_vpid: VPID enabled with vpid 1 << 15', { virtual_processor_id: '0x8000' }, 'enters'],
    ['test_nmi_ctrls: NMI exiting 0, virtual NMIs 1',
      { pin_based_vm_exec_control: hex((BASE.pin_based_vm_exec_control & ~PIN_BASED.NMI_EXITING) | PIN_BASED.VIRTUAL_NMIS) }, { vmfail: 7, rule: 'virtual-nmis-without-nmi-exiting' }],
    ['test_ept_eptp: EPT memory type 7', { ept_pointer: hex((BASE.ept_pointer & ~7n) | 7n) }, { vmfail: 7, rule: 'eptp-memtype-invalid' }],
    ['test_host_ctl_regs: HOST_CR0 with PE cleared', { host_cr0: hex(BASE.host_cr0 & ~CR0.PE) }, { vmfail: 8, rule: 'host-cr0-fixed-bits' }],
    ['test_host_segment_regs: HOST_SEL_CS = 0', { host_cs_selector: 0 }, { vmfail: 8, rule: 'host-cs-selector-zero' }],
    ['test_host_addr_size: HOST_RIP non-canonical', { host_rip: NONCANONICAL }, { vmfail: 8, rule: 'host-rip-noncanonical' }],
    ['test_load_host_pat: HOST_PAT 0x02 (reserved type)',
      { vm_exit_controls: hex(BASE.vm_exit_controls | VM_EXIT.LOAD_IA32_PAT), host_ia32_pat: '0x2' }, { vmfail: 8, rule: 'host-pat-invalid' }],
    ['test_guest_dr7: GUEST_DR7 = 1 << 32 with load debug controls',
      { vm_entry_controls: hex(BASE.vm_entry_controls | VM_ENTRY.LOAD_DEBUG_CONTROLS), guest_dr7: '0x100000000' }, { exit33: 'guest-dr7-upper-bits' }],
    ['test_load_guest_pat: GUEST_PAT 0x80 with load IA32_PAT',
      { vm_entry_controls: hex(BASE.vm_entry_controls | VM_ENTRY.LOAD_IA32_PAT), guest_ia32_pat: '0x80' }, { exit33: 'guest-pat-invalid' }],
    ['test_guest_efer: GUEST_EFER reserved bit 1 set', { guest_ia32_efer: hex(BASE.guest_ia32_efer | 2n) }, { exit33: 'guest-efer-invalid' }],
  ];
  for (const [name, vmcs12, want] of cases) {
    it(name, () => {
      const v = check({ vmcs12 });
      if (want === 'enters') {
        expect(v).toMatchObject({ outcome: 'entered', failed_checks: [] });
      } else if ('vmfail' in want) {
        expect(v).toEqual({ outcome: 'vmfail-valid', vm_instruction_error: want.vmfail, exit_reason: null, exit_qualification: null, failed_checks: [want.rule] });
      } else {
        expect(v).toEqual({ outcome: 'entry-failure', vm_instruction_error: null, exit_reason: '0x80000021', exit_qualification: '0x0', failed_checks: [want.exit33] });
      }
    });
  }
});

describe('check --vmcs12 (cli)', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir('vmcs12'));
    writeFileSync(join(dir, 'empty.json'), '{}');
    writeFileSync(join(dir, 'vpid0.json'), JSON.stringify({ vmcs12: { virtual_processor_id: '0x0' } }));
    writeFileSync(join(dir, 'bad-field.json'), JSON.stringify({ vmcs12: { no_such_field: '0x1' } }));
    writeFileSync(join(dir, 'broken.json'), '{"vmcs12": ');
    mkdirSync(join(dir, 'states'));
    writeFileSync(join(dir, 'states', 'a-activity.json'), JSON.stringify({ vmcs12: { guest_activity_state: 2 } }));
    writeFileSync(join(dir, 'states', 'b-msr-list.json'), JSON.stringify(MSR_LIST_STATE));
    writeFileSync(join(dir, 'states', 'c-cpl3.json'), JSON.stringify({ l1: { cpl: 3 } }));
    writeFileSync(join(dir, 'states', 'd-valid.json'), '{}');
    writeFileSync(join(dir, 'states', 'ignored.txt'), 'not a state');
  });
  afterAll(() => cleanup());

  it('should print the verdict as one JSON line with --json and exit 0', () => {
    const r = cli('check', '--vmcs12', join(dir, 'vpid0.json'), '--json');
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({ outcome: 'vmfail-valid', vm_instruction_error: 7, exit_reason: null, exit_qualification: null, failed_checks: ['vpid-zero'] });
  });

  it('should print a readable line without --json', () => {
    const r = cli('check', '--vmcs12', join(dir, 'empty.json'), '--profile', 'unified');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('entered, L2 exit 0x12 qual 0x0, no check failed\n');
  });

  it('should judge every *.json of a directory, sorted, with a file key', () => {
    const r = cli('check', '--vmcs12', join(dir, 'states'), '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.file, l.outcome, l.exit_reason, l.exit_qualification])).toEqual([
      ['a-activity.json', 'entry-failure', '0x80000021', '0x0'],
      ['b-msr-list.json', 'entry-failure', '0x80000022', '0x2'],
      ['c-cpl3.json', '#GP', null, null],
      ['d-valid.json', 'entered', '0x12', '0x0'],
    ]);
    const text = cli('check', '--vmcs12', join(dir, 'states'));
    expect(text.stdout.trimEnd().split('\n')[2]).toMatch(/^c-cpl3\.json: #GP, failed: /);
  });

  it('should exit 2 with one line for an unknown vmcs12 field', () => {
    expectOneLineError(cli('check', '--vmcs12', join(dir, 'bad-field.json')), /unknown vmcs12 field "no_such_field"/);
  });

  it('should exit 2 with one line for malformed JSON', () => {
    expectOneLineError(cli('check', '--vmcs12', join(dir, 'broken.json')), /broken\.json is not valid JSON/);
  });

  it('should exit 2 for a missing file, --vmcb with --vmcs12, and an SVM bug profile', () => {
    expectOneLineError(cli('check', '--vmcs12', join(dir, 'nope.json')), /cannot read .*nope\.json/);
    expectOneLineError(cli('check', '--vmcs12', join(dir, 'empty.json'), '--vmcb', join(dir, 'x.bin')), /cannot be combined/);
    expectOneLineError(cli('check', '--vmcs12', join(dir, 'empty.json'), '--profile', 'cve-2021-29657'), /models a nested-SVM bug/);
  });
});

// nested_svm_inject_npf_exit and nested_ept_inject_page_fault: what vmcb12 / vmcs12 get for a fault
// the CPU reported (from_hardware) and for one L0 found itself, in today's kernel and before the fixes.

import { describe, expect, it } from 'vitest';
import { nested_ept_inject_page_fault, nested_svm_inject_npf_exit } from '../../../src/engine/mmu/inject.ts';
import { PFERR, type X86Exception } from '../../../src/engine/mmu/types.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { Trace } from '../../../src/engine/trace.ts';

const kvm = getProfile('kvm-next') as Profile;
const fault = (error_code: bigint, address: bigint, exit_qualification = 0n): X86Exception => ({
  vector: 14, error_code_valid: true, error_code, nested_page_fault: true, address, exit_qualification,
});
const IOIO = { exit_code: 0x7bn, exit_info_1: 0xdead0000n, exit_info_2: 0xbeefn };
const STALE_NPF = { exit_code: 0x400n, exit_info_1: (1n << 32n) | 0x6n, exit_info_2: 0x1234567n };

describe('nested_svm_inject_npf_exit', () => {
  it('a synthesized paging-structure fault reports GUEST_PAGE and the walker\'s address, whatever vmcb02 held', () => {
    for (const stale of [IOIO, STALE_NPF]) {
      const r = nested_svm_inject_npf_exit(new Trace(), kvm, stale, fault(PFERR.GUEST_PAGE | PFERR.WRITE | PFERR.USER, 0x201000n), false);
      expect(r).toEqual({ exit_code: 0x400n, exit_info_1: PFERR.GUEST_PAGE | PFERR.WRITE | PFERR.USER, exit_info_2: 0x201000n });
    }
  });
  it('a hardware #NPF keeps the CPU\'s stage bit', () => {
    const r = nested_svm_inject_npf_exit(new Trace(), kvm, STALE_NPF, fault(PFERR.WRITE | PFERR.USER, 0x300123n), true);
    expect(r.exit_info_1).toBe(PFERR.GUEST_FINAL | PFERR.WRITE | PFERR.USER);
  });
  it('no stage bit at all: WARN and report FINAL', () => {
    const t = new Trace();
    const r = nested_svm_inject_npf_exit(t, kvm, IOIO, fault(PFERR.USER, 0x1000n), false);
    expect(r.exit_info_1 & (PFERR.GUEST_FINAL | PFERR.GUEST_PAGE)).toBe(PFERR.GUEST_FINAL);
    expect(t.warns()).toEqual(['nested_svm_inject_npf_exit-fault-stage']);
  });
  it('before 297c2fe249db: FINAL hard-coded, and a stale #NPF\'s exit_info_2 survives', () => {
    const old = getProfile('npf-stage-hardcoded') as Profile;
    const a = nested_svm_inject_npf_exit(new Trace(), old, IOIO, fault(PFERR.GUEST_PAGE | PFERR.USER, 0x201000n), false);
    expect(a.exit_info_1).toBe((1n << 32n) | PFERR.USER);
    const b = nested_svm_inject_npf_exit(new Trace(), old, STALE_NPF, fault(PFERR.GUEST_PAGE | PFERR.USER, 0x201000n), false);
    expect(b.exit_info_2).toBe(STALE_NPF.exit_info_2);
  });
});

describe('nested_ept_inject_page_fault', () => {
  const hw = { reason: 30, qual: 0x1ffn, gpa: 0x55n, gla: 0x66n };
  it('a synthesized violation keeps the walker\'s GVA bits; the GLA is vmcs02\'s', () => {
    const r = nested_ept_inject_page_fault(new Trace(), kvm, hw, fault(PFERR.WRITE, 0x201000n, 0x83n), false, true);
    expect(r).toEqual({ reason: 48, qual: 0x83n, gpa: 0x201000n, gla: 0x66n });
  });
  it('a hardware violation takes bits 7–8 (and 9–11 with advanced info) from vmcs02', () => {
    const r = nested_ept_inject_page_fault(new Trace(), kvm, { ...hw, qual: 0xe81n }, fault(PFERR.WRITE, 0x201000n, 0x83n), true, true);
    expect(r.qual).toBe(0x3n | 0xe80n);
  });
  it('RSVD ⇒ EPT misconfig with qualification 0', () => {
    const r = nested_ept_inject_page_fault(new Trace(), kvm, hw, fault(PFERR.RSVD | PFERR.PRESENT, 0x201000n), false, true);
    expect([r.reason, r.qual]).toEqual([49, 0n]);
  });
  it('before 96b067b59ad9 the GVA bits came from the stale qualification', () => {
    const r = nested_ept_inject_page_fault(new Trace(), getProfile('ept-gva-bits-stale') as Profile, hw, fault(PFERR.WRITE, 0x201000n, 0x83n), false, true);
    expect(r.qual).toBe(0x3n | 0x180n);
  });
});

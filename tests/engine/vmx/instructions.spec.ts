// Directed tests of the VMX instructions (SDM 31.3; KVM handle_vmxon..handle_vmwrite), in the style
// of kvm-unit-tests' vmx.c: each quotes its rule and expects the exact outcome, error number and
// RFLAGS bits (nested_vmx_succeed / failInvalid / failValid, spec §2.1).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvmNestedVmxMsrs, VMX_MISC } from '../../../src/arch/vmx/caps.ts';
import { VMXERR } from '../../../src/arch/vmx/errors.ts';
import { highEncoding } from '../../../src/arch/vmx/encoding.ts';
import { VMCS } from '../../../src/arch/vmx/fields.ts';
import { VMCS12_REVISION } from '../../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import { Trace } from '../../../src/engine/trace.ts';
import {
  handle_vmclear, handle_vmptrld, handle_vmptrst, handle_vmread, handle_vmwrite, handle_vmxoff, handle_vmxon,
  type VmxInsnCtx,
} from '../../../src/engine/vmx/instructions.ts';
import { INVALID_GPA, newVmcsRegion, newVmxVcpu, type VmxVcpu } from '../../../src/engine/vmx/vcpu.ts';

const p = getProfile('kvm-next')!;
const VMXON_PTR = 0x1000n;
const VMCS_A = 0x2000n;
const VMCS_B = 0x3000n;
const CF = 1n << 0n;
const ZF = 1n << 6n;
const ARITH = 0x8d5n; // CF PF AF ZF SF OF

function vcpu(): VmxVcpu {
  const v = newVmxVcpu({ rflags: 0x2n | ARITH });
  v.vmx.vmcs12s.set(VMXON_PTR, newVmcsRegion());
  v.vmx.vmcs12s.set(VMCS_A, newVmcsRegion());
  v.vmx.vmcs12s.set(VMCS_B, newVmcsRegion());
  return v;
}

function ctxOf(v: VmxVcpu): VmxInsnCtx {
  return { v, t: new Trace(), p };
}

/** In VMX operation with VMCS_A current. */
function loaded(): VmxInsnCtx {
  const c = ctxOf(vcpu());
  expect(handle_vmxon(c, { gpa: VMXON_PTR }).outcome).toBe('vmsucceed');
  expect(handle_vmptrld(c, { gpa: VMCS_A }).outcome).toBe('vmsucceed');
  c.v.rflags = 0x2n | ARITH;
  c.t = new Trace();
  return c;
}

function expectFailValid(c: VmxInsnCtx, r: ReturnType<typeof handle_vmxon>, err: number): void {
  expect(r).toEqual({ outcome: 'vmfail-valid', error: err });
  expect(c.v.rflags & ARITH).toBe(ZF);
  expect(c.v.vmx.cached_vmcs12!.vmcs12.vm_instruction_error).toBe(err);
}

function expectFailInvalid(c: VmxInsnCtx, r: ReturnType<typeof handle_vmxon>): void {
  expect(r).toEqual({ outcome: 'vmfail-invalid' });
  expect(c.v.rflags & ARITH).toBe(CF);
}

describe('vmx instructions', () => {
  describe('handle_vmxon', () => {
    it('should succeed, clear CF PF AF ZF SF OF and skip the instruction', () => {
      const c = ctxOf(vcpu());
      const rip = c.v.rip;
      expect(handle_vmxon(c, { gpa: VMXON_PTR, insn_len: 4 })).toEqual({ outcome: 'vmsucceed' });
      expect(c.v.rflags & ARITH).toBe(0n);
      expect(c.v.rip).toBe(rip + 4n);
      expect(c.v.vmx.vmxon).toBe(true);
      expect(c.v.vmx.vmxon_ptr).toBe(VMXON_PTR);
    });
    it('should #UD with CR4.VMXE = 0 and leave RIP alone', () => {
      const c = ctxOf(vcpu());
      c.v.cr4 &= ~(1n << 13n);
      const rip = c.v.rip;
      expect(handle_vmxon(c, { gpa: VMXON_PTR })).toEqual({ outcome: '#UD' });
      expect(c.v.rip).toBe(rip);
      expect(c.t.failedChecks()).toEqual(['vmxon-cr4-vmxe-clear']);
    });
    it('should #UD in compatibility mode (EFER.LMA = 1, CS.L = 0)', () => {
      const c = ctxOf(vcpu());
      c.v.cs_l = false;
      expect(handle_vmxon(c, { gpa: VMXON_PTR }).outcome).toBe('#UD');
      expect(c.t.failedChecks()).toEqual(['vmx-insn-compat-mode']);
    });
    it('should #GP at CPL > 0', () => {
      const c = ctxOf(vcpu());
      c.v.cpl = 3;
      expect(handle_vmxon(c, { gpa: VMXON_PTR }).outcome).toBe('#GP');
      expect(c.t.failedChecks()).toEqual(['vmx-insn-cpl-nonzero']);
    });
    it('should #GP when CR0 violates IA32_VMX_CR0_FIXED0 (NE clear)', () => {
      const c = ctxOf(vcpu());
      c.v.cr0 &= ~(1n << 5n);
      expect(handle_vmxon(c, { gpa: VMXON_PTR }).outcome).toBe('#GP');
      expect(c.t.failedChecks()).toEqual(['vmxon-cr0-fixed-bits']);
    });
    it('should #GP when CR4 violates IA32_VMX_CR4_FIXED1', () => {
      const c = ctxOf(vcpu());
      c.v.caps = { ...kvmNestedVmxMsrs(), cr4Fixed1: 0x2000n };
      expect(handle_vmxon(c, { gpa: VMXON_PTR }).outcome).toBe('#GP');
      expect(c.t.failedChecks()).toEqual(['vmxon-cr4-fixed-bits']);
    });
    it('should VMfailValid(VMXON_IN_VMX_ROOT_OPERATION = 15) with a current VMCS', () => {
      const c = loaded();
      expectFailValid(c, handle_vmxon(c, { gpa: VMXON_PTR }), VMXERR.VMXON_IN_VMX_ROOT_OPERATION);
      expect(VMXERR.VMXON_IN_VMX_ROOT_OPERATION).toBe(15);
    });
    it('should VMfailInvalid when already on without a current VMCS', () => {
      const c = ctxOf(vcpu());
      handle_vmxon(c, { gpa: VMXON_PTR });
      expectFailInvalid(c, handle_vmxon(c, { gpa: VMXON_PTR }));
    });
    it('should VMfailInvalid for an unaligned pointer, one beyond MAXPHYADDR, or a wrong revision', () => {
      for (const gpa of [VMXON_PTR + 8n, 1n << 46n, 0x5000n]) {
        const c = ctxOf(vcpu());
        expectFailInvalid(c, handle_vmxon(c, { gpa }));
        expect(c.v.vmx.vmxon).toBe(false);
      }
      const c = ctxOf(vcpu());
      c.v.vmx.vmcs12s.set(VMXON_PTR, newVmcsRegion({ revision_id: (VMCS12_REVISION | 0x80000000) >>> 0 }));
      expectFailInvalid(c, handle_vmxon(c, { gpa: VMXON_PTR }));
      expect(c.t.failedChecks()).toEqual(['vmxon-revision-mismatch']);
    });
  });

  describe('handle_vmxoff', () => {
    it('should #UD outside VMX operation', () => {
      const c = ctxOf(vcpu());
      expect(handle_vmxoff(c).outcome).toBe('#UD');
      expect(c.t.failedChecks()).toEqual(['vmx-insn-not-in-vmx-operation']);
    });
    it('should leave VMX operation, flush the current vmcs12 and VMsucceed', () => {
      const c = loaded();
      handle_vmwrite(c, { field: BigInt(VMCS.GUEST_RIP), value: 0x1234n });
      expect(handle_vmxoff(c)).toEqual({ outcome: 'vmsucceed' });
      expect(c.v.rflags & ARITH).toBe(0n);
      expect(c.v.vmx.vmxon).toBe(false);
      expect(c.v.vmx.current_vmptr).toBe(INVALID_GPA);
      expect(c.v.vmx.vmcs12s.get(VMCS_A)!.vmcs12.guest_rip).toBe(0x1234n);
    });
  });

  describe('handle_vmclear', () => {
    it('should VMfailValid(VMCLEAR_INVALID_ADDRESS = 2) for an unaligned pointer', () => {
      const c = loaded();
      expectFailValid(c, handle_vmclear(c, { gpa: VMCS_B + 1n }), 2);
    });
    it('should VMfailValid(VMCLEAR_VMXON_POINTER = 3) for the VMXON pointer', () => {
      const c = loaded();
      expectFailValid(c, handle_vmclear(c, { gpa: VMXON_PTR }), 3);
    });
    it('should clear the launch state, flush the current vmcs12 and reset current_vmptr', () => {
      const c = loaded();
      c.v.vmx.cached_vmcs12!.launch_state = true;
      handle_vmwrite(c, { field: BigInt(VMCS.GUEST_RIP), value: 0x42n });
      expect(handle_vmclear(c, { gpa: VMCS_A })).toEqual({ outcome: 'vmsucceed' });
      expect(c.v.rflags & ARITH).toBe(0n);
      expect(c.v.vmx.current_vmptr).toBe(INVALID_GPA);
      const region = c.v.vmx.vmcs12s.get(VMCS_A)!;
      expect(region.launch_state).toBe(false);
      expect(region.vmcs12.guest_rip).toBe(0x42n);
    });
    it('should clear the launch state of a non-current VMCS and keep the current one', () => {
      const c = loaded();
      c.v.vmx.vmcs12s.get(VMCS_B)!.launch_state = true;
      expect(handle_vmclear(c, { gpa: VMCS_B }).outcome).toBe('vmsucceed');
      expect(c.v.vmx.vmcs12s.get(VMCS_B)!.launch_state).toBe(false);
      expect(c.v.vmx.current_vmptr).toBe(VMCS_A);
    });
  });

  describe('handle_vmptrld', () => {
    it('should VMfailValid(VMPTRLD_INVALID_ADDRESS = 9) beyond MAXPHYADDR', () => {
      const c = loaded();
      expectFailValid(c, handle_vmptrld(c, { gpa: 1n << 50n }), 9);
    });
    it('should VMfailValid(VMPTRLD_VMXON_POINTER = 10) for the VMXON pointer', () => {
      const c = loaded();
      expectFailValid(c, handle_vmptrld(c, { gpa: VMXON_PTR }), 10);
    });
    it('should VMfailValid(VMPTRLD_INCORRECT_VMCS_REVISION_ID = 11) for a wrong revision', () => {
      const c = loaded();
      c.v.vmx.vmcs12s.get(VMCS_B)!.revision_id = 0x1234;
      expectFailValid(c, handle_vmptrld(c, { gpa: VMCS_B }), 11);
      expect(c.v.vmx.current_vmptr).toBe(VMCS_A);
    });
    it('should VMfailInvalid for a wrong revision without a current VMCS', () => {
      const c = ctxOf(vcpu());
      handle_vmxon(c, { gpa: VMXON_PTR });
      expectFailInvalid(c, handle_vmptrld(c, { gpa: 0x9000n }));
    });
    it('should make the VMCS current and VMPTRST should store it', () => {
      const c = loaded();
      expect(handle_vmptrst(c)).toEqual({ outcome: 'vmsucceed', value: VMCS_A });
    });
  });

  describe('handle_vmread / handle_vmwrite', () => {
    it('should VMfailInvalid without a current VMCS', () => {
      const c = ctxOf(vcpu());
      handle_vmxon(c, { gpa: VMXON_PTR });
      expectFailInvalid(c, handle_vmread(c, { field: BigInt(VMCS.GUEST_RIP) }));
      expectFailInvalid(c, handle_vmwrite(c, { field: BigInt(VMCS.GUEST_RIP), value: 1n }));
    });
    it('should VMfailValid(UNSUPPORTED_VMCS_COMPONENT = 12) for an unknown field', () => {
      const c = loaded();
      expectFailValid(c, handle_vmread(c, { field: 0x7ffen }), 12);
      expectFailValid(c, handle_vmwrite(c, { field: 1n << 40n, value: 0n }), 12);
    });
    it('should VMfailValid(VMWRITE_READ_ONLY_VMCS_COMPONENT = 13) without IA32_VMX_MISC bit 29', () => {
      const c = loaded();
      c.v.caps = { ...c.v.caps, miscLow: c.v.caps.miscLow & ~Number(VMX_MISC.VMWRITE_SHADOW_RO_FIELDS) };
      expectFailValid(c, handle_vmwrite(c, { field: BigInt(VMCS.EXIT_QUALIFICATION), value: 1n }), 13);
    });
    it('should write a read-only field when IA32_VMX_MISC bit 29 is advertised', () => {
      const c = loaded();
      expect(handle_vmwrite(c, { field: BigInt(VMCS.EXIT_QUALIFICATION), value: 7n }).outcome).toBe('vmsucceed');
      expect(handle_vmread(c, { field: BigInt(VMCS.EXIT_QUALIFICATION) })).toEqual({ outcome: 'vmsucceed', value: 7n });
    });
    it('should round-trip a 64-bit field through FULL and HIGH accesses', () => {
      const c = loaded();
      expect(handle_vmwrite(c, { field: BigInt(VMCS.TSC_OFFSET), value: 0x1122334455667788n }).outcome).toBe('vmsucceed');
      expect(handle_vmwrite(c, { field: BigInt(highEncoding(VMCS.TSC_OFFSET)), value: 0xaabbccddn }).outcome).toBe('vmsucceed');
      expect(handle_vmread(c, { field: BigInt(highEncoding(VMCS.TSC_OFFSET)) })).toEqual({ outcome: 'vmsucceed', value: 0xaabbccddn });
      expect(handle_vmread(c, { field: BigInt(VMCS.TSC_OFFSET) })).toEqual({ outcome: 'vmsucceed', value: 0xaabbccdd55667788n });
      expect(c.v.rflags & ARITH).toBe(0n);
    });
    it('should use 32-bit operands outside 64-bit mode', () => {
      const c = loaded();
      c.v.efer = 0n;
      c.v.cs_l = false;
      c.v.cr0 = 0x31n; // paging off, still protected mode
      expect(handle_vmwrite(c, { field: BigInt(VMCS.GUEST_RIP), value: 0x1_0000_0005n }).outcome).toBe('vmsucceed');
      expect(c.v.vmx.cached_vmcs12!.vmcs12.guest_rip).toBe(5n);
      // The field register is 32 bits: bits 63:32 of the operand are ignored.
      expect(handle_vmread(c, { field: (1n << 32n) | BigInt(VMCS.GUEST_RIP) })).toEqual({ outcome: 'vmsucceed', value: 5n });
    });
    it('should drop the reserved AR-byte bits on VMWRITE', () => {
      const c = loaded();
      handle_vmwrite(c, { field: BigInt(VMCS.GUEST_CS_AR_BYTES), value: 0xffffffffn });
      expect(handle_vmread(c, { field: BigInt(VMCS.GUEST_CS_AR_BYTES) }).value).toBe(0x1f0ffn);
    });
  });

  describe('totality', () => {
    it('should never throw on arbitrary operands and vCPU state', () => {
      const big = fc.bigInt({ min: -(1n << 70n), max: 1n << 70n });
      const gpa = fc.oneof(big, fc.constantFrom(VMXON_PTR, VMCS_A, VMCS_B, INVALID_GPA, 0n));
      const insn = fc.oneof(
        fc.record({ k: fc.constant('vmxon' as const), gpa }),
        fc.record({ k: fc.constant('vmxoff' as const) }),
        fc.record({ k: fc.constant('vmclear' as const), gpa }),
        fc.record({ k: fc.constant('vmptrld' as const), gpa }),
        fc.record({ k: fc.constant('vmptrst' as const) }),
        fc.record({ k: fc.constant('vmread' as const), field: fc.oneof(big, fc.integer({ min: 0, max: 0x7fff }).map(BigInt)) }),
        fc.record({ k: fc.constant('vmwrite' as const), field: fc.oneof(big, fc.integer({ min: 0, max: 0x7fff }).map(BigInt)), value: big }),
      );
      const state = fc.record({
        cpl: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.constant(Number.NaN)),
        cr0: big, cr4: big, efer: big, rflags: big, rip: big, cs_l: fc.boolean(), smm: fc.boolean(),
        maxphyaddr: fc.oneof(fc.integer({ min: -5, max: 80 }), fc.constant(Number.NaN)),
        msr_ia32_feature_control: big,
        insn_len: fc.oneof(fc.integer({ min: -2, max: 20 }), fc.constant(Number.NaN)),
        revision: fc.oneof(fc.constant(VMCS12_REVISION), fc.integer()),
      });
      fc.assert(
        fc.property(state, fc.array(insn, { maxLength: 12 }), (s, insns) => {
          const v = newVmxVcpu({ cpl: s.cpl, cr0: s.cr0, cr4: s.cr4, efer: s.efer, rflags: s.rflags, rip: s.rip, cs_l: s.cs_l, smm: s.smm, maxphyaddr: s.maxphyaddr, msr_ia32_feature_control: s.msr_ia32_feature_control });
          v.vmx.vmcs12s.set(VMXON_PTR, newVmcsRegion({ revision_id: s.revision }));
          v.vmx.vmcs12s.set(VMCS_A, newVmcsRegion());
          const c = ctxOf(v);
          const outcomes = new Set(['#UD', '#GP', 'vmsucceed', 'vmfail-invalid', 'vmfail-valid']);
          for (const i of insns) {
            const op = { insn_len: s.insn_len };
            const r =
              i.k === 'vmxon' ? handle_vmxon(c, { ...op, gpa: i.gpa })
              : i.k === 'vmxoff' ? handle_vmxoff(c, op)
              : i.k === 'vmclear' ? handle_vmclear(c, { ...op, gpa: i.gpa })
              : i.k === 'vmptrld' ? handle_vmptrld(c, { ...op, gpa: i.gpa })
              : i.k === 'vmptrst' ? handle_vmptrst(c, op)
              : i.k === 'vmread' ? handle_vmread(c, { ...op, field: i.field })
              : handle_vmwrite(c, { ...op, field: i.field, value: i.value });
            expect(outcomes.has(r.outcome)).toBe(true);
          }
          expect(c.t.warns()).toEqual([]);
        }),
        { numRuns: 300, seed: 0x5eed },
      );
    });
  });
});

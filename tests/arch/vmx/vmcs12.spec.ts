import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessWidth, highEncoding } from '../../../src/arch/vmx/encoding.ts';
import { VMCS, VMCS12_FIELDS, VMCS12_UNSUPPORTED_FIELDS } from '../../../src/arch/vmx/fields.ts';
import {
  VMCS12_HDR_OFFSET, VMCS12_HDR_SHADOW_VMCS, VMCS12_LAUNCH_STATE, VMCS12_REVISION, VMCS12_SIZE, cloneVmcs12,
  vmcs12Get, vmcs12Set, zeroVmcs12,
} from '../../../src/arch/vmx/vmcs12.ts';
import { distinctVmcs12 } from './helpers.ts';

describe('vmcs12', () => {
  describe('header constants', () => {
    it('should match struct vmcs12 (vmcs12.h, spec §1.2)', () => {
      expect(VMCS12_REVISION).toBe(0x11e57ed0);
      expect(VMCS12_HDR_SHADOW_VMCS).toBe(0x80000000);
      expect(VMCS12_SIZE).toBe(4096);
      expect(VMCS12_HDR_OFFSET).toEqual({ revision_id: 0, abort: 4, launch_state: 8, first_field: 40 });
      expect(VMCS12_LAUNCH_STATE).toEqual({ CLEAR: 0, LAUNCHED: 1 });
    });
  });

  describe('zeroVmcs12', () => {
    it('should hold every table field, bigint for 64-bit/natural-width and number otherwise', () => {
      const v = zeroVmcs12() as Record<string, unknown>;
      expect(Object.keys(v).sort()).toEqual(VMCS12_FIELDS.map((f) => f.name).sort());
      for (const f of VMCS12_FIELDS) expect(v[f.name], f.name).toBe(f.width === 64 || f.width === 'natural' ? 0n : 0);
    });
  });

  describe('cloneVmcs12', () => {
    it('should copy, not alias', () => {
      const a = distinctVmcs12();
      const b = cloneVmcs12(a);
      expect(b).toEqual(a);
      b.guest_rip = 1n;
      expect(a.guest_rip).not.toBe(1n);
    });
  });

  describe('vmcs12Get', () => {
    it('should read the full field zero-extended to u64 (vmcs12_read_any)', () => {
      const v = zeroVmcs12();
      v.guest_rip = 0xffffffff8000fff0n;
      v.guest_cs_selector = 0x10;
      v.vm_exit_reason = 0x80000021;
      v.ept_pointer = 0x1111222233334444n;
      expect(vmcs12Get(v, VMCS.GUEST_RIP)).toBe(0xffffffff8000fff0n);
      expect(vmcs12Get(v, VMCS.GUEST_CS_SELECTOR)).toBe(0x10n);
      expect(vmcs12Get(v, VMCS.VM_EXIT_REASON)).toBe(0x80000021n);
      expect(vmcs12Get(v, VMCS.EPT_POINTER)).toBe(0x1111222233334444n);
    });

    it('should read bits 63:32 through the *_HIGH encoding', () => {
      const v = zeroVmcs12();
      v.ept_pointer = 0x1111222233334444n;
      expect(vmcs12Get(v, 0x201b)).toBe(0x11112222n);
    });

    it('should be undefined for an encoding KVM does not support (VMfailValid 12)', () => {
      const v = distinctVmcs12();
      expect(vmcs12Get(v, 0x681f)).toBeUndefined(); // GUEST_RIP "high"
      expect(vmcs12Get(v, 0x4001)).toBeUndefined();
      for (const u of VMCS12_UNSUPPORTED_FIELDS) expect(vmcs12Get(v, u.encoding), u.sdm).toBeUndefined();
    });
  });

  describe('vmcs12Set', () => {
    it('should truncate a write to a 16-bit or 32-bit field to its width (vmcs12_write_any)', () => {
      const v = zeroVmcs12();
      expect(vmcs12Set(v, VMCS.GUEST_CS_SELECTOR, 0x12345)).toBe(true);
      expect(v.guest_cs_selector).toBe(0x2345);
      expect(vmcs12Set(v, VMCS.PIN_BASED_VM_EXEC_CONTROL, 0x1_0000_0016n)).toBe(true);
      expect(v.pin_based_vm_exec_control).toBe(0x16);
      expect(vmcs12Set(v, VMCS.EXCEPTION_BITMAP, -1)).toBe(true);
      expect(v.exception_bitmap).toBe(0xffffffff);
    });

    it('should keep all 64 bits of a 64-bit or natural-width field, modulo 2^64', () => {
      const v = zeroVmcs12();
      vmcs12Set(v, VMCS.GUEST_RIP, 0xffffffffffffffffn);
      expect(v.guest_rip).toBe(0xffffffffffffffffn);
      vmcs12Set(v, VMCS.VMCS_LINK_POINTER, (1n << 64n) + 5n);
      expect(v.vmcs_link_pointer).toBe(5n);
      vmcs12Set(v, VMCS.HOST_RIP, -1n);
      expect(v.host_rip).toBe(0xffffffffffffffffn);
    });

    it('should replace bits 63:32 through the *_HIGH encoding and keep bits 31:0', () => {
      const v = zeroVmcs12();
      v.ept_pointer = 0x1111222233334444n;
      expect(vmcs12Set(v, highEncoding(VMCS.EPT_POINTER), 0xaaaabbbbccccn)).toBe(true);
      expect(v.ept_pointer).toBe(0xbbbbcccc33334444n);
      vmcs12Set(v, VMCS.EPT_POINTER, 0x5e);
      expect(v.ept_pointer).toBe(0x5en); // full write of a 32-bit value clears bits 63:32
    });

    it('should store to exit-information fields too (the read-only check is the caller\'s)', () => {
      const v = zeroVmcs12();
      expect(vmcs12Set(v, VMCS.VM_INSTRUCTION_ERROR, 7)).toBe(true);
      expect(v.vm_instruction_error).toBe(7);
    });

    it('should refuse an unsupported encoding and change nothing', () => {
      const v = distinctVmcs12();
      const before = cloneVmcs12(v);
      expect(vmcs12Set(v, 0x681f, 1n)).toBe(false);
      expect(vmcs12Set(v, 0x6008, 1n)).toBe(false); // CR3_TARGET_VALUE0
      expect(vmcs12Set(v, 0x12000, 1n)).toBe(false);
      expect(v).toEqual(before);
    });

    it('should read back what it wrote, truncated to the access width, leaving other fields alone', () => {
      const encs = VMCS12_FIELDS.flatMap((f) => (f.width === 64 ? [f.encoding, highEncoding(f.encoding)] : [f.encoding]));
      fc.assert(
        fc.property(fc.constantFrom(...encs), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), (enc, x) => {
          const v = distinctVmcs12();
          const before = cloneVmcs12(v);
          expect(vmcs12Set(v, enc, x)).toBe(true);
          expect(vmcs12Get(v, enc)).toBe(BigInt.asUintN(accessWidth(enc), x));
          const name = VMCS12_FIELDS.find((f) => f.encoding === (enc & ~1))!.name;
          expect({ ...v, [name]: 0 }).toEqual({ ...before, [name]: 0 });
        }),
      );
    });

    it('should compose a 64-bit value from a full write of the low half and a high write', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (x) => {
          const v = zeroVmcs12();
          vmcs12Set(v, VMCS.TSC_OFFSET, x & 0xffffffffn);
          vmcs12Set(v, highEncoding(VMCS.TSC_OFFSET), x >> 32n);
          expect(v.tsc_offset).toBe(x);
          expect(vmcs12Get(v, highEncoding(VMCS.TSC_OFFSET))).toBe(x >> 32n);
        }),
      );
    });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accessWidth, decodeEncoding, describeEncoding, encodingHex, fieldIndex, fieldType, fieldWidth, fullEncoding,
  highEncoding, isHighAccess, isReadOnlyField, isWellFormedEncoding, kvmFieldTableIndex, makeEncoding,
  type VmcsFieldGroup, type VmcsFieldWidth,
} from '../../../src/arch/vmx/encoding.ts';

describe('encoding', () => {
  describe('fieldWidth', () => {
    it('should read bits 14:13 (0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width; SDM table B-1)', () => {
      expect(fieldWidth(0x0800)).toBe(16); // GUEST_ES_SELECTOR
      expect(fieldWidth(0x201a)).toBe(64); // EPT_POINTER
      expect(fieldWidth(0x201b)).toBe(64); // EPT_POINTER_HIGH: still a 64-bit field
      expect(fieldWidth(0x4000)).toBe(32); // PIN_BASED_VM_EXEC_CONTROL
      expect(fieldWidth(0x681e)).toBe('natural'); // GUEST_RIP
    });
  });

  describe('fieldType', () => {
    it('should read bits 11:10 (0 control, 1 VM-exit information, 2 guest, 3 host)', () => {
      expect(fieldType(0x4002)).toBe('control');
      expect(fieldType(0x4400)).toBe('exit-info');
      expect(fieldType(0x6400)).toBe('exit-info');
      expect(fieldType(0x681e)).toBe('guest');
      expect(fieldType(0x6c16)).toBe('host');
    });
  });

  describe('fieldIndex', () => {
    it('should read bits 9:1', () => {
      expect(fieldIndex(0x681e)).toBe(15);
      expect(fieldIndex(0x2032)).toBe(0x19); // TSC_MULTIPLIER
      expect(fieldIndex(0x2033)).toBe(0x19);
      expect(fieldIndex(0x0000)).toBe(0);
    });
  });

  describe('isHighAccess', () => {
    it('should read bit 0', () => {
      expect(isHighAccess(0x2001)).toBe(true);
      expect(isHighAccess(0x2000)).toBe(false);
    });
  });

  describe('isReadOnlyField', () => {
    it('should be true exactly for type 1 (VM-exit information)', () => {
      expect([0x4400, 0x440e, 0x2400, 0x2401, 0x6400, 0x640a].map(isReadOnlyField)).toEqual([true, true, true, true, true, true]);
      expect([0x4000, 0x0800, 0x0c00, 0x6c16, 0x2800].map(isReadOnlyField)).toEqual([false, false, false, false, false]);
    });
  });

  describe('accessWidth', () => {
    it('should be 32 for a high access and 64 for natural-width (KVM vmcs_field_width, natural_width = u64)', () => {
      expect(accessWidth(0x0000)).toBe(16);
      expect(accessWidth(0x4000)).toBe(32);
      expect(accessWidth(0x201a)).toBe(64);
      expect(accessWidth(0x201b)).toBe(32);
      expect(accessWidth(0x681e)).toBe(64);
    });
  });

  describe('isWellFormedEncoding', () => {
    it('should reject reserved bits 31:15 and 12, and a high access on a non-64-bit field', () => {
      expect(isWellFormedEncoding(0x201b)).toBe(true);
      expect(isWellFormedEncoding(0x681e)).toBe(true);
      expect(isWellFormedEncoding(0x681f)).toBe(false); // high on natural-width
      expect(isWellFormedEncoding(0x4001)).toBe(false); // high on 32-bit
      expect(isWellFormedEncoding(0x0001)).toBe(false); // high on 16-bit
      expect(isWellFormedEncoding(0x1000)).toBe(false); // bit 12
      expect(isWellFormedEncoding(0x8000)).toBe(false); // bit 15
      expect(isWellFormedEncoding(0x1681e)).toBe(false); // bit 16
      expect(isWellFormedEncoding(-2)).toBe(false);
      expect(isWellFormedEncoding(1.5)).toBe(false);
    });
  });

  describe('makeEncoding', () => {
    it('should build what decodeEncoding takes apart', () => {
      const groups: VmcsFieldGroup[] = ['control', 'exit-info', 'guest', 'host'];
      const widths: VmcsFieldWidth[] = [16, 32, 64, 'natural'];
      fc.assert(
        fc.property(fc.constantFrom(...groups), fc.constantFrom(...widths), fc.integer({ min: 0, max: 0x1ff }), fc.boolean(), (group, width, index, high) => {
          const enc = makeEncoding({ group, width, index, access: high ? 'high' : 'full' });
          const p = decodeEncoding(enc);
          expect([p.group, p.width, p.index, p.access, p.reserved]).toEqual([group, width, index, high ? 'high' : 'full', 0]);
          expect(p.readOnly).toBe(group === 'exit-info');
          expect(p.wellFormed).toBe(!high || width === 64);
        }),
      );
      expect(makeEncoding({ group: 'guest', width: 'natural', index: 15 })).toBe(0x681e);
      expect(makeEncoding({ group: 'control', width: 64, index: 13, access: 'high' })).toBe(0x201b);
    });
  });

  describe('highEncoding / fullEncoding', () => {
    it('should set and clear bit 0 (asm/vmx.h X_HIGH = X + 1)', () => {
      expect(highEncoding(0x201a)).toBe(0x201b);
      expect(fullEncoding(0x201b)).toBe(0x201a);
      expect(fullEncoding(0x201a)).toBe(0x201a);
    });
  });

  describe('kvmFieldTableIndex', () => {
    it('should rotate the 16-bit encoding left by 6 (vmcs12.h ROL16(field, 6))', () => {
      expect(kvmFieldTableIndex(0x681e)).toBe(0x079a);
      expect(kvmFieldTableIndex(0x0000)).toBe(0);
      expect(kvmFieldTableIndex(0x0400)).toBe(0x0001); // bit 10 wraps to bit 0
    });

    it('should be a bijection on 16-bit encodings', () => {
      const seen = new Set<number>();
      for (let e = 0; e <= 0xffff; e++) seen.add(kvmFieldTableIndex(e));
      expect(seen.size).toBe(0x10000);
    });
  });

  describe('describeEncoding', () => {
    it('should spell out the anatomy and flag what breaks table B-1', () => {
      expect(describeEncoding(0x681e)).toBe('0x681e: natural-width guest, index 15, full');
      expect(describeEncoding(0x2001)).toBe('0x2001: 64-bit control, index 0, high');
      expect(describeEncoding(0x4400)).toBe('0x4400: 32-bit exit-info, index 0, full, read-only');
      expect(describeEncoding(0x0c16)).toBe('0x0c16: 16-bit host, index 11, full');
      expect(describeEncoding(0x681f)).toBe('0x681f: natural-width guest, index 15, high, high access on a non-64-bit field');
      expect(describeEncoding(0x1681e)).toBe('0x0001681e: natural-width guest, index 15, full, RSVD=0x10000');
    });

    it('should never throw', () => {
      fc.assert(fc.property(fc.oneof(fc.integer(), fc.double()), (e) => {
        expect(typeof describeEncoding(e)).toBe('string');
      }));
      expect(encodingHex(NaN)).toBe('0x0000');
    });
  });
});

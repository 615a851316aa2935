import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEptp, describeEptViolationQual, encodeEptp, EPT_VIOLATION, EPT_VIOLATION_PROT_MASK, EPTP, eptpPageWalkLevel,
} from '../../../src/arch/vmx/eptp.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('eptp', () => {
  describe('decodeEptp', () => {
    it('should read a 4-level WB EPTP with A/D (SDM §25.6.11)', () => {
      expect(decodeEptp(0x12345000n | 0x40n | 0x18n | 6n)).toEqual({
        memType: 6, pageWalkLength: 4, adEnabled: true, supervisorShadowStack: false, reserved11_8: 0,
        address: 0x12345000n, reservedHigh: 0,
      });
      expect(decodeEptp(0x20n | 0x80n | 0xf00n | (1n << 63n))).toMatchObject({
        memType: 0, pageWalkLength: 5, supervisorShadowStack: true, reserved11_8: 0xf, reservedHigh: 0x800,
      });
    });
  });

  describe('encodeEptp', () => {
    it('should round-trip every 64-bit value', () => {
      fc.assert(fc.property(u64, (v) => {
        expect(encodeEptp(decodeEptp(v))).toBe(v);
      }));
    });

    it('should round-trip every decoded record', () => {
      const rec = fc.record({
        memType: fc.nat({ max: 7 }), pageWalkLength: fc.integer({ min: 1, max: 8 }), adEnabled: fc.boolean(),
        supervisorShadowStack: fc.boolean(), reserved11_8: fc.nat({ max: 15 }),
        address: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }).map((p) => p << 12n, (a) => (a as bigint) >> 12n),
        reservedHigh: fc.nat({ max: 0xfff }),
      });
      fc.assert(fc.property(rec, (e) => {
        expect(decodeEptp(encodeEptp(e))).toEqual(e);
      }));
    });

    it('should match KVM\'s constants', () => {
      expect(encodeEptp({ memType: 6, pageWalkLength: 4, adEnabled: false, supervisorShadowStack: false,
        reserved11_8: 0, address: 0n, reservedHigh: 0 })).toBe(EPTP.PWL_4 | EPTP.MT_WB);
      expect(EPTP.PWL_5).toBe(0x20n);
      expect(EPTP.AD_ENABLE).toBe(0x40n);
    });
  });

  describe('eptpPageWalkLevel', () => {
    it('should say 5 only for page-walk length 5', () => {
      expect(eptpPageWalkLevel(0x1en)).toBe(4);
      expect(eptpPageWalkLevel(0x26n)).toBe(5);
    });
  });

  describe('EPT_VIOLATION / describeEptViolationQual', () => {
    it('should name bits 0..12 once each (spec §3.2)', () => {
      const v = Object.values(EPT_VIOLATION);
      expect(v.map((m) => 31 - Math.clz32(m))).toEqual(Array.from({ length: 13 }, (_, i) => i));
      expect(EPT_VIOLATION_PROT_MASK).toBe(0x38);
      expect(EPT_VIOLATION.GVA_IS_VALID).toBe(0x80);
      expect(EPT_VIOLATION.GVA_TRANSLATED).toBe(0x100);
    });

    it('should decode a write to a read-only translated page', () => {
      expect(describeEptViolationQual(0x18an)).toEqual(['ACC_WRITE', 'PROT_READ', 'GVA_IS_VALID', 'GVA_TRANSLATED']);
      expect(describeEptViolationQual(1 << 16)).toEqual(['ASYNC_TO_INSTR']);
      expect(describeEptViolationQual((1 << 13) | (1 << 14))).toEqual(['SHADOW_STACK', 'BIT_14']);
    });
  });
});

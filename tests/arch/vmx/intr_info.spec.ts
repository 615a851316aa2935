import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeIntrInfo, describeIntrInfo, encodeIntrInfo, INTR_INFO, INTR_TYPE, INTR_TYPE_NAMES,
} from '../../../src/arch/vmx/intr_info.ts';

describe('intr_info', () => {
  describe('INTR_INFO / INTR_TYPE', () => {
    it('should lay out vector 7:0, type 10:8, error code 11, NMI unblock 12, valid 31 (SDM Table 25-17)', () => {
      expect(INTR_INFO.VECTOR_MASK).toBe(0xff);
      expect(INTR_INFO.TYPE_MASK).toBe(0x700);
      expect(INTR_INFO.DELIVER_CODE).toBe(0x800);
      expect(INTR_INFO.UNBLOCK_NMI).toBe(0x1000);
      expect(INTR_INFO.RESVD_BITS_MASK).toBe(0x7ffff000);
      expect(INTR_INFO.VALID).toBe(0x80000000);
      expect(INTR_TYPE).toEqual({
        EXT_INTR: 0, RESERVED: 1, NMI: 2, HARD_EXCEPTION: 3, SOFT_INTR: 4, PRIV_SW_EXCEPTION: 5, SOFT_EXCEPTION: 6,
        OTHER_EVENT: 7,
      });
      expect(Object.keys(INTR_TYPE_NAMES)).toHaveLength(8);
    });
  });

  describe('decodeIntrInfo / encodeIntrInfo', () => {
    it('should round-trip every 32-bit value', () => {
      fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (v) => {
        expect(encodeIntrInfo(decodeIntrInfo(v))).toBe(v);
      }));
    });
  });

  describe('describeIntrInfo', () => {
    it('should describe #PF with an error code and an injected NMI', () => {
      expect(describeIntrInfo(0x80000b0e)).toBe('HARD_EXCEPTION #PF(14) +errcode');
      expect(describeIntrInfo(0x80000202)).toBe('NMI vector=2');
      expect(describeIntrInfo(0x80000420)).toBe('SOFT_INTR vector=32');
      expect(describeIntrInfo(0x80000700)).toBe('OTHER_EVENT vector=0');
      expect(describeIntrInfo(0x80000603)).toBe('SOFT_EXCEPTION #BP(3)');
    });

    it('should show NMI unblocking, reserved bits and invalid values', () => {
      expect(describeIntrInfo(0x80001308)).toBe('HARD_EXCEPTION #DF(8) +unblock_nmi');
      expect(describeIntrInfo(0x80002300 | 0)).toBe('HARD_EXCEPTION #DE(0) +rsvd(0x2000)');
      expect(describeIntrInfo(0)).toBe('invalid');
      expect(describeIntrInfo(0x30e)).toBe('invalid (0x30e)');
    });
  });
});

import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, decodeBigint, encodeBigint, fromJson, toJson } from '../../src/campaign/serialize.ts';
import { sampleCase } from './helpers.ts';

describe('serialize', () => {
  describe('encodeBigint / decodeBigint', () => {
    it('should write a bigint as "0x…n" and read it back', () => {
      expect(encodeBigint(0x1fn)).toBe('0x1fn');
      expect(encodeBigint(0n)).toBe('0x0n');
      expect(encodeBigint(0xffffffffffffffffn)).toBe('0xffffffffffffffffn');
      expect(decodeBigint('0x1fn')).toBe(0x1fn);
      expect(decodeBigint(encodeBigint(-5n))).toBe(-5n);
    });
  });

  describe('toJson / fromJson', () => {
    it('should round-trip a case with bigints, nested objects, arrays and nulls', () => {
      const c = sampleCase();
      const back = fromJson(toJson(c, 2));
      expect(back).toEqual(c);
      expect(typeof (back as typeof c).scenario.vmcb12.save.efer).toBe('bigint');
    });

    it('should only turn "0x…n" strings into bigints', () => {
      const v = fromJson<Record<string, unknown>>('{"a":"0x10n","b":"0x10","c":"10n","d":"0xABn","e":"x0x1n"}');
      expect(v).toEqual({ a: 16n, b: '0x10', c: '10n', d: '0xABn', e: 'x0x1n' });
    });

    it('should give the same text for the same data', () => {
      expect(toJson(sampleCase(), 2)).toBe(toJson(sampleCase(), 2));
    });
  });

  describe('contentHash', () => {
    it('should be 16 hex digits, independent of key order, sensitive to values', () => {
      const h = contentHash({ a: 1n, b: [1, 2] });
      expect(h).toMatch(/^[0-9a-f]{16}$/);
      expect(contentHash({ b: [1, 2], a: 1n })).toBe(h);
      expect(contentHash({ a: 2n, b: [1, 2] })).not.toBe(h);
      expect(canonicalJson({ b: 1, a: { d: 0x10n, c: undefined } })).toBe('{"a":{"d":"0x10n"},"b":1}');
    });
  });
});

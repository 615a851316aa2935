// Test helpers: vmcs12 values with distinct width-filling fields, and a fast-check arbitrary of
// vmcs12s including out-of-range member values (what a bad caller or a corrupt corpus file holds).
import fc from 'fast-check';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import type { Vmcs12 } from '../../../src/arch/vmx/vmcs12.ts';

/** Every field a distinct value that fills its width (top bit set, low byte = row number). */
export function distinctVmcs12(): Vmcs12 {
  const v: Record<string, bigint | number> = {};
  VMCS12_FIELDS.forEach((f, i) => {
    const k = i + 1;
    if (f.width === 16) v[f.name] = (0x8000 | (k << 8) | k) & 0xffff;
    else if (f.width === 32) v[f.name] = (0x80000000 | (k << 16) | 0xc300 | k) >>> 0;
    else v[f.name] = (1n << 63n) | (BigInt(k) << 40n) | 0xa1b2c3d400n | BigInt(k);
  });
  return v as Vmcs12;
}

const U64_MAX = (1n << 64n) - 1n;

/** In-range values only. */
export function vmcs12Arb(): fc.Arbitrary<Vmcs12> {
  const model: Record<string, fc.Arbitrary<bigint | number>> = {};
  for (const f of VMCS12_FIELDS) {
    model[f.name] =
      f.width === 16 ? fc.integer({ min: 0, max: 0xffff })
        : f.width === 32 ? fc.integer({ min: 0, max: 0xffffffff })
          : fc.bigInt({ min: 0n, max: U64_MAX });
  }
  return fc.record(model) as unknown as fc.Arbitrary<Vmcs12>;
}

/** Members of the right JS type but any value: negatives, fractions, NaN, Infinity, > 2^64. */
export function junkVmcs12Arb(): fc.Arbitrary<Vmcs12> {
  const model: Record<string, fc.Arbitrary<bigint | number>> = {};
  for (const f of VMCS12_FIELDS) {
    model[f.name] =
      f.width === 16 || f.width === 32
        ? fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 53))
        : fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }));
  }
  return fc.record(model) as unknown as fc.Arbitrary<Vmcs12>;
}

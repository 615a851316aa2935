import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffVmcs12, formatVmcs12Diff } from '../../../src/arch/vmx/diff.ts';
import type { Vmcs12Namer } from '../../../src/arch/vmx/dump.ts';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import { cloneVmcs12, vmcs12FieldValue, zeroVmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import { distinctVmcs12, junkVmcs12Arb, vmcs12Arb } from './helpers.ts';

/** Toy decoder standing in for controls.ts: bit names of the pin-based controls, exit reason names. */
const names: Vmcs12Namer = (f, x) => {
  if (f.name === 'pin_based_vm_exec_control') {
    const out: string[] = [];
    for (let b = 0; b < 32; b++) if ((Number(x) >>> b) & 1) out.push(`bit${b}`);
    return out.join(' ');
  }
  if (f.name === 'vm_exit_reason') return `reason${Number(x) & 0xffff}`;
  return undefined;
};

describe('diff', () => {
  describe('diffVmcs12', () => {
    it('should return nothing for equal vmcs12s', () => {
      expect(diffVmcs12(distinctVmcs12(), distinctVmcs12())).toEqual([]);
    });

    it('should list exactly the changed fields, in encoding order, as hex of the field width', () => {
      const ref = distinctVmcs12();
      const v = cloneVmcs12(ref);
      v.guest_rip += 2n;
      v.guest_cs_selector ^= 0xff;
      v.ept_pointer = 0x5en;
      v.vm_instruction_error = 7;
      const d = diffVmcs12(ref, v);
      expect(d.map((x) => x.field)).toEqual(['guest_cs_selector', 'ept_pointer', 'vm_instruction_error', 'guest_rip']);
      expect(d.map((x) => x.encoding)).toEqual([0x0802, 0x201a, 0x4400, 0x681e]);
      expect(d[1]).toEqual({ field: 'ept_pointer', encoding: 0x201a, ref: ref.ept_pointer.toString(16), value: '000000000000005e' });
      expect(d[2].ref.length).toBe(8);
      expect(d[0].value.length).toBe(4);
    });

    it('should compare values as stored (truncated to the field width)', () => {
      const v = zeroVmcs12();
      v.guest_cs_selector = 0x10000;
      v.vm_exit_reason = 2 ** 32;
      v.guest_rip = 1n << 64n;
      expect(diffVmcs12(zeroVmcs12(), v)).toEqual([]);
    });

    it('should note decoded changes through the names hook: +/- tokens, or old -> new for enumFields', () => {
      const ref = zeroVmcs12();
      ref.pin_based_vm_exec_control = 0x16;
      ref.vm_exit_reason = 48;
      const v = cloneVmcs12(ref);
      v.pin_based_vm_exec_control = 0x1f;
      v.vm_exit_reason = 49;
      v.guest_rip = 1n;
      const d = diffVmcs12(ref, v, { names, enumFields: new Set(['vm_exit_reason']) });
      expect(d.map((x) => [x.field, x.note])).toEqual([
        ['pin_based_vm_exec_control', '+bit0 +bit3'],
        ['vm_exit_reason', 'reason48 -> reason49'],
        ['guest_rip', undefined],
      ]);
      expect('note' in d[2]).toBe(false);
      expect(diffVmcs12(ref, v).every((x) => !('note' in x))).toBe(true);
    });

    it('should be empty for diff(x, x) and never throw, whatever the member values', () => {
      fc.assert(
        fc.property(junkVmcs12Arb(), junkVmcs12Arb(), (a, b) => {
          expect(diffVmcs12(a, a, { names })).toEqual([]);
          expect(diffVmcs12(a, cloneVmcs12(a))).toEqual([]);
          expect(typeof formatVmcs12Diff(diffVmcs12(a, b, { names }))).toBe('string');
        }),
      );
    });

    it('should list against zero exactly the fields with a nonzero stored value', () => {
      fc.assert(
        fc.property(vmcs12Arb(), (v) => {
          const want = VMCS12_FIELDS.filter((f) => vmcs12FieldValue(v, f) !== 0n).map((f) => f.name);
          expect(diffVmcs12(zeroVmcs12(), v).map((d) => d.field)).toEqual(want);
        }),
      );
    });
  });

  describe('formatVmcs12Diff', () => {
    it('should say "no differences" when empty', () => {
      expect(formatVmcs12Diff([])).toBe('no differences');
    });

    it('should print one aligned line per difference', () => {
      const ref = zeroVmcs12();
      const v = zeroVmcs12();
      v.pin_based_vm_exec_control = 0x9;
      v.guest_rip = 0xfff0n;
      expect(formatVmcs12Diff(diffVmcs12(ref, v, { names }))).toBe(
        'pin_based_vm_exec_control  00000000 -> 00000009  (+bit0 +bit3)\n' +
          'guest_rip                  0000000000000000 -> 000000000000fff0',
      );
    });
  });
});

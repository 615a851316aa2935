import { describe, expect, it } from 'vitest';
import { INT_CTL, INTERCEPT, setIntercept, clrIntercept } from '../../../src/arch/svm/defs.ts';
import { diffVmcb, formatVmcbDiff } from '../../../src/arch/svm/diff.ts';
import { cloneVmcb, zeroVmcb } from '../../../src/arch/svm/vmcb.ts';
import { distinctVmcb } from './helpers.ts';

describe('diff', () => {
  describe('diffVmcb', () => {
    it('should return nothing for equal VMCBs', () => {
      expect(diffVmcb(distinctVmcb(), distinctVmcb())).toEqual([]);
    });

    it('should list exactly the changed fields, in offset order, with decoded notes', () => {
      const ref = distinctVmcb();
      ref.control.int_ctl = INT_CTL.V_INTR_MASKING | INT_CTL.V_IRQ;
      ref.control.exit_code = 0x80n;
      ref.save.cs.attrib = 0x29b; // 64-bit code
      ref.control.intercepts = [0, 0, 0, 0, 0, 0];
      setIntercept(ref.control.intercepts, INTERCEPT.INTN);
      const v = cloneVmcb(ref);
      v.control.int_ctl = INT_CTL.AVIC_ENABLE | INT_CTL.V_IRQ;
      v.control.exit_code = 0xffffffffffffffffn;
      setIntercept(v.control.intercepts, INTERCEPT.VMRUN);
      clrIntercept(v.control.intercepts, INTERCEPT.INTN);
      v.control.insn_bytes[3] ^= 0xff;
      v.save.cs.attrib = 0xc93;
      v.save.rip += 2n;
      expect(diffVmcb(ref, v).map((d) => d.path)).toEqual([
        'control.intercepts[3]', 'control.intercepts[4]', 'control.int_ctl', 'control.exit_code',
        'control.insn_bytes', 'save.cs.attrib', 'save.rip',
      ]);
      const byPath = Object.fromEntries(diffVmcb(ref, v).map((d) => [d.path, d]));
      expect(byPath['control.int_ctl']).toEqual({
        path: 'control.int_ctl', ref: '01000100', value: '80000100', note: '+AVIC_ENABLE -V_INTR_MASKING',
      });
      expect(byPath['control.exit_code']).toEqual({
        path: 'control.exit_code', ref: '0000000000000080', value: 'ffffffffffffffff', note: 'VMRUN -> ERR',
      });
      expect(byPath['control.intercepts[3]'].note).toBe('-INTN');
      expect(byPath['control.intercepts[4]']).toEqual({
        path: 'control.intercepts[4]', ref: '00000000', value: '00000001', note: '+VMRUN',
      });
      expect(byPath['save.cs.attrib'].note).toBe('+type=3 +DB +G -type=b -L');
      expect(byPath['save.rip'].note).toBeUndefined();
    });

    it('should compare values as encoded (truncated to the field width)', () => {
      const ref = zeroVmcb();
      const v = zeroVmcb();
      v.control.tlb_ctl = 0x100;
      v.save.rax = 1n << 64n;
      expect(diffVmcb(ref, v)).toEqual([]);
    });
  });

  describe('formatVmcbDiff', () => {
    it('should say "no differences" when empty', () => {
      expect(formatVmcbDiff([])).toBe('no differences');
    });

    it('should print one aligned line per difference', () => {
      const ref = zeroVmcb();
      const v = zeroVmcb();
      v.control.event_inj = 0x80000b0e;
      v.save.efer = 0x1000n;
      expect(formatVmcbDiff(diffVmcb(ref, v))).toBe(
        'control.event_inj  00000000 -> 80000b0e  (+V +EXEPT +vec=14 +EV)\n' +
          'save.efer          0000000000000000 -> 0000000000001000  (+SVME)',
      );
    });
  });
});

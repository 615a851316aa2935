import { describe, expect, it } from 'vitest';
import {
  deletePath, diffValues, fieldDiff, formatPath, getPath, parsePath, renderFieldDiff, setPath,
} from '../../src/campaign/fieldDiff.ts';
import { INT_CTL } from '../../src/arch/svm/defs.ts';
import { baseScenario } from './helpers.ts';

describe('fieldDiff', () => {
  describe('formatPath / parsePath', () => {
    it('should print keys, indices, GPAs and odd keys, and parse them back', () => {
      const cases: Array<[Array<string | number>, string]> = [
        [['scenario', 'vmcb12', 'control', 'asid'], 'scenario.vmcb12.control.asid'],
        [['l1', 'memory', '0x400000'], 'l1.memory.0x400000'],
        [['vmcb12', 'control', 'intercepts', 4], 'vmcb12.control.intercepts[4]'],
        [['a', 'odd key.x', 0], 'a["odd key.x"][0]'],
      ];
      for (const [segs, text] of cases) {
        expect(formatPath(segs)).toBe(text);
        expect(parsePath(text)).toEqual(segs);
      }
    });

    it('should reject malformed paths', () => {
      expect(() => parsePath('a..b')).toThrow(SyntaxError);
      expect(() => parsePath('a[x]')).toThrow(SyntaxError);
      expect(() => parsePath('.a')).toThrow(SyntaxError);
    });
  });

  describe('getPath / setPath / deletePath', () => {
    it('should read, write and delete through objects and arrays', () => {
      const o: Record<string, unknown> = { a: { b: [1, 2, 3] } };
      expect(getPath(o, 'a.b[1]')).toBe(2);
      expect(getPath(o, 'a.x.y')).toBeUndefined();
      setPath(o, 'a.b[1]', 20);
      setPath(o, 'n.m[0]', 'new');
      expect(o).toEqual({ a: { b: [1, 20, 3] }, n: { m: ['new'] } });
      deletePath(o, 'a.b[0]');
      deletePath(o, ['n']);
      expect(o).toEqual({ a: { b: [20, 3] } });
    });
  });

  describe('diffValues', () => {
    it('should list changed, added and removed leaves with their paths', () => {
      const a = { x: 1n, y: { z: [1, 2] }, gone: true, r: null };
      const b = { x: 2n, y: { z: [1, 3, 4] }, added: 'k', r: { path: 'control.asid', value: 0 } };
      expect(diffValues(a, b).map((d) => [formatPath(d.path), d.kind, d.old, d.new])).toEqual([
        ['x', 'changed', 1n, 2n],
        ['y.z[1]', 'changed', 2, 3],
        ['y.z[2]', 'added', undefined, 4],
        ['gone', 'removed', true, undefined],
        ['r', 'changed', null, { path: 'control.asid', value: 0 }],
        ['added', 'added', undefined, 'k'],
      ]);
    });

    it('should find nothing between equal scenarios', () => {
      expect(diffValues(baseScenario(), baseScenario())).toEqual([]);
    });
  });

  describe('renderFieldDiff', () => {
    it('should print `path: old -> new` with register values in hex and VMCB notes', () => {
      const a = baseScenario();
      const b = structuredClone(a);
      b.vmcb12.control.asid = 0;
      b.vmcb12.control.int_ctl = INT_CTL.AVIC_ENABLE;
      b.vmcb12.save.cs.attrib = 0xc9b;
      b.l1.cpl = 3;
      b.l1.memory['0x999000'] = '00ff';
      expect(renderFieldDiff(fieldDiff(a, b, ['scenario']))).toEqual([
        'scenario.l1.cpl: 0 -> 3',
        'scenario.l1.memory.0x999000: (absent) -> "00ff"',
        'scenario.vmcb12.control.asid: 1 -> 0',
        'scenario.vmcb12.control.int_ctl: 0x1000000 -> 0x80000000  (+AVIC_ENABLE -V_INTR_MASKING)',
        'scenario.vmcb12.save.cs.attrib: 0xa9b -> 0xc9b  (+DB -L)',
      ]);
    });
  });
});

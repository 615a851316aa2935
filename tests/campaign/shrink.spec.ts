import { describe, expect, it } from 'vitest';
import { caseDifferences, revertToBase, verifyOneMinimal, type StillFails } from '../../src/campaign/shrink.ts';
import { formatPath } from '../../src/campaign/fieldDiff.ts';
import type { AnyCase } from '../../properties/types.ts';
import { asSvm, sampleCase } from './helpers.ts';

const paths = (c: AnyCase): string[] => caseDifferences(c).map((d) => formatPath(d.path));

describe('shrink', () => {
  describe('caseDifferences', () => {
    it('should list every leaf where the scenario left its base', () => {
      expect(paths(sampleCase())).toEqual([
        'scenario.l1.memory.0x999000',
        'scenario.vmcb12.control.asid',
        'scenario.vmcb12.save.rsp',
        'scenario.l2[0]',
        'scenario.l2[1]',
        'scenario.race',
      ]);
    });
  });

  describe('revertToBase', () => {
    it('should keep exactly the differences the failure needs, and reach a 1-minimal case', () => {
      let calls = 0;
      const stillFails: StillFails = (c) => {
        calls++;
        return asSvm(c).scenario.vmcb12.control.asid === 0 && asSvm(c).scenario.l1.memory['0x999000'] !== undefined;
      };
      const r = revertToBase(sampleCase(), stillFails);
      expect(paths(r.case)).toEqual(['scenario.l1.memory.0x999000', 'scenario.vmcb12.control.asid']);
      expect(r.kept).toBe(4);
      expect(r.attempts.filter((a) => a.kept).map((a) => a.path)).toEqual([
        'scenario.vmcb12.save.rsp', 'scenario.l2[0]', 'scenario.l2[0]', 'scenario.race',
      ]);
      expect(r.attempts.every((a) => a.durationMs >= 0)).toBe(true);
      expect(r.exhausted).toBe(false);
      expect(r.case.base).toEqual(sampleCase().base);
      expect(asSvm(r.case).scenario.l2).toEqual([]);
      expect(asSvm(r.case).scenario.race).toBeNull();
      expect(calls).toBe(r.attempts.length);

      const v = verifyOneMinimal(r.case, stillFails);
      expect(v.oneMinimal).toBe(true);
      expect(v.lines.map((l) => `undo ${l.path}: ${l.holds ? 'invariant holds' : 'invariant still fails'}`)).toEqual([
        'undo scenario.l1.memory.0x999000: invariant holds',
        'undo scenario.vmcb12.control.asid: invariant holds',
      ]);
    });

    it('should record each kept step as a field diff against the previous case', () => {
      const r = revertToBase(sampleCase(), (c) => asSvm(c).scenario.vmcb12.control.asid === 0);
      const rsp = r.attempts.find((a) => a.path === 'scenario.vmcb12.save.rsp');
      expect(rsp?.diff.map((d) => [formatPath(d.path), d.old, d.new])).toEqual([['scenario.vmcb12.save.rsp', 0x123000n, 0x700000n]]);
      expect(paths(r.case)).toEqual(['scenario.vmcb12.control.asid']);
    });

    it('should reach a fixpoint when one revert enables another (either of two fields fails)', () => {
      const c = sampleCase();
      const r = revertToBase(c, (x) => asSvm(x).scenario.vmcb12.control.asid === 0 || asSvm(x).scenario.vmcb12.save.rsp === 0x123000n);
      expect(caseDifferences(r.case)).toHaveLength(1);
      expect(verifyOneMinimal(r.case, (x) => asSvm(x).scenario.vmcb12.control.asid === 0 || asSvm(x).scenario.vmcb12.save.rsp === 0x123000n).oneMinimal).toBe(true);
    });

    it('should stop at the attempt cap', () => {
      const r = revertToBase(sampleCase(), () => false, { maxAttempts: 2 });
      expect(r.attempts).toHaveLength(2);
      expect(r.exhausted).toBe(true);
    });
  });

  describe('verifyOneMinimal', () => {
    it('should report a case that is not 1-minimal', () => {
      // Either difference alone fails, so undoing one of them does not make the invariant hold.
      const v = verifyOneMinimal(sampleCase(), (x) => asSvm(x).scenario.vmcb12.control.asid === 0 || asSvm(x).scenario.race !== null);
      expect(v.oneMinimal).toBe(false);
      expect(v.lines.find((l) => l.path === 'scenario.vmcb12.control.asid')?.holds).toBe(false);
    });
  });
});

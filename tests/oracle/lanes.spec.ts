import { describe, expect, it } from 'vitest';
import { planLanes } from '../../src/oracle/holdBack.ts';
import { evenLanes, runLanes } from '../../src/oracle/lanes.ts';
import { encodedStates, type StatePages } from '../../src/oracle/statePages.ts';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** The states a lane holds, read back through writeInto (each state writes its own number). */
function contents(p: StatePages): number[] {
  return Array.from({ length: p.length }, (_, i) => {
    const dst = new Uint8Array(4);
    p.writeInto(i, dst);
    return new DataView(dst.buffer).getUint32(0, true);
  });
}

const numbered = (n: number): StatePages => encodedStates(range(0, n), (dst, x) => new DataView(dst.buffer, dst.byteOffset).setUint32(0, x, true));

describe('oracle lanes', () => {
  describe('planLanes', () => {
    it('should give every lane the same work, with the poisoners at the end of the last one', () => {
      const lanes = planLanes(range(0, 80), [], range(80, 100), 2);
      expect(lanes.map((l) => l.length)).toEqual([50, 50]);
      expect(lanes[0]).toEqual(range(0, 50));
      expect(lanes[1]).toEqual([...range(50, 80), ...range(80, 100)]);
    });

    it('should deal the confirmations to the lanes\' ends, before any poisoner', () => {
      const lanes = planLanes(range(0, 10), [100, 101, 102], [200], 2);
      expect(lanes[0]).toEqual([...range(0, 6), 100, 102]);
      expect(lanes[1]).toEqual([...range(6, 10), 101, 200]);
    });

    it('should keep one lane with one instance: the states, the confirmations, then the poisoners', () => {
      expect(planLanes([1, 2], [7, 8], [9], 1)).toEqual([[1, 2, 7, 8, 9]]);
    });

    it('should drop empty lanes but keep one for an empty batch', () => {
      expect(planLanes([1], [], [], 4)).toEqual([[1]]);
      expect(planLanes([], [], [], 2)).toEqual([[]]);
    });
  });

  describe('evenLanes', () => {
    it('should cut the states into contiguous lanes of near-equal length', () => {
      expect(evenLanes(numbered(5), 2).map(contents)).toEqual([[0, 1, 2], [3, 4]]);
      expect(evenLanes(numbered(0), 2).map(contents)).toEqual([[]]);
    });
  });

  describe('runLanes', () => {
    it('should run each lane in order, cut at the instance limit, with at most `jobs` instances at once', async () => {
      let running = 0;
      let most = 0;
      const run = async (p: StatePages): Promise<number[]> => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return contents(p);
      };
      const lanes = [numbered(5), encodedStates([], () => {}), numbered(2), numbered(1)];
      const out = await runLanes(lanes, 2, 2, run);
      // Lane results in lane order, the empty lane skipped, each lane's parts in order.
      expect(out).toEqual([[0, 1], [2, 3], [4], [0, 1], [0]]);
      expect(most).toBe(2);
    });

    it('should still run once for a batch with no states (the CPU-model probe)', async () => {
      const seen: number[] = [];
      await runLanes([numbered(0)], 2, 10, async (p) => seen.push(p.length));
      expect(seen).toEqual([0]);
    });
  });
});

import { describe, expect, it } from 'vitest';
import { PairQueue } from '../../src/campaign/pairQueue.ts';

const drain = (q: PairQueue, worker: number, now = 0): number[] => {
  const got: number[] = [];
  for (let g = q.next(worker, now); g; g = q.next(worker, now)) got.push(g.index);
  return got;
};

describe('PairQueue', () => {
  describe('next', () => {
    it('should hand one worker every pair in plan order', () => {
      expect(drain(PairQueue.create(5, 1), 0)).toEqual([0, 1, 2, 3, 4]);
    });

    it('should start each worker on its own contiguous slice', () => {
      const q = PairQueue.create(10, 2);
      expect([q.next(0, 0)?.index, q.next(1, 0)?.index, q.next(0, 0)?.index, q.next(1, 0)?.index]).toEqual([0, 5, 1, 6]);
    });

    it('should let a worker whose slice ran out take the upper half of the largest slice left', () => {
      const q = PairQueue.create(12, 3);
      // Slices [0,4) [4,8) [8,12); worker 2 is fast. Workers 0 and 1 are each busy with their first pair.
      expect([q.next(0, 0)?.index, q.next(1, 0)?.index]).toEqual([0, 4]);
      expect(drain(q, 2)).toEqual([8, 9, 10, 11, 2, 3, 6, 7, 1, 5]);
      expect([q.next(0, 0), q.next(1, 0)]).toEqual([null, null]);
    });

    it('should hand out every pair exactly once, however the workers interleave', () => {
      const q = PairQueue.create(37, 4);
      const seen: number[] = [];
      for (let step = 0; ; step++) {
        const g = q.next((step * 7) % 4, 0) ?? q.next(0, 0);
        if (!g) break;
        seen.push(g.index);
      }
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    });
  });

  describe('shared memory', () => {
    it('should let queues attached to one SharedArrayBuffer share the pairs', () => {
      const main = PairQueue.create(6, 2, {}, true);
      const a = new PairQueue(main.buffer, {});
      const b = new PairQueue(main.buffer, {});
      expect([a.next(0, 0)?.index, b.next(1, 0)?.index]).toEqual([0, 3]);
      expect([...drain(b, 1), ...drain(a, 0)]).toEqual([4, 5, 2, 1]);
    });

    it('should hold workers at the start line until every one has arrived or is gone', () => {
      const q = PairQueue.create(4, 3, {}, true);
      const arrived = (): number => new Int32Array(q.buffer)[1];
      q.arrive(0);
      q.arrive(0);
      q.arrive(2);
      expect(arrived()).toBe(2);
      // Worker 1 failed before it asked: the main thread counts it, and nobody waits.
      q.arrive(1);
      q.waitForAll();
      expect(arrived()).toBe(3);
    });
  });

  describe('time shares', () => {
    it('should give each pair remaining / pairs left in one thread', () => {
      const q = PairQueue.create(4, 1, { timeMs: 400 });
      expect(q.next(0, 0)?.timeMs).toBe(100);
      // The first pair ended early (at 50 ms): its time goes to the three left.
      expect(q.next(0, 50)?.timeMs).toBeCloseTo(350 / 3);
    });

    it('should count the workers, so the last pairs end at the deadline', () => {
      const q = PairQueue.create(4, 2, { timeMs: 1000 });
      expect(q.next(0, 0)?.timeMs).toBe(500);
      expect(q.next(1, 0)?.timeMs).toBe(500);
      expect(q.next(0, 500)?.timeMs).toBe(500);
      // Never past the deadline, even when one pair is left for two workers.
      expect(q.next(1, 700)?.timeMs).toBe(300);
    });

    it('should cap a pair at --time-per-property, and give no limit without a time budget', () => {
      expect(PairQueue.create(2, 1, { timeMs: 1000, timePerPropertyMs: 100 }).next(0, 0)?.timeMs).toBe(100);
      expect(PairQueue.create(2, 1, { timePerPropertyMs: 100 }).next(0, 0)?.timeMs).toBe(100);
      expect(PairQueue.create(2, 1).next(0, 0)?.timeMs).toBeNull();
    });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCase, svmCase } from '../../src/arbitraries/scenario.ts';
import { L1_MODES, L2_MODES, DEFAULT_BASE } from '../../src/arbitraries/_internals/builders/baseScenario.ts';
import { SVM_MUTATIONS } from '../../src/arbitraries/_internals/mutations/svmMutations.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { run } from '../../src/engine/svm/run.ts';
import type { EntryPath } from '../../src/engine/svm/scenario.ts';

const kvmNext = getProfile('kvm-next')!;
const unified = getProfile('unified')!;

describe('svmCase', () => {
  describe('determinism', () => {
    it('should give the same cases for the same seed', () => {
      const a = fc.sample(svmCase(), { numRuns: 200, seed: 7 });
      const b = fc.sample(svmCase(), { numRuns: 200, seed: 7 });
      expect(a).toEqual(b);
    });
  });

  describe('valid base', () => {
    it('should be entered by every non-bug kernel profile, on every entry path and base choice', () => {
      fc.assert(
        fc.property(svmCase({ maxMutations: 0 }), (c) => {
          for (const p of [kvmNext, unified]) {
            const r = run(c.scenario, p);
            if (r.outcome !== 'entered') throw new Error(`${p.name} ${c.scenario.entry} ${JSON.stringify(c.choice)}: ${r.outcome} ${r.trace.failedChecks()}`);
            if (r.trace.warns().length) throw new Error(`WARN on the valid base: ${r.trace.warns()}`);
          }
        }),
        { numRuns: 400, seed: 11 },
      );
    });

    it('should exit to L1 with VMMCALL when L2 runs the default program', () => {
      for (const entry of ['vmrun', 'rsm', 'set_nested_state'] as EntryPath[]) {
        for (const l2Mode of L2_MODES) {
          for (const l1Mode of L1_MODES) {
            const c = buildCase({ ...DEFAULT_BASE, entry, l2Mode, l1Mode }, []);
            const r = run(c.scenario, kvmNext);
            expect(r.l2_exit_code, `${entry}/${l1Mode}/${l2Mode}`).toBe(0x81n);
          }
        }
      }
    });
  });

  describe('mutation table', () => {
    it('should change the scenario for every mutation on some base', () => {
      const bases = [
        DEFAULT_BASE,
        { ...DEFAULT_BASE, entry: 'rsm' as const },
        { ...DEFAULT_BASE, entry: 'set_nested_state' as const },
        { ...DEFAULT_BASE, l1Mode: 'pae32' as const },
      ];
      for (const m of SVM_MUTATIONS) {
        const changed = bases.some((b) => {
          const base = buildCase(b, []).scenario;
          const mutated = buildCase(b, [[m.id, 0]]).scenario;
          return JSON.stringify(base, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) !== JSON.stringify(mutated, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
        });
        expect(changed, m.id).toBe(true);
      }
    });

    it('should make the engine reach every consistency check it targets', () => {
      const reached = new Set<string>();
      for (const c of fc.sample(svmCase({ entry: 'vmrun' }), { numRuns: 3000, seed: 3 })) {
        for (const rec of run(c.scenario, kvmNext).trace.checked) if (rec.failed) reached.add(rec.id);
      }
      for (const id of ['efer-svme-clear', 'cr0-cd-clear-nw-set', 'cr0-upper-bits-set', 'dr6-upper-bits-set', 'dr7-upper-bits-set', 'long-mode-cr4-pae-clear', 'long-mode-cr0-pe-clear', 'long-mode-cr3-illegal', 'long-mode-cs-l-and-d', 'cr4-reserved-bits', 'efer-reserved-bits', 'gpat-invalid', 'vmrun-intercept-clear', 'asid-zero', 'ncr3-illegal', 'msrpm-beyond-maxphyaddr', 'iopm-beyond-maxphyaddr', 'vnmi-without-nmi-intercept', 'event-inj-type-invalid', 'event-inj-exception-vector-invalid', 'cr3-illegal', 'pdpte-reserved-bits', 'pdpt-unreadable', 'msrpm-unreadable', 'vmrun-cpl-nonzero', 'vmrun-hsave-unset', 'vmrun-in-smm', 'vmrun-vmcb12-gpa-invalid', 'vmrun-vmcb12-unmappable']) {
        expect(reached.has(id), id).toBe(true);
      }
    });
  });

  describe('shrinking', () => {
    it('should rebuild a generated case from its own data (unmapper)', () => {
      const arb = svmCase();
      for (const c of fc.sample(arb, { numRuns: 100, seed: 5 })) expect(arb.canShrinkWithoutContext(c)).toBe(true);
    });

    it('should shrink toward fewer mutations and never add one', () => {
      const arb = svmCase();
      const withMuts = fc.sample(arb, { numRuns: 300, seed: 9 }).filter((c) => c.mutations.length >= 2);
      expect(withMuts.length).toBeGreaterThan(10);
      for (const c of withMuts.slice(0, 20)) {
        const shrinks = [...arb.shrink(c, undefined).take(200)].map((v) => v.value);
        expect(shrinks.length).toBeGreaterThan(0);
        expect(shrinks.every((s) => s.mutations.length <= c.mutations.length)).toBe(true);
        expect(shrinks.some((s) => s.mutations.length < c.mutations.length)).toBe(true);
      }
    });
  });
});

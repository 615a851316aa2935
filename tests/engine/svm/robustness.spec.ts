import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeVmcb } from '../../../src/arch/svm/codec.ts';
import { defaultL1 } from '../../../src/arbitraries/_internals/builders/defaultL1.ts';
import { validVmcb12 } from '../../../src/arbitraries/_internals/builders/validVmcb12.ts';
import { PROFILES } from '../../../src/engine/profile_list.ts';
import { run } from '../../../src/engine/svm/run.ts';
import type { EntryPath, SvmScenario } from '../../../src/engine/svm/scenario.ts';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const profiles = [...PROFILES.values()];

describe('engine', () => {
  describe('run', () => {
    it('should never throw on arbitrary bytes as the vmcb12 page, on any profile and entry path', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.constantFrom<EntryPath>('vmrun', 'rsm', 'set_nested_state'), fc.nat(profiles.length - 1), (page, entry, pi) => {
          const vmcb12 = decodeVmcb(page);
          const s: SvmScenario = { arch: 'svm', entry, l1: defaultL1(), vmcb12, l2: [], race: null, smm: entry === 'rsm' ? { vmrun_vmcb12: validVmcb12(), migrate: false } : null, nested_state: null };
          const r = run(s, profiles[pi]);
          expect(typeof r.outcome).toBe('string');
        }),
        { numRuns: 500, seed: 1 },
      );
    });

    it('should never throw on arbitrary L1 registers and bitmap addresses', () => {
      fc.assert(
        fc.property(u64, u64, u64, u64, u64, u64, fc.integer({ min: 1, max: 63 }), (efer, cr0, cr4, rax, hsave, msrpm, maxphyaddr) => {
          const l1 = { ...defaultL1(), efer, cr0, cr4, rax, vm_hsave_pa: hsave, maxphyaddr };
          const vmcb12 = validVmcb12();
          vmcb12.control.msrpm_base_pa = msrpm;
          const r = run({ arch: 'svm', entry: 'vmrun', l1, vmcb12, l2: [{ op: 'vmrun' }, { op: 'clgi' }], race: null, smm: null, nested_state: null }, profiles[0]);
          expect(typeof r.outcome).toBe('string');
        }),
        { numRuns: 500, seed: 2 },
      );
    });

    it('should be deterministic: the same scenario and profile give the same trace', () => {
      const s: SvmScenario = { arch: 'svm', entry: 'vmrun', l1: defaultL1(), vmcb12: validVmcb12(), l2: [{ op: 'cpuid' }, { op: 'hlt' }], race: null, smm: null, nested_state: null };
      for (const p of profiles) {
        const a = run(s, p).trace.events;
        const b = run(s, p).trace.events;
        expect(a).toEqual(b);
      }
    });
  });
});

// Test helpers: temp dirs, a valid base scenario, and small fake properties (the real ones are
// written in parallel; campaign code must work with any registry).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { NestfuzzProperty, SvmCase } from '../../properties/types.ts';
import { defaultL1 } from '../../src/arbitraries/_internals/builders/defaultL1.ts';
import { validVmcb12 } from '../../src/arbitraries/_internals/builders/validVmcb12.ts';
import { run } from '../../src/engine/svm/run.ts';
import type { SvmScenario } from '../../src/engine/svm/scenario.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `nestfuzz-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function baseScenario(): SvmScenario {
  return { arch: 'svm', entry: 'vmrun', l1: defaultL1(), vmcb12: validVmcb12(), l2: [], race: null, smm: null, nested_state: null };
}

export function sampleCase(): SvmCase {
  const base = baseScenario();
  const scenario = structuredClone(base);
  scenario.vmcb12.control.asid = 0;
  scenario.vmcb12.save.rsp = 0x123000n;
  scenario.l1.memory['0x999000'] = '01020304';
  scenario.l2 = [{ op: 'nop' }, { op: 'vmmcall' }];
  scenario.race = { path: 'control.asid', value: 1 };
  return { scenario, base, mutations: ['asid-zero:0', 'rsp-noise:1'] };
}

/**
 * A case arbitrary whose invalid part is ASID 0 and whose noise (RSP, CR2, an L2 nop) is not the
 * base value when fully shrunk, so fast-check alone leaves differences revertToBase must remove.
 */
export function noisyCase(): fc.Arbitrary<SvmCase> {
  return fc
    .record({
      asid: fc.integer({ min: 0, max: 3 }),
      rsp: fc.constantFrom(0x123000n, 0x700000n, 0x7ff000n),
      cr2: fc.constantFrom(0xdead000n, 0n),
      nops: fc.integer({ min: 1, max: 3 }),
    })
    .map(({ asid, rsp, cr2, nops }) => {
      const base = baseScenario();
      const scenario = structuredClone(base);
      scenario.vmcb12.control.asid = asid;
      scenario.vmcb12.save.rsp = rsp;
      scenario.vmcb12.save.cr2 = cr2;
      scenario.l2 = Array.from({ length: nops }, () => ({ op: 'nop' as const }));
      return { scenario, base, mutations: asid === 0 ? ['asid-zero:0'] : [] };
    });
}

/** Fails whenever VMRUN does not enter L2 (so ASID 0 fails on kvm-next). */
export const fakeEntersProperty: NestfuzzProperty = {
  id: 'fake-always-enters',
  area: 'svm',
  title: 'every generated vmcb12 enters L2 (fake, for campaign tests)',
  rationale: 'test fixture',
  arbitrary: noisyCase,
  predicate(c, ctx) {
    const r = run(c.scenario, ctx.profile);
    return r.outcome === 'entered' ? { ok: true } : { ok: false, code: 'not-entered', message: `outcome ${r.outcome}` };
  },
};

/** Always holds. */
export const fakeHoldsProperty: NestfuzzProperty = {
  id: 'fake-holds',
  area: 'svm',
  title: 'always holds (fake)',
  rationale: 'test fixture',
  arbitrary: noisyCase,
  predicate(c, ctx) {
    run(c.scenario, ctx.profile);
    return { ok: true };
  },
};

/** A comparing property: holds iff both profiles give the same outcome. */
export const fakeCompareProperty: NestfuzzProperty = {
  id: 'fake-compare',
  area: 'svm',
  title: 'same outcome on both profiles (fake)',
  rationale: 'test fixture',
  compares: true,
  arbitrary: noisyCase,
  predicate(c, ctx) {
    if (!ctx.other) return { ok: false, code: 'no-other', message: 'needs two profiles' };
    const a = run(c.scenario, ctx.profile).outcome;
    const b = run(c.scenario, ctx.other).outcome;
    return a === b ? { ok: true } : { ok: false, code: 'outcomes-differ', message: `${a} vs ${b}` };
  },
};

export const FAKE_REGISTRY: readonly NestfuzzProperty[] = [fakeEntersProperty, fakeHoldsProperty, fakeCompareProperty];

export function fakeLookup(id: string): NestfuzzProperty | undefined {
  return FAKE_REGISTRY.find((p) => p.id === id);
}

// Test helpers: temp dirs, a valid base scenario, and small fake properties (the real ones are
// written in parallel; campaign code must work with any registry).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { AnyCase, NestfuzzProperty, SvmCase } from '../../properties/types.ts';
import { defaultL1 } from '../../src/arbitraries/_internals/builders/defaultL1.ts';
import { validVmcb12 } from '../../src/arbitraries/_internals/builders/validVmcb12.ts';
import { run } from '../../src/engine/svm/run.ts';
import type { SvmScenario } from '../../src/engine/svm/scenario.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { cloneVmxScenario } from '../../src/engine/vmx/scenario.ts';
import { validVmxScenario } from '../../src/engine/vmx/scenario_base.ts';
import type { VmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { DEFAULT_VMX_BASE } from '../../src/arbitraries/_internals/builders/baseVmxScenario.ts';

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
export const fakeEntersProperty: NestfuzzProperty<SvmCase> = {
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
export const fakeHoldsProperty: NestfuzzProperty<SvmCase> = {
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
export const fakeCompareProperty: NestfuzzProperty<SvmCase> = {
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

/**
 * A nested-VMX case arbitrary: VPID 0 is the invalid part; guest RSP and the L1 RSP are noise that
 * revertToBase must remove.
 */
export function noisyVmxCase(): fc.Arbitrary<VmxCase> {
  return fc
    .record({
      vpid: fc.integer({ min: 0, max: 3 }),
      rsp: fc.constantFrom(0x123000n, 0x700000n),
      l1rsp: fc.constantFrom(0x90000n, 0x80000n),
    })
    .map(({ vpid, rsp, l1rsp }) => {
      const base = validVmxScenario();
      const scenario = cloneVmxScenario(base);
      scenario.vmcs12.virtual_processor_id = vpid;
      scenario.vmcs12.guest_rsp = rsp;
      scenario.l1.rsp = l1rsp;
      return { scenario, base, mutations: vpid === 0 ? ['vmcs12:vpid-zero:0'] : [], choice: { ...DEFAULT_VMX_BASE } };
    });
}

/** Fails whenever VMLAUNCH does not enter L2 (so VPID 0 fails on kvm-next). */
export const fakeVmxEntersProperty: NestfuzzProperty<VmxCase> = {
  id: 'fake-vmx-enters',
  area: 'vmx',
  title: 'every generated vmcs12 enters L2 (fake, for campaign tests)',
  rationale: 'test fixture',
  arbitrary: noisyVmxCase,
  predicate(c, ctx) {
    const r = runVmx(c.scenario, ctx.profile);
    return r.outcome === 'entered' ? { ok: true } : { ok: false, code: 'not-entered', message: `outcome ${r.outcome}` };
  },
};

/** FAKE_REGISTRY plus a nested-VMX property. */
export const FAKE_MIXED_REGISTRY: readonly NestfuzzProperty[] = [...FAKE_REGISTRY, fakeVmxEntersProperty];

export function fakeLookup(id: string): NestfuzzProperty | undefined {
  return FAKE_MIXED_REGISTRY.find((p) => p.id === id);
}

/** Narrow a case the SVM fixtures produced (campaign code hands them back as AnyCase). */
export function asSvm(c: AnyCase): SvmCase {
  if (c.scenario.arch !== 'svm') throw new Error('expected an SVM case');
  return c as SvmCase;
}

/** Runs the CLI (`node --import tsx src/cli.ts …`) from the repository root. */
export function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), ...args], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Bad input: exit 2, nothing on stdout, exactly one `nestfuzz: error: … (fix)` line on stderr. */
export function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, re: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^nestfuzz: error: .+ \(.+\)$/);
  expect(lines[0]).toMatch(re);
}

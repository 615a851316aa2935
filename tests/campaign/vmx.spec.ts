// fuzz / corpus / replay / list over nested-VMX cases (fake VMX property; the real ones are
// registered in properties/index.ts separately).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCorpusFile } from '../../src/campaign/corpus.ts';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { formatPath, renderFieldDiff } from '../../src/campaign/fieldDiff.ts';
import { formatListing, formatReplay, replayJson } from '../../src/campaign/format.ts';
import { listing } from '../../src/campaign/list.ts';
import { replayCorpusFile } from '../../src/campaign/replay.ts';
import { runCampaign, type CampaignOptions } from '../../src/campaign/runner.ts';
import { fromJson, toJson } from '../../src/campaign/serialize.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { FAKE_MIXED_REGISTRY, fakeLookup, tempDir } from './helpers.ts';

const kvmNext = getProfile('kvm-next') as Profile;
const svmBug = getProfile('cve-2021-29657') as Profile;
const vmxBug = getProfile('mutant-no-vpid-check') as Profile;
const isProperty = (id: string): boolean => fakeLookup(id) !== undefined;

describe('campaign over nested VMX', () => {
  let dir: string;
  let cleanup: () => void;
  const base = (): CampaignOptions => ({ registry: FAKE_MIXED_REGISTRY, outDir: dir, seed: 'test', runs: 200, profiles: [kvmNext] });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('vmx'));
  });
  afterEach(() => cleanup());

  async function vmxFailure(): Promise<string> {
    const r = await runCampaign({ ...base(), properties: ['fake-vmx-enters'] });
    expect(r.failed).toBe(true);
    expect(r.failures).toHaveLength(1);
    expect(r.checks['vpid-zero']).toBeDefined();
    return r.failures[0].corpusFile;
  }

  it('should fuzz a VMX property, shrink to VPID 0 alone and store a loadable corpus file', async () => {
    const file = await vmxFailure();
    const e = loadCorpusFile(file, { isProperty });
    expect(e.case.scenario.arch).toBe('vmx');
    const diff = (e.case.scenario.arch === 'vmx' && e.case.base.arch === 'vmx')
      ? [e.case.scenario.vmcs12.virtual_processor_id, e.case.scenario.vmcs12.guest_rsp === e.case.base.vmcs12.guest_rsp]
      : [];
    expect(diff).toEqual([0, true]);
  });

  it('should replay a VMX counterexample with the vmcs12 dump, the L1 summary, a vmcs12 field diff and the trace', async () => {
    const file = await vmxFailure();
    const rep = replayCorpusFile(file, { getProperty: fakeLookup });
    expect(rep.reproduces).toBe(true);
    expect(rep.arch).toBe('vmx');
    expect(rep.dumpTitle).toBe('vmcs12');
    expect(rep.dump).toContain('*** Control State ***');
    expect(rep.dump).toMatch(/virtual_processor_id: +0000/);
    expect(rep.l1Summary.join('\n')).toMatch(/path vmlaunch, launch_state clear/);
    expect(rep.l1Summary.join('\n')).toContain('IA32_VMX_BASIC=');
    expect(rep.diff.map((d) => formatPath(d.path))).toEqual(['vmcs12.virtual_processor_id']);
    expect(renderFieldDiff(rep.diff)[0]).toMatch(/^vmcs12\.virtual_processor_id: \d+ -> 0/);
    expect(rep.traces[0].outcome).toBe('vmfail-valid');
    expect(rep.traces[0].events.some((ev) => ev.ev === 'kvm_nested_check_failed' && ev.check === 'vpid-zero')).toBe(true);
    const text = formatReplay(rep);
    expect(text).toContain('arch:      nested VMX');
    expect(text).toContain('== L1 and nested setup');
    expect(text).toContain('== vmcs12');
    expect(text).toContain('== trace on kvm-next (outcome vmfail-valid)');
    expect(JSON.parse(toJson(replayJson(rep)))).toMatchObject({ arch: 'vmx', diff: [{ path: 'vmcs12.virtual_processor_id' }] });
  });

  it('should reject a malformed VMX corpus file with one line', async () => {
    const file = await vmxFailure();
    const good = fromJson(readFileSync(file, 'utf8')) as { case: { scenario: Record<string, unknown>; base: Record<string, unknown> } };
    const variants: Array<[string, (v: typeof good) => void, RegExp]> = [
      ['an unknown vmcs12 field', (v) => { (v.case.scenario.vmcs12 as Record<string, unknown>).no_such_field = 1; }, /case\.scenario\.vmcs12 has unknown field "no_such_field"/],
      ['missing caps', (v) => { delete v.case.scenario.caps; }, /case\.scenario\.caps is missing/],
      ['a bad launch state', (v) => { v.case.base.launch_state = 'running'; }, /case\.base\.launch_state is "running"/],
      ['an unknown arch', (v) => { v.case.scenario.arch = 'tdx'; }, /arch is "tdx", expected "svm", "vmx", "mmu", "mmu-perm" or "mmu-pf"/],
    ];
    for (const [, mutate, re] of variants) {
      const v = fromJson(readFileSync(file, 'utf8')) as typeof good;
      mutate(v);
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, toJson(v));
      let err: unknown;
      try {
        loadCorpusFile(bad, { isProperty });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NestfuzzError);
      expect((err as NestfuzzError).code).toBe('NESTFUZZ_CORPUS_SCHEMA');
      expect((err as NestfuzzError).message).toMatch(re);
      expect((err as NestfuzzError).toLine()).not.toContain('\n');
    }
  });

  it('should pair each property only with profiles of its flavour', async () => {
    const r = await runCampaign({ ...base(), properties: ['fake-always-enters', 'fake-vmx-enters'], profiles: [svmBug, vmxBug], runs: 20 });
    expect(r.pairs.map((p) => [p.property, p.profile])).toEqual([['fake-always-enters', svmBug.name], ['fake-vmx-enters', vmxBug.name]]);
    await expect(runCampaign({ ...base(), properties: ['fake-vmx-enters'], profiles: [svmBug] })).rejects.toThrow(/fits the selected profiles/);
  });

  it('should list each property area and each profile arch', () => {
    const l = listing(FAKE_MIXED_REGISTRY);
    expect(l.properties.find((p) => p.id === 'fake-vmx-enters')?.area).toBe('vmx');
    expect(l.profiles.find((p) => p.name === vmxBug.name)?.arch).toBe('vmx');
    expect(l.profiles.find((p) => p.name === svmBug.name)?.arch).toBe('svm');
    const text = formatListing(l);
    expect(text).toMatch(/^name +arch +kind/m);
    expect(text).toMatch(new RegExp(`^${vmxBug.name} +vmx +mutant`, 'm'));
    expect(text).toContain('by area: svm 3, vmx 1');
  });
});

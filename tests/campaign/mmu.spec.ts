// fuzz / corpus / replay / list over nested-paging cases (arch 'mmu'): the real property
// npf-fault-stage-exact on the bug profile npf-stage-hardcoded, whose synthesized #NPF always says
// FINAL.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNestedFaultCase } from '../../properties/types.ts';
import { loadCorpusFile } from '../../src/campaign/corpus.ts';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { formatListing, formatReplay, replayJson } from '../../src/campaign/format.ts';
import { listing } from '../../src/campaign/list.ts';
import { replayCorpusFile } from '../../src/campaign/replay.ts';
import { runCampaign } from '../../src/campaign/runner.ts';
import { fromJson, toJson } from '../../src/campaign/serialize.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { tempDir } from './helpers.ts';

const PROPERTY = 'npf-fault-stage-exact';
const stageBug = getProfile('npf-stage-hardcoded') as Profile;
const svmBug = getProfile('cve-2021-29657') as Profile;

type Doc = { case: { scenario: Record<string, any>; base: Record<string, any> } };

describe('campaign over nested paging (arch mmu)', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('mmu'));
  });
  afterEach(() => cleanup());

  async function mmuFailure(): Promise<string> {
    const r = await runCampaign({ properties: [PROPERTY], profiles: [stageBug], outDir: dir, seed: 'test', runs: 2000 });
    expect(r.pairs.map((p) => [p.property, p.profile])).toEqual([[PROPERTY, stageBug.name]]);
    expect(r.failed).toBe(true);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0].verdict.code).toBe('npf-wrong-stage');
    // The coverage universe of an mmu-only campaign is the walkers' check ids.
    expect(r.checks['nested-not-present']).toBeDefined();
    expect(r.checks['asid-zero']).toBeUndefined();
    return r.failures[0].corpusFile;
  }

  it('should fuzz an mmu property on an mmu bug profile and store a loadable corpus file that replays', { timeout: 60_000 }, async () => {
    const file = await mmuFailure();
    const e = loadCorpusFile(file);
    expect(e).toMatchObject({ schema: 1, property: PROPERTY, profile: stageBug.name, expected: 'fail' });
    expect(isNestedFaultCase(e.case)).toBe(true);
    expect(e.case.scenario.arch).toBe('mmu');
    if (!isNestedFaultCase(e.case)) throw new Error('not an mmu case');
    expect(e.case.scenario.flavour).toBe('svm');
    expect(typeof e.case.scenario.mem.ram_top).toBe('bigint');

    const rep = replayCorpusFile(file);
    expect(rep.reproduces).toBe(true);
    expect(rep.arch).toBe('mmu');
    expect(rep.walkView).not.toBeNull();
    const view = rep.walkView!;
    expect(view.outcome).toBe('nested-exit');
    expect(view.walks[0].rows.length).toBeGreaterThan(0);
    expect(view.walks[0].rows[0]).toMatchObject({ table_gpa: expect.stringMatching(/^0x/), pte_gpa: expect.stringMatching(/^0x/) });
    expect(view.injected?.lines.join('\n')).toMatch(/exit_code +0x400 \(NPF\)/);
    // The bug: a paging-structure failure reported as FINAL.
    expect(view.injected?.lines.join('\n')).toMatch(/bit 32 GUEST_FINAL/);
    expect(rep.traces[0].outcome).toBe('nested-exit');

    const text = formatReplay(rep);
    expect(text).toContain('arch:      nested paging / fault synthesis (MMU)');
    expect(text).toContain(`== nested paging walk on ${stageBug.name}`);
    expect(text).toMatch(/^lvl +entry +table GPA +entry GPA +table page via TDP +value +decoded +verdict$/m);
    expect(text).toMatch(/^4 +PML4E +0x[0-9a-f]+ +0x[0-9a-f]+ +(real 0x[0-9a-f]+|FAILED: .+) /m);
    expect(text).toContain('-- exit L0 took:');
    expect(text).toContain('-- exit injected into L1 (vmcb12, nested_svm_inject_npf_exit)');
    expect(text).toMatch(/exit_info_1 0x[0-9a-f]+ \(.*GUEST_FINAL.*\)/);
    expect(text).toMatch(/exit_info_2 0x[0-9a-f]+ \(faulting guest-physical address\)/);
    expect(text).toContain(`== trace on ${stageBug.name} (outcome nested-exit)`);
    expect(JSON.parse(toJson(replayJson(rep)))).toMatchObject({ arch: 'mmu', walkView: { outcome: 'nested-exit' } });
  });

  it('should reject a malformed mmu corpus file with one line', { timeout: 60_000 }, async () => {
    const file = await mmuFailure();
    const firstKey = (v: Doc): string => Object.keys(v.case.scenario.mem.words)[0];
    const variants: Array<[(v: Doc) => void, RegExp]> = [
      [(v) => { delete v.case.scenario.flavour; }, /case\.scenario\.flavour is undefined, expected "svm" or "vmx"/],
      [(v) => { v.case.scenario.mem.words[firstKey(v)] = 'zz'; }, /case\.scenario\.mem\.words\["0x[0-9a-f]+"\] is not a bigint/],
      [(v) => { v.case.scenario.mem.words['4096'] = 0n; }, /case\.scenario\.mem\.words has key "4096"/],
      [(v) => { delete v.case.base.mem.ram_top; }, /case\.base\.mem\.ram_top is missing or not a bigint/],
      [(v) => { v.case.scenario.guest.cr3 = 7; }, /case\.scenario\.guest\.cr3 is missing or not a bigint/],
      [(v) => { v.case.scenario.guest.cpl = '0'; }, /case\.scenario\.guest\.cpl is missing or not an integer/],
      [(v) => { v.case.scenario.guest.pdptrs = [1]; }, /case\.scenario\.guest\.pdptrs is not an array of bigints/],
      [(v) => { v.case.scenario.tdp.kind = 'spt'; }, /case\.scenario\.tdp\.kind is "spt", expected "npt" or "ept"/],
      [(v) => { v.case.scenario.tdp.kind = 'ept'; }, /case\.scenario\.tdp\.kind is "ept" but flavour "svm" uses "npt"/],
      [(v) => { v.case.scenario.tdp.levels = 2; }, /case\.scenario\.tdp\.levels is 2, expected 3, 4 or 5/],
      [(v) => { delete v.case.scenario.tdp.ncr3; }, /case\.scenario\.tdp\.ncr3 is missing or not a bigint/],
      [(v) => { v.case.scenario.access.write = 1; }, /case\.scenario\.access\.write is missing or not a boolean/],
      [(v) => { v.case.scenario.performer = 'cpu'; }, /case\.scenario\.performer is "cpu", expected "hardware" or "emulator"/],
      [(v) => { delete v.case.scenario.stale_vmx; }, /case\.scenario\.stale_vmx is missing/],
      [(v) => { v.case.scenario.stale_svm.exit_code = 1024; }, /case\.scenario\.stale_svm\.exit_code is missing or not a bigint/],
      [(v) => { v.case.base.flavour = 'vmx'; v.case.base.tdp = { kind: 'ept', eptp: 0x1000n, execonly: true, mbec: false, advanced_exit_info: true, maxphyaddr: 46 }; },
        /case\.base\.flavour is "vmx" but case\.scenario\.flavour is "svm"/],
      [(v) => { v.case.base.arch = 'svm'; }, /case\.base\.entry is missing/],
    ];
    for (const [mutate, re] of variants) {
      const v = fromJson(readFileSync(file, 'utf8')) as Doc;
      mutate(v);
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, toJson(v));
      let err: unknown;
      try {
        loadCorpusFile(bad);
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).toBeInstanceOf(NestfuzzError);
      expect((err as NestfuzzError).code).toBe('NESTFUZZ_CORPUS_SCHEMA');
      expect((err as NestfuzzError).message).toMatch(re);
      expect((err as NestfuzzError).toLine()).not.toContain('\n');
    }
  });

  it('should pair mmu properties only with mmu bug profiles', async () => {
    const r = await runCampaign({ properties: [PROPERTY, 'vmrun-verdict-matches-apm'], profiles: [stageBug, svmBug], outDir: dir, seed: 'test', runs: 5 });
    expect(r.pairs.map((p) => [p.property, p.profile]).sort()).toEqual([[PROPERTY, stageBug.name], ['vmrun-verdict-matches-apm', svmBug.name]]);
    await expect(runCampaign({ properties: [PROPERTY], profiles: [svmBug], outDir: dir, runs: 5 })).rejects.toThrow(/fits the selected profiles/);
  });

  it('should list mmu profiles with arch mmu and mmu properties with area mmu', () => {
    const l = listing();
    expect(l.profiles.find((p) => p.name === stageBug.name)).toMatchObject({ arch: 'mmu', bug: true, caughtBy: expect.arrayContaining([PROPERTY]) });
    expect(l.properties.find((p) => p.id === PROPERTY)?.area).toBe('mmu');
    const text = formatListing(l);
    expect(text).toMatch(new RegExp(`^${stageBug.name} +mmu +historical`, 'm'));
    expect(text).toMatch(/by area: .*mmu \d+/);
  });
});

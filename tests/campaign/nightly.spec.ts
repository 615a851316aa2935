// Sharded campaigns, merge, the failure database and triage (issue #7 items 2 and 4): two shards
// plus merge give the buckets of one unsharded campaign on the same seed; a second night sees the
// same buckets as known; a fixed bug's bucket is reported fixed.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { corpusBuckets, readIndex } from '../../src/campaign/buckets.ts';
import { writeCampaignFiles } from '../../src/campaign/campaignFiles.ts';
import { mergeCampaigns } from '../../src/campaign/merge.ts';
import { runCampaign, type CampaignOptions } from '../../src/campaign/runner.ts';
import { triage } from '../../src/campaign/triage.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { cli, expectOneLineError, tempDir } from './helpers.ts';

const p = (n: string): Profile => getProfile(n) as Profile;

describe('nightly campaigns', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('nightly'));
  });
  afterEach(() => cleanup());

  // Two bug profiles and a kernel profile over three SVM properties: several pairs fail, some hold.
  const plan = (out: string, extra: Partial<CampaignOptions> = {}): CampaignOptions => ({
    outDir: out, seed: 'nightly-test', runs: 400, shrinkTimeMs: 2000,
    properties: ['vmrun-verdict-matches-apm', 'gif-semantics', 'vmrun-failure-clean'],
    profiles: [p('kvm-next'), p('mutant-no-asid-check'), p('gif-not-cleared-on-invalid')], ...extra,
  });
  const run = async (out: string, extra: Partial<CampaignOptions> = {}) => {
    const r = await runCampaign(plan(out, extra));
    writeCampaignFiles(out, r);
    return r;
  };
  const sigs = (corpus: string): string[] => Object.keys(corpusBuckets(corpus).buckets).sort();

  it('splits the plan into disjoint shards that cover it', async () => {
    const a = await run(join(dir, 's1'), { shard: { index: 1, count: 2 } });
    const b = await run(join(dir, 's2'), { shard: { index: 2, count: 2 } });
    const key = (x: { property: string; profile: string }) => `${x.property}|${x.profile}`;
    const ka = a.pairs.map(key);
    const kb = b.pairs.map(key);
    expect(ka.filter((k) => kb.includes(k))).toEqual([]);
    expect(ka.length + kb.length).toBe(a.plannedPairs);
    expect([a.shard, b.shard]).toEqual(['1/2', '2/2']);
    await expect(runCampaign(plan(join(dir, 'bad'), { shard: { index: 3, count: 2 } }))).rejects.toThrow(/shard 3\/2 does not exist/);
  });

  it('two shards plus merge have the buckets of one unsharded campaign on the same seed', async () => {
    await run(join(dir, 's1'), { shard: { index: 1, count: 2 } });
    await run(join(dir, 's2'), { shard: { index: 2, count: 2 } });
    const whole = await run(join(dir, 'whole'));
    const m = mergeCampaigns([join(dir, 's1'), join(dir, 's2')], join(dir, 'merged'));
    expect(whole.failures.length).toBeGreaterThan(1);
    expect(sigs(join(dir, 'merged', 'corpus'))).toEqual(sigs(join(dir, 'whole', 'corpus')));
    expect(m.summary?.pairs.length).toBe(whole.pairs.length);
    expect(m.summary?.runs).toBe(whole.runs);
    // Coverage adds up: the same sampled cases per outcome and per mutation kind.
    expect(Object.keys(whole.outcomes).length).toBeGreaterThan(1);
    expect(m.summary?.outcomes).toEqual(whole.outcomes);
    expect(m.summary?.mutationKinds).toEqual(whole.mutationKinds);
    expect(m.summary?.mutationKindsNeverHit).toEqual(whole.mutationKindsNeverHit);
    expect(existsSync(join(dir, 'merged', 'summary.json')) && existsSync(join(dir, 'merged', 'junit.xml'))).toBe(true);
    // Every representative the merged index names is there.
    for (const b of Object.values(readIndex(join(dir, 'merged', 'corpus')).buckets)) expect(existsSync(join(dir, 'merged', 'corpus', b.representative))).toBe(true);
  });

  it('keeps one representative per bucket and counts repeats; triage separates new, known and fixed', async () => {
    const night1 = join(dir, 'night1');
    const r1 = await run(night1);
    expect(r1.failures.every((f) => f.newBucket)).toBe(true);
    const t1 = triage(night1, join(dir, 'no-known-corpus'));
    expect(t1.fresh.length).toBe(r1.failures.length);
    // The second night writes into the same directory: every failure lands in a known bucket.
    const files = readFileSync(join(night1, 'corpus', 'index.json'), 'utf8');
    const r2 = await run(night1);
    expect(r2.failures.map((f) => f.newBucket)).toEqual(r2.failures.map(() => false));
    const idx = readIndex(join(night1, 'corpus'));
    expect(Object.values(idx.buckets).every((b) => b.count === 2)).toBe(true);
    expect(Object.keys(JSON.parse(files).buckets).length).toBe(Object.keys(idx.buckets).length);
    // Night 3, a fresh directory, against night 1's corpus as the known set: nothing new.
    const night3 = join(dir, 'night3');
    await run(night3);
    const t3 = triage(night3, join(night1, 'corpus'));
    expect([t3.fresh.length, t3.seenAgain.length, t3.fixed.length]).toEqual([0, r1.failures.length, 0]);
    // A campaign where the mutant's pairs run on kvm-next only: their buckets are not fixed (those pairs did not run),
    // but a kvm-next-only campaign against a known corpus holding a kvm-next bucket would report it fixed.
    const night4 = join(dir, 'night4');
    await run(night4, { profiles: [p('kvm-next'), p('gif-not-cleared-on-invalid')] });
    const t4 = triage(night4, join(night1, 'corpus'));
    expect(t4.fixed.map((b) => b.profile)).toEqual([]);
    expect(t4.seenAgain.every((b) => b.profile === 'gif-not-cleared-on-invalid')).toBe(true);
  });

  it('--workers 2 finds the buckets --workers 1 finds, with every pair run once', () => {
    const args = ['fuzz', '--profile', 'mutant-no-asid-check', '--profile', 'gif-not-cleared-on-invalid', '--property', 'vmrun-verdict-matches-apm', '--property', 'gif-semantics', '--property', 'vmrun-failure-clean', '--runs', '300', '--seed', 'workers-test'];
    const one = cli(...args, '--workers', '1', '--out', join(dir, 'w1'));
    const two = cli(...args, '--workers', '2', '--out', join(dir, 'w2'));
    expect([one.code, two.code]).toEqual([1, 1]);
    expect(sigs(join(dir, 'w2', 'corpus'))).toEqual(sigs(join(dir, 'w1', 'corpus')));
    const pairs = (d: string) => (JSON.parse(readFileSync(join(dir, d, 'summary.json'), 'utf8')) as { pairs: Array<{ property: string; profile: string; runs: number }> }).pairs
      .map((x) => `${x.property}|${x.profile}|${x.runs}`).sort();
    expect(pairs('w2')).toEqual(pairs('w1'));
    expectOneLineError(cli('fuzz', '--workers', '0', '--runs', '1'), /--workers "0" is not a worker count/);
  });

  it('--time-per-property bounds each pair; --min-coverage fails a campaign whose checks were not all exercised', () => {
    const low = cli('fuzz', '--property', 'gif-semantics', '--time-per-property', '200ms', '--workers', '1', '--min-coverage', '100', '--out', join(dir, 'cov'));
    expect(low.code).toBe(1);
    expect(low.stdout).toMatch(/below --min-coverage 100%/);
    const summary = JSON.parse(readFileSync(join(dir, 'cov', 'summary.json'), 'utf8')) as { pairs: Array<{ elapsedMs: number }>; coverage_gate: { met: boolean } };
    expect(summary.coverage_gate.met).toBe(false);
    expect(Math.max(...summary.pairs.map((x) => x.elapsedMs))).toBeLessThan(1500);
    expect(cli('fuzz', '--property', 'gif-semantics', '--time-per-property', '200ms', '--workers', '1', '--min-coverage', '1', '--out', join(dir, 'cov2')).code).toBe(0);
  });

  it('reports a known bucket as fixed only when its pair ran without it and its counterexample no longer reproduces', async () => {
    const known = join(dir, 'known');
    await run(known, { profiles: [p('mutant-no-asid-check')], properties: ['vmrun-verdict-matches-apm'] });
    const quiet = join(dir, 'quiet');
    await run(quiet, { profiles: [{ ...p('kvm-next'), name: 'mutant-no-asid-check' }], properties: ['vmrun-verdict-matches-apm'] });
    // The pair ran and did not fail, but the stored counterexample still fails: not hit, not fixed.
    const tq = triage(quiet, join(known, 'corpus'));
    expect([tq.fixed.length, tq.notHit.length]).toEqual([0, 1]);
    // Once the stored case no longer fails (here: put back to its valid base), the bucket is fixed.
    const rep = join(known, 'corpus', Object.values(corpusBuckets(join(known, 'corpus')).buckets)[0].representative);
    const entry = JSON.parse(readFileSync(rep, 'utf8'));
    writeFileSync(rep, JSON.stringify({ ...entry, case: { ...entry.case, scenario: entry.case.base } }, null, 2));
    // The "fixed kernel": the same pair is now run on a profile without the bug, under the bug's name.
    const fixedNight = join(dir, 'fixed');
    const r = await runCampaign(plan(fixedNight, { profiles: [{ ...p('kvm-next'), name: 'mutant-no-asid-check' }], properties: ['vmrun-verdict-matches-apm'] }));
    writeCampaignFiles(fixedNight, r);
    const t = triage(fixedNight, join(known, 'corpus'));
    expect(t.fixed.map((b) => b.signature)).toEqual(Object.keys(corpusBuckets(join(known, 'corpus')).buckets));
    expect(t.fresh).toEqual([]);
  });
});

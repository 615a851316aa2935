// Oracle counterexamples in the failure database (issue #8 item 4, no emulator needed): a file
// under corpus/oracle/<adapter>/ names its bucket, bucketsFromFiles indexes it (and leaves out
// files written before oracle buckets), and triage never calls a quiet oracle bucket fixed
// without replaying it on its emulator.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketsFromFiles } from '../../src/campaign/buckets.ts';
import { formatTriage, replayOracleBuckets, triage } from '../../src/campaign/triage.ts';
import { tempDir } from './helpers.ts';

const t = tempDir('oracle-buckets');
afterAll(() => t.cleanup());

const PROPERTY = 'engine-agrees-with-bochs-vmx';
const CODE = 'unexplained:exit/vmfail-valid:7/kind';

/** A known corpus with one oracle counterexample that names its bucket and one that predates buckets. */
function knownCorpus(): string {
  const dir = join(t.dir, 'known');
  mkdirSync(join(dir, 'oracle', 'bochs-vmx'), { recursive: true });
  mkdirSync(join(dir, 'oracle', 'qemu-svm'), { recursive: true });
  const entry = { schema: 'nestfuzz-oracle/1', arch: 'vmx', adapter: 'bochs-vmx', property: PROPERTY, profile: 'mutant-no-vpid-check', found_at: '2026-11-26T07:00:00.000Z', verdict: { code: CODE, message: 'engine: VM exit 10; bochs-vmx: VMfailValid(7)' } };
  writeFileSync(join(dir, 'oracle', 'bochs-vmx', 'aaaa.json'), JSON.stringify(entry));
  writeFileSync(join(dir, 'oracle', 'qemu-svm', 'bbbb.json'), JSON.stringify({ schema: 'nestfuzz-oracle/1', adapter: 'qemu-svm', profile: 'linux-6.1' }));
  return dir;
}

/** A campaign whose ride ran engine-agrees-with-bochs-vmx on the bucket's profile and found nothing. */
function quietCampaign(): string {
  const dir = join(t.dir, 'quiet');
  mkdirSync(join(dir, 'corpus'), { recursive: true });
  const summary = {
    seed: 's', runs: 200, failed: false, interrupted: false, elapsedMs: 1, shard: null, plannedPairs: 1, properties: [PROPERTY], profiles: ['mutant-no-vpid-check'],
    pairs: [{ property: PROPERTY, profile: 'mutant-no-vpid-check', otherProfile: null, runs: 200, failed: false }], failures: [], skipped: [],
  };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
  return dir;
}

describe('oracle buckets', () => {
  const known = knownCorpus();
  const quiet = quietCampaign();

  it('should index an oracle counterexample by the bucket it names, and leave out one written before oracle buckets', () => {
    const idx = bucketsFromFiles(known);
    expect(Object.keys(idx.buckets)).toEqual([`${PROPERTY}|mutant-no-vpid-check|${CODE}`]);
    expect(Object.values(idx.buckets)[0].representative).toBe(join('oracle', 'bochs-vmx', 'aaaa.json'));
  });

  it('should leave a quiet oracle bucket unverified, not fixed, until its emulator replays it', async () => {
    const tr = triage(quiet, known);
    expect([tr.fixed, tr.notHit]).toEqual([[], []]);
    expect(tr.unverified.map((u) => u.bucket.property)).toEqual([PROPERTY]);
    // No emulator here: said so, and still not fixed.
    const down = await replayOracleBuckets(tr, async () => {
      throw new Error('spawn bochs ENOENT');
    });
    expect(down.fixed).toEqual([]);
    expect(down.unverified[0].why).toMatch(/could not replay it on its emulator: spawn bochs ENOENT/);
    expect(formatTriage(down)).toMatch(/KNOWN, not verified .* \(1\):\n.*engine-agrees-with-bochs-vmx.*spawn bochs ENOENT/);
    // The emulator ran it: still divergent (not hit this time), or no longer (fixed).
    expect((await replayOracleBuckets(tr, async () => true)).notHit.map((b) => b.property)).toEqual([PROPERTY]);
    expect((await replayOracleBuckets(tr, async () => false)).fixed.map((b) => b.property)).toEqual([PROPERTY]);
  });
});

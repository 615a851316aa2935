import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listCorpus, loadCorpusFile } from '../../src/campaign/corpus.ts';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { formatCampaignSummary } from '../../src/campaign/format.ts';
import { replayEntry } from '../../src/campaign/replay.ts';
import { deriveSeed, runCampaign, type CampaignOptions } from '../../src/campaign/runner.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { FAKE_REGISTRY, fakeLookup, tempDir, asSvm } from './helpers.ts';

const kvmNext = getProfile('kvm-next') as Profile;
const noAsidCheck = getProfile('mutant-no-asid-check') as Profile;

describe('runner', () => {
  let dir: string;
  let cleanup: () => void;
  const base = (): CampaignOptions => ({ registry: FAKE_REGISTRY, outDir: dir, seed: 'test', runs: 200, profiles: [kvmNext] });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('runner'));
  });
  afterEach(() => cleanup());

  describe('deriveSeed', () => {
    it('should give a fixed 32-bit seed per (seed, property, profile)', () => {
      const s = deriveSeed('nestfuzz', 'p', 'kvm-next');
      expect(Number.isInteger(s) && s >= -(2 ** 31) && s < 2 ** 31).toBe(true);
      expect(deriveSeed('nestfuzz', 'p', 'kvm-next')).toBe(s);
      expect(deriveSeed('nestfuzz', 'p', 'unified')).not.toBe(s);
      expect(deriveSeed('other', 'p', 'kvm-next')).not.toBe(s);
    });
  });

  describe('runCampaign', () => {
    it('should write a 1-minimal counterexample and its shrink log, and report the failure', async () => {
      const r = await runCampaign({ ...base(), properties: ['fake-always-*'] });
      expect(r.failed).toBe(true);
      expect(r.interrupted).toBe(false);
      expect(r.properties).toEqual(['fake-always-enters']);
      expect(r.failures).toHaveLength(1);
      const f = r.failures[0];
      expect(f).toMatchObject({ property: 'fake-always-enters', profile: 'kvm-next', otherProfile: null, oneMinimal: true, newInCorpus: true });
      expect(f.verdict.code).toBe('not-entered');
      expect(f.seed).toBe(deriveSeed('test', 'fake-always-enters', 'kvm-next'));
      expect(f.path).toMatch(/^\d+(:\d+)*$/);
      expect(f.shrinkCount).toBe(f.fastCheckShrinks + f.revertedToBase);
      expect(listCorpus(`${dir}/corpus`).map((l) => l.file)).toEqual([f.corpusFile]);

      const e = loadCorpusFile(f.corpusFile, { isProperty: (id) => fakeLookup(id) !== undefined });
      expect(e).toMatchObject({ schema: 1, property: 'fake-always-enters', profile: 'kvm-next', seed: f.seed, path: f.path, expected: 'fail' });
      // Noise (RSP, CR2, L2 nops) is reverted to the base; only ASID 0 is left.
      expect(asSvm(e.case).scenario.vmcb12.control.asid).toBe(0);
      expect(asSvm(e.case).scenario.vmcb12.save.rsp).toBe(asSvm(e.case).base.vmcb12.save.rsp);
      expect(asSvm(e.case).scenario.l2).toEqual(asSvm(e.case).base.l2);

      expect(existsSync(f.shrinkLogFile)).toBe(true);
      const log = readFileSync(f.shrinkLogFile, 'utf8');
      expect(log).toContain('== stage fast-check');
      expect(log).toContain(`Shrunk ${f.fastCheckShrinks} time(s)`);
      expect(log).toContain('== stage revert-to-base');
      expect(log).toContain('undo scenario.vmcb12.control.asid: invariant holds');
      expect(log).toContain('1-minimal: yes');
      expect(log).toMatch(/step 0: original failure/);

      const text = formatCampaignSummary(r);
      expect(text).toContain(`replay:     { seed: ${f.seed}, path: "${f.path}" }`);
      expect(text).toContain(`Shrunk ${f.shrinkCount} time(s)`);
    });

    it('should mark counterexamples found with strictArch, under a different hash', async () => {
      const loose = await runCampaign({ ...base(), properties: ['fake-always-enters'] });
      const strict = await runCampaign({ ...base(), properties: ['fake-always-enters'], strictArch: true });
      const e = loadCorpusFile(strict.failures[0].corpusFile, { isProperty: (id) => fakeLookup(id) !== undefined });
      expect(e.strict_arch).toBe(true);
      expect(strict.failures[0].hash).not.toBe(loose.failures[0].hash);
    });

    it('should find the same counterexample again and leave the corpus as it was', async () => {
      const a = await runCampaign({ ...base(), properties: ['fake-always-enters'] });
      const b = await runCampaign({ ...base(), properties: ['fake-always-enters'] });
      expect(b.failures[0].corpusFile).toBe(a.failures[0].corpusFile);
      expect(b.failures[0].newInCorpus).toBe(false);
      expect(listCorpus(`${dir}/corpus`)).toHaveLength(1);
    });

    it('should replay a saved counterexample to the same verdict', async () => {
      const r = await runCampaign({ ...base(), properties: ['fake-always-enters'] });
      const file = r.failures[0].corpusFile;
      const e = loadCorpusFile(file, { isProperty: (id) => fakeLookup(id) !== undefined });
      const rep = replayEntry(file, e, { getProperty: fakeLookup });
      expect(rep.reproduces).toBe(true);
      expect(rep.verdict).toEqual({ ok: false, code: 'not-entered', message: 'outcome vmexit-invalid' });
      expect(rep.diff.map((d) => d.path.join('.'))).toEqual(['vmcb12.control.asid']);
      expect(rep.traces[0].events.some((ev) => ev.ev === 'kvm_nested_check_failed' && ev.check === 'asid-zero')).toBe(true);
      // On a profile without the ASID check the same case enters: no longer reproduces.
      expect(replayEntry(file, { ...e, profile: noAsidCheck.name }, { getProperty: fakeLookup }).reproduces).toBe(false);
    });

    it('should succeed with coverage counts when every invariant holds', async () => {
      const r = await runCampaign({ ...base(), properties: ['fake-holds'], runs: 64 });
      expect(r.failed).toBe(false);
      expect(r.interrupted).toBe(false);
      expect(r.runs).toBe(64);
      expect(r.pairs).toEqual([expect.objectContaining({ property: 'fake-holds', runs: 64, failed: false, stoppedBy: 'runs' })]);
      expect(r.coverageSamples).toBe(4);
      expect(r.checks['asid-zero'].passed + r.checks['asid-zero'].failed).toBe(4);
      expect(r.checksHit.length + r.neverHit.length).toBe(Object.keys(r.checks).length);
      expect(listCorpus(`${dir}/corpus`)).toEqual([]);
    });

    it('should stop on the time budget', async () => {
      const r = await runCampaign({ ...base(), properties: ['fake-holds'], runs: undefined, timeMs: 300 });
      expect(r.failed).toBe(false);
      expect(r.pairs[0].stoppedBy).toBe('time');
      expect(r.elapsedMs).toBeLessThan(5000);
      expect(r.runs).toBeGreaterThan(0);
    });

    it('should run only comparing properties with compare, on that pair', async () => {
      const r = await runCampaign({ ...base(), properties: ['*'], compare: [kvmNext, noAsidCheck] });
      expect(r.compare).toEqual(['kvm-next', 'mutant-no-asid-check']);
      expect(r.pairs.map((p) => [p.property, p.profile, p.otherProfile])).toEqual([['fake-compare', 'kvm-next', 'mutant-no-asid-check']]);
      expect(r.skipped.map((s) => s.property)).toEqual(['fake-always-enters', 'fake-holds']);
      expect(r.failed).toBe(true);
      expect(r.failures[0].verdict.code).toBe('outcomes-differ');
      const e = loadCorpusFile(r.failures[0].corpusFile, { isProperty: (id) => fakeLookup(id) !== undefined });
      expect(e.other_profile).toBe('mutant-no-asid-check');
    });

    it('should report an interrupted campaign and keep the counterexamples found before the signal', async () => {
      const ac = new AbortController();
      const r = await runCampaign({
        ...base(),
        properties: ['fake-always-enters', 'fake-holds'],
        runs: undefined,
        timeMs: 60_000,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.property === 'fake-holds' && p.pairRuns > 100) ac.abort();
        },
      });
      expect(r.interrupted).toBe(true);
      expect(r.failed).toBe(true);
      expect(r.pairs.map((p) => p.stoppedBy)).toEqual(['failure', 'signal']);
      expect(existsSync(r.failures[0].corpusFile)).toBe(true);
      expect(r.elapsedMs).toBeLessThan(30_000);
    });

    it('should reject a property pattern that matches nothing', async () => {
      await expect(runCampaign({ ...base(), properties: ['nope-*'] })).rejects.toMatchObject({ code: 'NESTFUZZ_UNKNOWN_PROPERTY' });
      await expect(runCampaign({ ...base(), runs: 0 })).rejects.toBeInstanceOf(NestfuzzError);
    });
  });
});

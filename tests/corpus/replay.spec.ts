// Every shrunk counterexample in corpus/ is a regression test: it must still fail on the profile it
// was found on, with the stored verdict code, and — for a historical bug or a mutant — hold on
// kvm-next, the kernel with that fix in.
import { describe, expect, it } from 'vitest';
import { getProperty } from '../../properties/index.ts';
import { loadCorpus } from '../../src/campaign/corpus.ts';
import { replayEntry } from '../../src/campaign/replay.ts';
import { bugProfiles, getProfile } from '../../src/engine/profile_list.ts';

const entries = loadCorpus('corpus');

describe('corpus', () => {
  it('should hold at least one counterexample per bug profile in the catalog', () => {
    // A profile-comparison bug (unified-v4) is stored as the other side of a --compare pair.
    const covered = new Set(entries.flatMap((e) => [e.entry.profile, e.entry.other_profile ?? '']));
    expect(bugProfiles().map((p) => p.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  describe.each(entries.map((e) => [`${e.entry.property} on ${e.entry.profile}${e.entry.other_profile ? ` vs ${e.entry.other_profile}` : ''} (${e.file})`, e] as const))('%s', (_name, e) => {
    it('should still fail with the stored verdict', () => {
      const r = replayEntry(e.file, e.entry);
      expect(r.reproduces).toBe(true);
      expect(r.verdict.ok).toBe(false);
      if (!r.verdict.ok) expect(r.verdict.code).toBe(e.entry.verdict.code);
    });

    const profile = getProfile(e.entry.profile);
    if (profile && (profile.kind === 'historical' || profile.kind === 'mutant')) {
      it('should hold on kvm-next, where the fix is in', () => {
        const prop = getProperty(e.entry.property)!;
        const v = prop.predicate(e.entry.case, { profile: getProfile('kvm-next')!, strictArch: false });
        expect(v).toEqual({ ok: true });
      });
    }
  });
});

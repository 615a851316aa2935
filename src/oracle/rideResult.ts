// The oracle ride as part of the campaign's result: one pair (engine-agrees-with-<adapter> on the
// ride's profile) and one failure per unexplained-divergence bucket, each pointing at its
// corpus/oracle/ file and a shrink log, so summary.json, junit.xml and the report show it like any
// invariant.

import { join } from 'node:path';
import { saveShrinkLog } from '../campaign/corpus.ts';
import type { CampaignFailure, CampaignResult, PairSummary } from '../campaign/runner.ts';
import { contentHash } from '../campaign/serialize.ts';
import type { OracleRide } from './ride.ts';
import { describeSvmVerdict } from './svm/verdict.ts';

export function withOracleRide(result: CampaignResult, ride: OracleRide, outDir: string): CampaignResult {
  const r = ride.report;
  const pair: PairSummary = {
    property: ride.property, profile: r.profile, otherProfile: null, seed: ride.seed, runs: r.states,
    failed: r.unexplained.length > 0, stoppedBy: ride.interrupted ? 'signal' : 'time', elapsedMs: r.total_ms,
  };
  const failures: CampaignFailure[] = r.unexplained.map((u) => {
    const hash = contentHash({ property: ride.property, choice: u.choice, mutations: u.mutations, diff: u.diff });
    const log = [
      `${ride.property} on ${r.profile}: ${u.count} state(s) in this bucket; the first, shrunk in ${u.shrink_steps.length} batched round(s):`,
      ...u.shrink_steps.map((st, i) => `  round ${i + 1} (${st.candidates} candidates in one boot): ${JSON.stringify(st.choice)} ${st.mutations.join(' ') || '(base)'}`),
      `engine:   ${describeSvmVerdict(u.engine)}`,
      `emulator: ${describeSvmVerdict(u.emulator)}`,
      `differs in: ${u.diff.join(', ')}`,
    ].join('\n');
    const logFile = saveShrinkLog(join(outDir, 'shrink-logs'), ride.property, hash, log).file;
    const code = `unexplained-${u.diff.join('+')}`;
    return {
      property: ride.property, profile: r.profile, otherProfile: null,
      verdict: { code, message: `engine: ${describeSvmVerdict(u.engine)}; ${r.adapter}: ${describeSvmVerdict(u.emulator)}` },
      corpusFile: u.file ?? '', shrinkLogFile: logFile, hash,
      newInCorpus: true, bucket: `${ride.property}|${r.profile}|${code}`, newBucket: true,
      seed: ride.seed, path: '', shrinkCount: u.shrink_steps.length, fastCheckShrinks: 0, revertedToBase: u.shrink_steps.length,
      // The shrinker stops when no one-step-simpler candidate shows the same divergence.
      oneMinimal: true,
    };
  });
  const merged = { ...result, pairs: [...result.pairs, pair], failures: [...result.failures, ...failures], properties: [...result.properties, ride.property] };
  if (merged.failures.length > 0) return { ...merged, failed: true, interrupted: result.interrupted };
  return merged;
}

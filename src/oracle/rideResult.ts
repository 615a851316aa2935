// The oracle ride as part of the campaign's result: one pair (engine-agrees-with-<adapter> on the
// ride's profile) and one failure per unexplained-divergence bucket, each pointing at its
// corpus/oracle/ file and a shrink log, so summary.json, junit.xml and the report show it like any
// invariant; and each counterexample counted into the campaign's failure database
// (corpus/index.json), bucketed by its failure signature, so `nestfuzz triage` sees it.

import { join } from 'node:path';
import { bucketSignature, corpusBuckets, recordFailure, writeIndex } from '../campaign/buckets.ts';
import { saveShrinkLog } from '../campaign/corpus.ts';
import type { CampaignFailure, CampaignResult, PairSummary } from '../campaign/runner.ts';
import { contentHash } from '../campaign/serialize.ts';
import { describeOracleVerdict } from './format.ts';
import { oracleVerdict } from './oracleCorpus.ts';
import type { OracleRide } from './ride.ts';

export function withOracleRide(result: CampaignResult, ride: OracleRide, outDir: string): CampaignResult {
  const r = ride.report;
  const describe = (v: Parameters<typeof describeOracleVerdict>[1]): string => describeOracleVerdict(r.arch, v);
  const pair: PairSummary = {
    property: ride.property, profile: r.profile, otherProfile: null, seed: ride.seed, runs: r.states,
    failed: r.unexplained.length > 0, stoppedBy: ride.interrupted ? 'signal' : 'time', elapsedMs: r.total_ms,
  };
  // The main thread is alone with the index by now: the campaign's workers have finished.
  const corpusDir = join(outDir, 'corpus');
  const index = corpusBuckets(corpusDir);
  const failures: CampaignFailure[] = r.unexplained.map((u) => {
    const hash = contentHash({ property: ride.property, choice: u.choice, mutations: u.mutations, diff: u.diff });
    const log = [
      `${ride.property} on ${r.profile}: ${u.count} state(s) in this bucket; the first, shrunk in ${u.shrink_steps.length} batched round(s)${u.shrink_cut_short ? ' (cut short at the campaign\'s deadline)' : ''}:`,
      ...u.shrink_steps.map((st, i) => `  round ${i + 1} (${st.candidates} candidates in one boot): ${JSON.stringify(st.choice)} ${st.mutations.join(' ') || '(base)'}`),
      `engine:   ${describe(u.engine)}`,
      `emulator: ${describe(u.emulator)}`,
      `differs in: ${u.diff.join(', ')}`,
      `failure signature: ${u.signature}`,
    ].join('\n');
    const logFile = saveShrinkLog(join(outDir, 'shrink-logs'), ride.property, hash, log).file;
    const verdict = oracleVerdict(r.adapter, u.signature, describe(u.engine), describe(u.emulator));
    const at = new Date().toISOString();
    // Every ride writes its counterexamples (OracleRideOptions.corpusDir); one without a file is not indexed.
    const recorded = u.file ? recordFailure(corpusDir, index, { property: ride.property, profile: r.profile, other_profile: null, code: verdict.code, file: u.file, at }) : null;
    return {
      property: ride.property, profile: r.profile, otherProfile: null, verdict,
      corpusFile: u.file ?? '', shrinkLogFile: logFile, hash,
      newInCorpus: true, bucket: recorded?.bucket.signature ?? bucketSignature(ride.property, r.profile, null, verdict.code), newBucket: recorded?.isNew ?? true,
      seed: ride.seed, path: '', shrinkCount: u.shrink_steps.length, fastCheckShrinks: 0, revertedToBase: u.shrink_steps.length,
      // The shrinker stops when no one-step-simpler candidate shows the same divergence, unless the deadline stopped it first.
      oneMinimal: u.shrink_cut_short !== true,
    };
  });
  if (failures.some((f) => f.corpusFile !== '')) writeIndex(corpusDir, index);
  const merged = { ...result, pairs: [...result.pairs, pair], failures: [...result.failures, ...failures], properties: [...result.properties, ride.property] };
  if (merged.failures.length > 0) return { ...merged, failed: true, interrupted: result.interrupted };
  return merged;
}

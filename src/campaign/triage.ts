// nestfuzz triage <campaign-dir> [--known DIR]: what a nightly job should alert on. The campaign's
// buckets are compared with the known ones (the committed corpus by default): NEW buckets are news;
// KNOWN ones reproduced again; a known bucket whose property × profile pair ran in this campaign but
// did not fail is replayed from its representative: FIXED if it no longer reproduces, else "not hit
// this time" (the campaign's budget simply did not reach it). A quiet oracle bucket
// (engine-agrees-with-<adapter>, its representative under corpus/oracle/) replays only on its
// emulator: triage() leaves it unverified, and replayOracleBuckets runs it there when it can —
// an emulator that cannot run is said, never taken for a fix.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { corpusBuckets, type Bucket } from './buckets.ts';
import { ORACLE_CORPUS_SUBDIR } from './corpus.ts';
import { oneLine } from './errors.ts';
import { readSummary } from './merge.ts';
import { replayCorpusFile } from './replay.ts';

export interface TriageResult {
  campaign: string;
  known: string;
  fresh: Bucket[];
  seenAgain: Bucket[];
  fixed: Bucket[];
  /** Known buckets whose pair ran without failing, but whose representative still fails on replay. */
  notHit: Bucket[];
  /** Known quiet buckets whose representative only an emulator can replay (oracle counterexamples), not replayed yet or not replayable here, with why. */
  unverified: { bucket: Bucket; why: string }[];
}

/** An oracle counterexample (corpus/oracle/<adapter>/…): replayed on an emulator, not through a property. */
function isOracleBucket(b: Bucket): boolean {
  return b.representative.split(/[\\/]/)[0] === ORACLE_CORPUS_SUBDIR;
}

export function triage(campaignDir: string, knownCorpus: string): TriageResult {
  const ran = corpusBuckets(join(campaignDir, 'corpus'));
  const known = corpusBuckets(knownCorpus);
  const summary = readSummary(campaignDir);
  const pairKey = (property: string, profile: string, other: string | null): string => `${property}|${other ? `${profile},${other}` : profile}`;
  const ranPairs = new Set((summary?.pairs ?? []).map((p) => pairKey(p.property, p.profile, p.otherProfile)));
  // Failures of this campaign: its summary's buckets when it has one, else every bucket of its corpus.
  const failedSigs = summary ? new Set(summary.failures.map((f) => f.bucket).filter((b): b is string => typeof b === 'string')) : new Set(Object.keys(ran.buckets));
  const fresh: Bucket[] = [];
  const seenAgain: Bucket[] = [];
  for (const sig of [...failedSigs].sort()) {
    const b = ran.buckets[sig];
    if (!b) continue;
    (known.buckets[sig] ? seenAgain : fresh).push(b);
  }
  const quiet = Object.values(known.buckets)
    .filter((b) => ranPairs.has(pairKey(b.property, b.profile, b.other_profile)) && !failedSigs.has(b.signature))
    .sort((a, b) => a.signature.localeCompare(b.signature));
  const stillFails = (b: Bucket): boolean => {
    const file = join(knownCorpus, b.representative);
    return existsSync(file) && replayCorpusFile(file).reproduces;
  };
  const replayable = quiet.filter((b) => !isOracleBucket(b));
  const fixed = replayable.filter((b) => !stillFails(b));
  const notHit = replayable.filter((b) => !fixed.includes(b));
  const unverified = quiet.filter(isOracleBucket).map((bucket) => ({ bucket, why: `replaying it needs its emulator (${bucket.property})` }));
  return { campaign: campaignDir, known: knownCorpus, fresh, seenAgain, fixed, notHit, unverified };
}

/**
 * Replays each unverified oracle bucket's representative with `reproduces` (run on its emulator
 * against the bucket's profile): still an unexplained divergence → not hit this time; none → fixed.
 * A representative that is gone, or a replay that throws (emulator not installed, harness not
 * built, …), leaves the bucket unverified with the reason.
 */
export async function replayOracleBuckets(t: TriageResult, reproduces: (file: string, b: Bucket) => Promise<boolean>): Promise<TriageResult> {
  const out: TriageResult = { ...t, fixed: [...t.fixed], notHit: [...t.notHit], unverified: [] };
  for (const u of t.unverified) {
    const file = join(t.known, u.bucket.representative);
    if (!existsSync(file)) {
      out.unverified.push({ bucket: u.bucket, why: `its representative ${file} is missing` });
      continue;
    }
    try {
      (await reproduces(file, u.bucket) ? out.notHit : out.fixed).push(u.bucket);
    } catch (e) {
      out.unverified.push({ bucket: u.bucket, why: `could not replay it on its emulator: ${oneLine(e)}` });
    }
  }
  const bySig = (a: Bucket, b: Bucket): number => a.signature.localeCompare(b.signature);
  out.fixed.sort(bySig);
  out.notHit.sort(bySig);
  return out;
}

export function formatTriage(t: TriageResult): string {
  const line = (b: Bucket): string => `  ${b.signature}  (seen ${b.count}×, first ${b.first_seen || '?'}, last ${b.last_seen || '?'}) ${b.representative}`;
  const out = [`nestfuzz triage: ${t.campaign} against ${t.known}`];
  out.push(`NEW (${t.fresh.length}):`, ...t.fresh.map(line));
  out.push(`KNOWN, seen again (${t.seenAgain.length}):`, ...t.seenAgain.map(line));
  out.push(`FIXED, known, its pair ran, and its counterexample no longer reproduces (${t.fixed.length}):`, ...t.fixed.map(line));
  out.push(`KNOWN, not hit this time (its pair ran; the counterexample still reproduces) (${t.notHit.length}):`, ...t.notHit.map(line));
  if (t.unverified.length) out.push(`KNOWN, not verified (its pair ran; only its emulator can replay it) (${t.unverified.length}):`, ...t.unverified.map((u) => `${line(u.bucket)}: ${u.why}`));
  out.push(t.fresh.length ? `result: ${t.fresh.length} new bucket(s)` : 'result: nothing new');
  return `${out.join('\n')}\n`;
}

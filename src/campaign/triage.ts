// nestfuzz triage <campaign-dir> [--known DIR]: what a nightly job should alert on. The campaign's
// buckets are compared with the known ones (the committed corpus by default): NEW buckets are news;
// KNOWN ones reproduced again; a known bucket whose property × profile pair ran in this campaign but
// did not fail is replayed from its representative: FIXED if it no longer reproduces, else "not hit
// this time" (the campaign's budget simply did not reach it).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { corpusBuckets, type Bucket } from './buckets.ts';
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
  const fixed = quiet.filter((b) => !stillFails(b));
  const notHit = quiet.filter((b) => !fixed.includes(b));
  return { campaign: campaignDir, known: knownCorpus, fresh, seenAgain, fixed, notHit };
}

export function formatTriage(t: TriageResult): string {
  const line = (b: Bucket): string => `  ${b.signature}  (seen ${b.count}×, first ${b.first_seen || '?'}, last ${b.last_seen || '?'}) ${b.representative}`;
  const out = [`nestfuzz triage: ${t.campaign} against ${t.known}`];
  out.push(`NEW (${t.fresh.length}):`, ...t.fresh.map(line));
  out.push(`KNOWN, seen again (${t.seenAgain.length}):`, ...t.seenAgain.map(line));
  out.push(`FIXED, known, its pair ran, and its counterexample no longer reproduces (${t.fixed.length}):`, ...t.fixed.map(line));
  out.push(`KNOWN, not hit this time (its pair ran; the counterexample still reproduces) (${t.notHit.length}):`, ...t.notHit.map(line));
  out.push(t.fresh.length ? `result: ${t.fresh.length} new bucket(s)` : 'result: nothing new');
  return `${out.join('\n')}\n`;
}

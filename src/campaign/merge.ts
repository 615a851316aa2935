// nestfuzz merge <dir>… --out DIR: joins the outputs of sharded campaigns (or of several nights) into
// one campaign directory: every counterexample and shrink log (content-addressed, so equal files
// are one file), the failure database (a bucket's counts summed, first/last seen widened, one
// representative kept), and the summaries (pairs, failures and runs concatenated).

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { corpusBuckets, liveRepresentative, writeIndex, type BucketIndex } from './buckets.ts';
import { writeFileAtomic } from './corpus.ts';
import { combineCoverage, type CoverageParts } from './coverageRecords.ts';
import { NestfuzzError, oneLine } from './errors.ts';
import { JUNIT_FILE, REPORT_FILE, SUMMARY_FILE } from './campaignFiles.ts';
import { htmlReport } from './htmlReport.ts';
import { junitXml } from './junit.ts';
import type { CampaignResult } from './runner.ts';
import { fromJson, toJson } from './serialize.ts';

/** The summary fields merge and triage read (the rest of CampaignResult is carried along). */
export interface SummaryLike {
  seed: string;
  runs: number;
  failed: boolean;
  interrupted: boolean;
  elapsedMs: number;
  shard: string | null;
  plannedPairs: number;
  properties: string[];
  profiles: string[];
  pairs: Array<{ property: string; profile: string; otherProfile: string | null; runs: number; failed: boolean }>;
  failures: Array<{ property: string; profile: string; otherProfile: string | null; bucket?: string; corpusFile: string }>;
  skipped: Array<{ property: string; reason: string }>;
  [k: string]: unknown;
}

export function readSummary(dir: string): SummaryLike | null {
  const file = join(dir, SUMMARY_FILE);
  if (!existsSync(file)) return null;
  try {
    const s = fromJson<SummaryLike>(readFileSync(file, 'utf8'));
    if (!Array.isArray(s.pairs) || !Array.isArray(s.failures)) throw new Error('pairs / failures missing');
    return s;
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} is not a campaign summary (${oneLine(e)})`, 'point merge/triage at directories written by `nestfuzz fuzz --out DIR`');
  }
}

function copyTree(from: string, to: string): number {
  if (!existsSync(from)) return 0;
  let n = 0;
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (statSync(src).isDirectory()) n += copyTree(src, dst);
    else if (name !== 'index.json' && !existsSync(dst)) {
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      n++;
    }
  }
  return n;
}

function mergeIndex(into: BucketIndex, from: BucketIndex, corpusDir: string): void {
  for (const [sig, b] of Object.entries(from.buckets)) {
    const a = into.buckets[sig];
    if (!a) {
      into.buckets[sig] = { ...b };
      continue;
    }
    a.count += b.count;
    if (b.first_seen && (!a.first_seen || b.first_seen < a.first_seen)) a.first_seen = b.first_seen;
    if (b.last_seen > a.last_seen) a.last_seen = b.last_seen;
    if (!liveRepresentative(corpusDir, a) && liveRepresentative(corpusDir, b)) a.representative = b.representative;
  }
}

/**
 * A counterexample's path below its campaign's corpus directory, whatever directory the campaign
 * ran in: what follows the last "corpus" component (<property>/<hash>.json, or
 * oracle/<adapter>/<hash>.json for an oracle ride's).
 */
function inCorpus(file: string): string[] {
  const parts = file.split(/[\\/]/);
  const k = parts.lastIndexOf('corpus');
  return k >= 0 ? parts.slice(k + 1) : [basename(dirname(file)), basename(file)];
}

export interface MergeResult {
  out: string;
  inputs: string[];
  files: number;
  buckets: number;
  summary: SummaryLike | null;
}

export function mergeCampaigns(inputs: readonly string[], out: string): MergeResult {
  if (inputs.length === 0) throw new NestfuzzError('NESTFUZZ_USAGE', '`merge` needs at least one campaign directory', 'run `nestfuzz merge shard-1 shard-2 --out merged`');
  for (const d of inputs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${d} is not a directory`, 'pass the --out directories of the campaigns to merge');
  }
  const corpusDir = join(out, 'corpus');
  let files = 0;
  const index: BucketIndex = { schema: 1, buckets: {} };
  const summaries: SummaryLike[] = [];
  for (const d of inputs) {
    files += copyTree(join(d, 'corpus'), corpusDir) + copyTree(join(d, 'shrink-logs'), join(out, 'shrink-logs'));
    // Representatives are relative to a corpus directory, so they carry over unchanged.
    mergeIndex(index, corpusBuckets(join(d, 'corpus')), corpusDir);
    const s = readSummary(d);
    if (s) summaries.push(s);
  }
  mkdirSync(corpusDir, { recursive: true });
  writeIndex(corpusDir, index);
  let summary: SummaryLike | null = null;
  if (summaries.length) {
    const seeds = new Set(summaries.map((s) => s.seed));
    const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
    summary = {
      ...summaries[0],
      seed: seeds.size === 1 ? summaries[0].seed : [...seeds].join(','),
      runs: summaries.reduce((n, s) => n + s.runs, 0),
      failed: summaries.some((s) => s.failed),
      interrupted: summaries.some((s) => s.interrupted),
      elapsedMs: Math.max(...summaries.map((s) => s.elapsedMs)),
      shard: null,
      properties: uniq(summaries.flatMap((s) => s.properties)),
      profiles: uniq(summaries.flatMap((s) => s.profiles)),
      pairs: summaries.flatMap((s) => s.pairs),
      // corpus/<property>/<hash>.json (or corpus/oracle/<adapter>/<hash>.json) in the merged directory.
      failures: summaries.flatMap((s) => s.failures).map((f) => ({ ...f, corpusFile: join(corpusDir, ...inCorpus(f.corpusFile)) })),
      skipped: summaries[0].skipped,
      ...combineCoverage(summaries as unknown as CoverageParts[]),
      merged_from: inputs.map((d) => ({ dir: d, shard: readSummary(d)?.shard ?? null })),
    };
    writeFileAtomic(join(out, SUMMARY_FILE), `${toJson(summary, 2)}\n`);
    writeFileAtomic(join(out, JUNIT_FILE), junitXml(summary as unknown as CampaignResult));
    writeFileAtomic(join(out, REPORT_FILE), htmlReport(summary));
  }
  return { out, inputs: [...inputs], files, buckets: Object.keys(index.buckets).length, summary };
}

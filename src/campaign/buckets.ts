// The failure database: counterexamples bucketed by signature (property, profile[s], verdict code),
// one shrunk representative per bucket, and corpus/index.json recording for each bucket when it was
// first and last seen and how many times. A nightly job compares buckets, not files (triage.ts).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { NestfuzzError, oneLine } from './errors.ts';
import { ORACLE_CORPUS_SUBDIR, writeFileAtomic } from './corpus.ts';

export interface Bucket {
  signature: string;
  property: string;
  profile: string;
  other_profile: string | null;
  /** The verdict code the failure shrank to. */
  code: string;
  first_seen: string;
  last_seen: string;
  count: number;
  /** The representative counterexample, relative to the corpus directory. */
  representative: string;
}

export interface BucketIndex {
  schema: 1;
  buckets: Record<string, Bucket>;
}

export const INDEX_FILE = 'index.json';

/** property|profile[,other]|verdict code, with |strict-arch for a failure found under --strict-arch. */
export function bucketSignature(property: string, profile: string, other: string | null, code: string, strictArch = false): string {
  return `${property}|${other ? `${profile},${other}` : profile}|${code}${strictArch ? '|strict-arch' : ''}`;
}

function indexError(file: string, what: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `${file}: ${what}`, 'fix or delete the index; `nestfuzz triage` rebuilds buckets from the corpus files');
}

/** corpus/index.json, or an empty index when there is none. A malformed index is a one-line error. */
export function readIndex(corpusDir: string): BucketIndex {
  const file = join(corpusDir, INDEX_FILE);
  if (!existsSync(file)) return { schema: 1, buckets: {} };
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw indexError(file, `not valid JSON (${oneLine(e)})`);
  }
  const o = v as BucketIndex;
  if (!o || typeof o !== 'object' || o.schema !== 1 || !o.buckets || typeof o.buckets !== 'object') throw indexError(file, 'expected {"schema": 1, "buckets": {…}}');
  for (const [sig, b] of Object.entries(o.buckets)) {
    if (!b || typeof b !== 'object' || b.signature !== sig || typeof b.count !== 'number' || typeof b.representative !== 'string') throw indexError(file, `bucket ${JSON.stringify(sig)} is malformed`);
  }
  return o;
}

export function writeIndex(corpusDir: string, idx: BucketIndex): void {
  const sorted: Record<string, Bucket> = {};
  for (const k of Object.keys(idx.buckets).sort()) sorted[k] = idx.buckets[k];
  writeFileAtomic(join(corpusDir, INDEX_FILE), `${JSON.stringify({ schema: 1, buckets: sorted }, null, 2)}\n`);
}

/** The bucket's representative, if its file still exists. */
export function liveRepresentative(corpusDir: string, b: Bucket | undefined): string | null {
  if (!b) return null;
  const file = join(corpusDir, b.representative);
  return existsSync(file) ? file : null;
}

/** Counts one more failure into its bucket (creating it with `file` as representative). */
export function recordFailure(
  corpusDir: string, idx: BucketIndex,
  f: { property: string; profile: string; other_profile: string | null; code: string; file: string; at: string; strict_arch?: boolean },
): { bucket: Bucket; isNew: boolean } {
  const signature = bucketSignature(f.property, f.profile, f.other_profile, f.code, f.strict_arch === true);
  const old = idx.buckets[signature];
  if (old && liveRepresentative(corpusDir, old)) {
    old.count++;
    old.last_seen = f.at > old.last_seen ? f.at : old.last_seen;
    return { bucket: old, isNew: false };
  }
  const bucket: Bucket = {
    signature, property: f.property, profile: f.profile, other_profile: f.other_profile, code: f.code,
    first_seen: old?.first_seen ?? f.at, last_seen: f.at, count: (old?.count ?? 0) + 1, representative: relative(corpusDir, f.file),
  };
  idx.buckets[signature] = bucket;
  return { bucket, isNew: !old };
}

type StoredFailure = { property?: string; profile?: string; other_profile?: string; verdict?: { code?: string }; found_at?: string; strict_arch?: boolean };

function readStoredFailure(file: string): StoredFailure {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredFailure;
  } catch (err) {
    throw new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `corpus file ${file}: not valid JSON (${oneLine(err)})`, 'fix or delete the file');
  }
}

const jsonFiles = (dir: string): string[] => readdirSync(dir).filter((x) => x.endsWith('.json')).sort().map((f) => join(dir, f));

/**
 * Buckets of a corpus directory built from its files (for a corpus without index.json, e.g. the
 * committed one): <property>/*.json, and the oracle's counterexamples under
 * oracle/<adapter>/*.json, which name their bucket (property engine-agrees-with-<adapter>, a
 * verdict code from the failure signature) in the file. An oracle file without one predates
 * oracle buckets and was never a campaign failure: it is not indexed.
 */
export function bucketsFromFiles(corpusDir: string): BucketIndex {
  const idx: BucketIndex = { schema: 1, buckets: {} };
  if (!existsSync(corpusDir)) return idx;
  for (const dir of readdirSync(corpusDir, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const oracle = dir.name === ORACLE_CORPUS_SUBDIR;
    const files = oracle
      ? readdirSync(join(corpusDir, dir.name), { withFileTypes: true }).filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name)).flatMap((d) => jsonFiles(join(corpusDir, dir.name, d.name)))
      : jsonFiles(join(corpusDir, dir.name));
    for (const file of files) {
      const e = readStoredFailure(file);
      if (oracle && e.verdict === undefined) continue;
      if (typeof e.property !== 'string' || typeof e.profile !== 'string' || typeof e.verdict?.code !== 'string') {
        throw new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `corpus file ${file}: property, profile or verdict.code missing`, 'fix or delete the file');
      }
      recordFailure(corpusDir, idx, { property: e.property, profile: e.profile, other_profile: e.other_profile ?? null, code: e.verdict.code, file, at: e.found_at ?? '', strict_arch: e.strict_arch === true });
    }
  }
  return idx;
}

/** The index of a corpus directory: index.json when present, else built from the files. */
export function corpusBuckets(corpusDir: string): BucketIndex {
  return existsSync(join(corpusDir, INDEX_FILE)) ? readIndex(corpusDir) : bucketsFromFiles(corpusDir);
}

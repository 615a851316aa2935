// Engine-vs-emulator counterexamples: corpus/oracle/<adapter>/<hash>.json. The file keeps the
// whole concrete state (the engine's scenario and the harness choice it was built from), both
// verdicts as found, and the shrink steps; `nestfuzz oracle --cases <file|dir>` runs it again on
// the emulator and through the engine.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OracleSvmCase } from '../arbitraries/oracleSvm.ts';
import { ORACLE_SVM_MODES } from '../arbitraries/_internals/builders/oracleSvmBase.ts';
import { ORACLE_CORPUS_SUBDIR, toolVersion, writeFileAtomic } from '../campaign/corpus.ts';
import { NestfuzzError, oneLine } from '../campaign/errors.ts';
import { contentHash, fromJson, toJson } from '../campaign/serialize.ts';
import { GUEST_SNIPPET_NAMES, NPT_VARIANT_NAMES } from './image.ts';
import type { SvmShrinkStep } from './svm/shrink.ts';
import type { SvmVerdict } from './svm/verdict.ts';

export const ORACLE_SCHEMA = 'nestfuzz-oracle/1';

export interface OracleCorpusEntry {
  schema: typeof ORACLE_SCHEMA;
  tool: { name: 'nestfuzz'; version: string };
  adapter: string;
  /** The emulator's CPU model the state ran on. */
  model: string;
  profile: string;
  found_at: string;
  seed: number | null;
  case: OracleSvmCase;
  engine: SvmVerdict;
  emulator: SvmVerdict;
  diff: string[];
  shrink_steps: SvmShrinkStep[];
}

export function oracleCorpusDir(corpusDir: string, adapter: string): string {
  return join(corpusDir, ORACLE_CORPUS_SUBDIR, adapter);
}

/** Writes the entry (content-addressed by adapter, profile and state); returns its path. */
export function saveOracleCounterexample(corpusDir: string, e: Omit<OracleCorpusEntry, 'schema' | 'tool'>): { file: string; created: boolean } {
  const hash = contentHash({ adapter: e.adapter, profile: e.profile, case: e.case });
  const file = join(oracleCorpusDir(corpusDir, e.adapter), `${hash}.json`);
  if (existsSync(file)) return { file, created: false };
  writeFileAtomic(file, `${toJson({ schema: ORACLE_SCHEMA, tool: { name: 'nestfuzz', version: toolVersion() }, ...e }, 2)}\n`);
  return { file, created: true };
}

function bad(file: string, why: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `${file}: ${why}`, 'pass a file written by `nestfuzz oracle` (corpus/oracle/<adapter>/*.json) or a nested-SVM corpus file');
}

/** Checks the shape a replay relies on; the scenario itself is checked by the engine's own loader rules. */
export function parseOracleEntry(file: string, v: unknown): OracleCorpusEntry {
  const o = v as Partial<OracleCorpusEntry> | null;
  if (!o || typeof o !== 'object') throw bad(file, 'not a JSON object');
  if (o.schema !== ORACLE_SCHEMA) throw bad(file, `schema is ${JSON.stringify(o.schema)}, expected ${JSON.stringify(ORACLE_SCHEMA)}`);
  if (typeof o.adapter !== 'string') throw bad(file, 'adapter is missing');
  const c = o.case as Partial<OracleSvmCase> | undefined;
  if (!c || typeof c !== 'object' || !c.scenario || typeof c.scenario !== 'object' || (c.scenario as { arch?: unknown }).arch !== 'svm') throw bad(file, 'case.scenario is not a nested-SVM scenario');
  const ch = c.choice as Partial<OracleSvmCase['choice']> | undefined;
  if (!ch || !ORACLE_SVM_MODES.includes(ch.mode as never) || typeof ch.np !== 'boolean' || !GUEST_SNIPPET_NAMES.includes(ch.snippet as never) || (ch.npt !== undefined && ch.npt !== 'identity' && !NPT_VARIANT_NAMES.includes(ch.npt))) throw bad(file, 'case.choice is not a harness choice (mode, np, snippet, npt)');
  if (!Array.isArray(c.mutations) || c.mutations.some((m) => typeof m !== 'string')) throw bad(file, 'case.mutations is not a list of strings');
  return o as OracleCorpusEntry;
}

/** Reads JSON (bigints decoded); a file that is not JSON is a one-line error. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${file} (${oneLine(e)})`, 'pass an existing file or directory to --cases');
  }
  try {
    return fromJson(text);
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `${file} is not valid JSON (${oneLine(e)})`, 'fix or remove the file');
  }
}

/** The *.json files of a directory tree, or the one file given. */
export function jsonFilesUnder(target: string): string[] {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${target} does not exist`, 'pass a corpus file or directory to --cases');
  }
  if (!st.isDirectory()) return [target];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json') && name !== 'index.json') out.push(p);
    }
  };
  walk(target);
  return out;
}

// Engine-vs-emulator counterexamples: corpus/oracle/<adapter>/<hash>.json, nested SVM (a VMCB state
// on qemu-svm / bochs-svm) or nested VMX (a VMCS state on bochs-vmx), told apart by `arch` (a file
// without it predates VMX and is SVM). The file keeps the whole concrete state (the engine's
// scenario and the harness choice it was built from), both verdicts as found, the shrink steps,
// and the failure-database bucket it belongs to (property engine-agrees-with-<adapter> and a
// verdict code from the failure signature), so `nestfuzz triage` can index it from the file alone;
// `nestfuzz oracle --cases <file|dir>` runs it again on the emulator and through the engine.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OracleSvmCase } from '../arbitraries/oracleSvm.ts';
import type { OracleVmxCase } from '../arbitraries/oracleVmx.ts';
import { ORACLE_SVM_MODES } from '../arbitraries/_internals/builders/oracleSvmBase.ts';
import { ORACLE_VMX_SNIPPETS } from '../arbitraries/_internals/builders/oracleVmxBase.ts';
import { ORACLE_CORPUS_SUBDIR, scenarioProblem, toolVersion, writeFileAtomic } from '../campaign/corpus.ts';
import { NestfuzzError, oneLine } from '../campaign/errors.ts';
import { isObject, isStringArray } from '../campaign/jsonShape.ts';
import { contentHash, fromJson, toJson } from '../campaign/serialize.ts';
import { GUEST_SNIPPET_NAMES, NPT_VARIANT_NAMES } from './image.ts';
import { SVM_VERDICT_KINDS, type SvmVerdict } from './svm/verdict.ts';
import type { OracleEntryFields } from './tally.ts';
import { VMX_VERDICT_KINDS, type VmxVerdict } from './vmx/verdict.ts';

export const ORACLE_SCHEMA = 'nestfuzz-oracle/1';

export type OracleArchName = 'svm' | 'vmx';

/** The invariant an oracle counterexample breaks: the property name in summaries and buckets. */
export function oracleProperty(adapter: string): string {
  return `engine-agrees-with-${adapter}`;
}

/**
 * An unexplained divergence as a failure: its verdict code (the failure-database bucket) comes from
 * the failure signature, its message gives both verdicts as text.
 */
export function oracleVerdict(adapter: string, signature: string, engine: string, emulator: string): { code: string; message: string } {
  return { code: `unexplained:${signature}`, message: `engine: ${engine}; ${adapter}: ${emulator}` };
}

interface OracleEntryHeader {
  schema: typeof ORACLE_SCHEMA;
  tool: { name: 'nestfuzz'; version: string };
  /** The failure-database bucket (buckets.ts); absent in files written before oracle buckets. */
  property?: string;
  verdict?: { code: string; message: string };
}

export type OracleSvmCorpusEntry = OracleEntryHeader & { arch: 'svm' } & OracleEntryFields<OracleSvmCase, SvmVerdict>;
export type OracleVmxCorpusEntry = OracleEntryHeader & { arch: 'vmx' } & OracleEntryFields<OracleVmxCase, VmxVerdict>;
export type AnyOracleCorpusEntry = OracleSvmCorpusEntry | OracleVmxCorpusEntry;
/** A nested-SVM oracle entry (what the reproducer exporter reads). */
export type OracleCorpusEntry = OracleSvmCorpusEntry;
/** The state of each architecture's entries. */
interface OracleCaseOf {
  svm: OracleSvmCase;
  vmx: OracleVmxCase;
}

/** What a caller gives to save: an entry without its header; `arch` may be left out for SVM (as before VMX). */
export type OracleEntryInput =
  | (OracleEntryFields<OracleSvmCase, SvmVerdict> & { arch?: 'svm'; verdict?: { code: string; message: string } })
  | (OracleEntryFields<OracleVmxCase, VmxVerdict> & { arch: 'vmx'; verdict?: { code: string; message: string } });

export function oracleCorpusDir(corpusDir: string, adapter: string): string {
  return join(corpusDir, ORACLE_CORPUS_SUBDIR, adapter);
}

/** Writes the entry (content-addressed by adapter, profile and state); returns its path. */
export function saveOracleCounterexample(corpusDir: string, e: OracleEntryInput): { file: string; created: boolean } {
  const hash = contentHash({ adapter: e.adapter, profile: e.profile, case: e.case });
  const file = join(oracleCorpusDir(corpusDir, e.adapter), `${hash}.json`);
  if (existsSync(file)) return { file, created: false };
  const { arch = 'svm', verdict, ...rest } = e;
  const bucket = verdict ? { property: oracleProperty(e.adapter), verdict } : {};
  writeFileAtomic(file, `${toJson({ schema: ORACLE_SCHEMA, tool: { name: 'nestfuzz', version: toolVersion() }, arch, ...bucket, ...rest }, 2)}\n`);
  return { file, created: true };
}

function bad(file: string, why: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_CORPUS_SCHEMA', `${file}: ${why}`, 'pass a file written by `nestfuzz oracle` (corpus/oracle/<adapter>/*.json) or a project corpus file');
}

/** Why a stored verdict is not one of the architecture's, or null. */
function verdictProblem(v: unknown, at: string, kinds: readonly string[]): string | null {
  if (!isObject(v) || typeof v.kind !== 'string') return `${at} is not a verdict (an object with a kind)`;
  return kinds.includes(v.kind) ? null : `${at}.kind is ${JSON.stringify(v.kind)}, expected one of ${kinds.join(', ')}`;
}

/** Why `c` is not an oracle state of `arch`, or null (shape only: the engine judges the values). */
function caseProblem(arch: OracleArchName, c: unknown): string | null {
  if (!isObject(c) || !isObject(c.scenario) || c.scenario.arch !== arch) return `case.scenario is not a nested-${arch.toUpperCase()} scenario`;
  const shape = scenarioProblem(c.scenario, 'case.scenario');
  if (shape !== null) return shape;
  const ch = c.choice;
  if (arch === 'svm') {
    if (!isObject(ch) || !ORACLE_SVM_MODES.includes(ch.mode as never) || typeof ch.np !== 'boolean' || !GUEST_SNIPPET_NAMES.includes(ch.snippet as never)
      || (ch.npt !== undefined && ch.npt !== 'identity' && !NPT_VARIANT_NAMES.includes(ch.npt as never))) return 'case.choice is not a harness choice (mode, np, snippet, npt)';
  } else if (!isObject(ch) || !ORACLE_VMX_SNIPPETS.includes(ch.snippet as never) || typeof ch.ept !== 'boolean') return 'case.choice is not a VMX harness choice (snippet, ept)';
  return isStringArray(c.mutations) ? null : 'case.mutations is not a list of strings';
}

/**
 * An oracle entry of either architecture: the shape a replay relies on (header, adapter, profile,
 * the state, both verdicts, the differing fields), each problem a one-line error naming the file.
 */
export function parseAnyOracleEntry(file: string, v: unknown): AnyOracleCorpusEntry {
  if (!isObject(v)) throw bad(file, 'not a JSON object');
  if (v.schema !== ORACLE_SCHEMA) throw bad(file, `schema is ${JSON.stringify(v.schema)}, expected ${JSON.stringify(ORACLE_SCHEMA)}`);
  const arch = v.arch ?? 'svm';
  if (arch !== 'svm' && arch !== 'vmx') throw bad(file, `arch is ${JSON.stringify(v.arch)}, expected "svm" or "vmx"`);
  if (typeof v.adapter !== 'string') throw bad(file, 'adapter is missing');
  const problem = caseProblem(arch, v.case);
  if (problem !== null) throw bad(file, problem);
  if (typeof v.profile !== 'string') throw bad(file, 'profile is missing');
  const kinds = arch === 'svm' ? SVM_VERDICT_KINDS : VMX_VERDICT_KINDS;
  const verdicts = verdictProblem(v.engine, 'engine', kinds) ?? verdictProblem(v.emulator, 'emulator', kinds);
  if (verdicts !== null) throw bad(file, verdicts);
  if (!isStringArray(v.diff)) throw bad(file, 'diff is not a list of strings');
  if (v.verdict !== undefined && (!isObject(v.verdict) || typeof v.verdict.code !== 'string')) throw bad(file, 'verdict must be {"code","message"}');
  if (v.shrink_steps !== undefined && !Array.isArray(v.shrink_steps)) throw bad(file, 'shrink_steps is not a list');
  return { shrink_steps: [], ...v, arch } as unknown as AnyOracleCorpusEntry;
}

/** A nested-SVM oracle entry (a nested-VMX one is a one-line error): what the reproducer exporter reads. */
export function parseOracleEntry(file: string, v: unknown): OracleCorpusEntry {
  const e = parseAnyOracleEntry(file, v);
  if (e.arch !== 'svm') throw bad(file, `arch is ${JSON.stringify(e.arch)}: a nested-VMX oracle counterexample, where a nested-SVM one is expected`);
  return e;
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

export interface OracleCases<C> {
  cases: C[];
  /** The file each state came from. */
  sources: string[];
  skipped: { file: string; why: string }[];
}

/**
 * The states of `target` (a file or a tree) that run on `adapter`: its own oracle entries as
 * stored, any other corpus file through `other` (a state, or why it cannot run here). Oracle
 * entries found on another adapter are skipped with that reason. A single file that yields no
 * state is a one-line error (`fix` says what to pass instead).
 */
export function oracleCasesFromFiles<A extends OracleArchName>(
  target: string, adapter: string, arch: A, other: (file: string) => OracleCaseOf[A] | string, fix: string,
): OracleCases<OracleCaseOf[A]> {
  const files = jsonFilesUnder(target);
  const out: OracleCases<OracleCaseOf[A]> = { cases: [], sources: [], skipped: [] };
  for (const file of files) {
    const json = readJsonFile(file);
    let c: OracleCaseOf[A] | string;
    if (isObject(json) && json.schema === ORACLE_SCHEMA) {
      const e = parseAnyOracleEntry(file, json);
      if (e.adapter !== adapter) c = `found on ${e.adapter}${e.arch !== arch ? ` (a nested-${e.arch.toUpperCase()} state)` : ''}`;
      else if (e.arch !== arch) c = `a nested-${e.arch.toUpperCase()} state, where ${adapter} runs nested-${arch.toUpperCase()} ones`;
      // Same adapter, same architecture: the union narrows no further for a generic A.
      else c = e.case as OracleCaseOf[A];
    } else c = other(file);
    if (typeof c === 'string') out.skipped.push({ file, why: c });
    else {
      out.cases.push(c);
      out.sources.push(file);
    }
  }
  if (files.length === 1 && out.cases.length === 0) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${files[0]} cannot run on ${adapter}: ${out.skipped[0]?.why ?? 'no state'}`, fix);
  return out;
}

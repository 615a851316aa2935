// The corpus: one directory per property, one JSON file per counterexample named by content hash
// (after Hypothesis' DirectoryBasedExampleDatabase). A file stores the whole concrete case, so it
// survives changes to the arbitraries, plus the replay coordinates and the tool version that found
// it. Saving the same counterexample twice is a no-op; a malformed file is a one-line
// NESTFUZZ_CORPUS_SCHEMA error, never a skip.
//
//   corpus/<property>/<hash>.json        the entry (schema 1, below)
//   shrink-logs/<property>/<hash>.log    its shrink transcript (shrinkLog.ts)
//
// hash = contentHash({property, profile, other_profile, strict_arch, case}): the counterexample's identity, not
// when or how it was found, so re-finding it later does not add a file.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { getProperty } from '../../properties/index.ts';
import type { AnyCase } from '../../properties/types.ts';
import { fieldByName } from '../arch/vmx/fields.ts';
import { getProfile } from '../engine/profile_list.ts';
import { NestfuzzError, oneLine } from './errors.ts';
import { contentHash, fromJson, toJson } from './serialize.ts';
import { bigintFields, booleanFields, integerFields, isObject, isStringArray, type Json } from './jsonShape.ts';
import { streamProblem } from './corpusStream.ts';
import { pageFaultScenarioProblem, permissionScenarioProblem } from './corpusFaults.ts';

export const CORPUS_SCHEMA_VERSION = 1;

export interface CorpusEntry {
  schema: 1;
  tool: { name: 'nestfuzz'; version: string };
  property: string;
  profile: string;
  /** The second profile of a `--compare` pair. */
  other_profile?: string;
  /** Found with `--strict-arch` (listed deviations count as failures); absent otherwise. */
  strict_arch?: true;
  /** fast-check seed and path: `fc.check(prop, { seed, path })` replays the original run. */
  seed: number;
  path: string;
  /** ISO 8601. */
  found_at: string;
  verdict: { code: string; message: string };
  /** What the regression test expects: the invariant still fails on this profile. */
  expected: 'fail';
  mutations: string[];
  case: AnyCase;
}

export interface SavedFile {
  file: string;
  hash: string;
  /** false when the same counterexample was already stored (nothing written). */
  created: boolean;
}

let cachedVersion: string | undefined;

/** The version field of the project's package.json. */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return cachedVersion;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkDirName(what: string, id: string): void {
  if (!SAFE_ID.test(id)) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${what} ${JSON.stringify(id)} cannot name a corpus directory`, 'use letters, digits, ".", "_" and "-" only');
  }
}

/** The identity a counterexample's file name is the hash of. */
export function corpusHash(e: Pick<CorpusEntry, 'property' | 'profile' | 'other_profile' | 'strict_arch' | 'case'>): string {
  return contentHash({ property: e.property, profile: e.profile, other_profile: e.other_profile, strict_arch: e.strict_arch, case: e.case });
}

/** Write `text` to `file` through a temporary file and a rename, so readers never see half a file. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}

export function corpusFilePath(corpusDir: string, property: string, hash: string): string {
  return join(corpusDir, property, `${hash}.json`);
}

export function shrinkLogPath(shrinkLogDir: string, property: string, hash: string): string {
  return join(shrinkLogDir, property, `${hash}.log`);
}

/** Store a counterexample as `<corpusDir>/<property>/<hash>.json`; a no-op if it is already there. */
export function saveCounterexample(corpusDir: string, entry: CorpusEntry): SavedFile {
  checkDirName('property id', entry.property);
  const hash = corpusHash(entry);
  const file = corpusFilePath(corpusDir, entry.property, hash);
  if (existsSync(file)) return { file, hash, created: false };
  writeFileAtomic(file, `${toJson(entry, 2)}\n`);
  return { file, hash, created: true };
}

/** Store a shrink transcript next to its counterexample's hash; a no-op if it is already there. */
export function saveShrinkLog(shrinkLogDir: string, property: string, hash: string, text: string): SavedFile {
  checkDirName('property id', property);
  const file = shrinkLogPath(shrinkLogDir, property, hash);
  if (existsSync(file)) return { file, hash, created: false };
  writeFileAtomic(file, text.endsWith('\n') ? text : `${text}\n`);
  return { file, hash, created: true };
}

// ---------------------------------------------------------------------------------------------
// loading

export interface LoadCorpusOptions {
  /** Is this a known property id? (default: the registry in properties/index.ts) */
  isProperty?: (id: string) => boolean;
  /** Is this a known profile name? (default: the registry in src/engine/profile_list.ts) */
  isProfile?: (name: string) => boolean;
}

const VMX_PATHS = ['vmlaunch', 'vmresume', 'set-nested-state'];

/** What is wrong with a nested-VMX scenario, or null (shape only, as for SVM). */
function vmxScenarioProblem(s: Json, at: string): string | null {
  if (!isObject(s.l0)) return `${at}.l0 is missing`;
  if (!isObject(s.caps)) return `${at}.caps is missing`;
  if (!isObject(s.guest) || !isObject(s.guest.cpuid)) return `${at}.guest is missing or has no cpuid`;
  if (!isObject(s.l1) || !isObject(s.l1.seg)) return `${at}.l1 is missing or has no seg`;
  if (!isObject(s.vmcs12)) return `${at}.vmcs12 is missing`;
  for (const [k, v] of Object.entries(s.vmcs12)) {
    if (fieldByName(k) === undefined) return `${at}.vmcs12 has unknown field ${JSON.stringify(k)}`;
    if (typeof v !== 'number' && typeof v !== 'bigint') return `${at}.vmcs12.${k} is not a number`;
  }
  if (typeof s.current_vmptr !== 'bigint') return `${at}.current_vmptr is missing or not a bigint`;
  if (s.launch_state !== 'clear' && s.launch_state !== 'launched') return `${at}.launch_state is ${JSON.stringify(s.launch_state)}, expected "clear" or "launched"`;
  if (!isObject(s.mem)) return `${at}.mem is missing`;
  if (typeof s.path !== 'string' || !VMX_PATHS.includes(s.path)) return `${at}.path is ${JSON.stringify(s.path)}, expected one of ${VMX_PATHS.join(', ')}`;
  if (!isObject(s.nested_state)) return `${at}.nested_state is missing`;
  if (!isObject(s.l2) || typeof s.l2.kind !== 'string') return `${at}.l2 is missing or has no kind`;
  return null;
}

const MEM_KEY = /^0x[0-9a-f]+$/;

/** What is wrong with a nested-paging scenario (NestedFaultScenario), or null (shape only). */
function mmuScenarioProblem(s: Json, at: string): string | null {
  if (s.flavour !== 'svm' && s.flavour !== 'vmx') return `${at}.flavour is ${JSON.stringify(s.flavour)}, expected "svm" or "vmx"`;
  if (!isObject(s.mem)) return `${at}.mem is missing`;
  if (!isObject(s.mem.words)) return `${at}.mem.words is missing or not an object`;
  for (const [k, v] of Object.entries(s.mem.words)) {
    if (!MEM_KEY.test(k)) return `${at}.mem.words has key ${JSON.stringify(k)}, expected a lower-case "0x…" GPA`;
    if (typeof v !== 'bigint') return `${at}.mem.words["${k}"] is not a bigint`;
  }
  if (typeof s.mem.ram_top !== 'bigint') return `${at}.mem.ram_top is missing or not a bigint`;
  const g = s.guest;
  if (!isObject(g)) return `${at}.guest is missing`;
  const gp = bigintFields(g, `${at}.guest`, ['cr0', 'cr3', 'cr4', 'efer', 'rflags'])
    ?? integerFields(g, `${at}.guest`, ['cpl', 'pkru', 'maxphyaddr'])
    ?? booleanFields(g, `${at}.guest`, ['pse36']);
  if (gp !== null) return gp;
  if (!Array.isArray(g.pdptrs) || !g.pdptrs.every((x) => typeof x === 'bigint')) return `${at}.guest.pdptrs is not an array of bigints`;
  const t = s.tdp;
  if (!isObject(t)) return `${at}.tdp is missing`;
  const want = s.flavour === 'svm' ? 'npt' : 'ept';
  if (t.kind !== 'npt' && t.kind !== 'ept') return `${at}.tdp.kind is ${JSON.stringify(t.kind)}, expected "npt" or "ept"`;
  if (t.kind !== want) return `${at}.tdp.kind is "${t.kind}" but flavour "${s.flavour}" uses "${want}"`;
  const tp = t.kind === 'npt'
    ? bigintFields(t, `${at}.tdp`, ['ncr3']) ?? booleanFields(t, `${at}.tdp`, ['nx', 'gmet']) ?? integerFields(t, `${at}.tdp`, ['maxphyaddr'])
      ?? (t.levels === 3 || t.levels === 4 || t.levels === 5 ? null : `${at}.tdp.levels is ${JSON.stringify(t.levels)}, expected 3, 4 or 5`)
    : bigintFields(t, `${at}.tdp`, ['eptp']) ?? booleanFields(t, `${at}.tdp`, ['execonly', 'mbec', 'advanced_exit_info']) ?? integerFields(t, `${at}.tdp`, ['maxphyaddr']);
  if (tp !== null) return tp;
  if (!isObject(s.access)) return `${at}.access is missing`;
  const ap = bigintFields(s.access, `${at}.access`, ['gva']) ?? booleanFields(s.access, `${at}.access`, ['write', 'fetch', 'implicit']);
  if (ap !== null) return ap;
  if (s.performer !== 'hardware' && s.performer !== 'emulator') return `${at}.performer is ${JSON.stringify(s.performer)}, expected "hardware" or "emulator"`;
  if (s.io !== undefined && s.io !== null) {
    const io = s.io as Record<string, unknown>;
    if (!isObject(io) || (io.kind !== 'ins' && io.kind !== 'outs')) return `${at}.io.kind must be "ins" or "outs"`;
    for (const f of ['port', 'size', 'rep', 'insn_len'] as const) if (typeof io[f] !== 'number') return `${at}.io.${f} is not a number`;
    for (const f of ['df', 'l1_intercepts'] as const) if (typeof io[f] !== 'boolean') return `${at}.io.${f} is not a boolean`;
    if (typeof io.rip !== 'bigint') return `${at}.io.rip is not a 64-bit value`;
  }
  if (!isObject(s.stale_svm)) return `${at}.stale_svm is missing`;
  const sp = bigintFields(s.stale_svm, `${at}.stale_svm`, ['exit_code', 'exit_info_1', 'exit_info_2']);
  if (sp !== null) return sp;
  if (!isObject(s.stale_vmx)) return `${at}.stale_vmx is missing`;
  return integerFields(s.stale_vmx, `${at}.stale_vmx`, ['reason']) ?? bigintFields(s.stale_vmx, `${at}.stale_vmx`, ['qual', 'gpa', 'gla'])
    ?? streamProblem(s, at);
}

/** What is wrong with a scenario, or null (shape only: the engine judges the values). Also read for oracle corpus files (src/oracle/oracleCorpus.ts). */
export function scenarioProblem(s: unknown, at: string): string | null {
  if (!isObject(s)) return `${at} is not an object`;
  if (s.arch === 'vmx') return vmxScenarioProblem(s, at);
  if (s.arch === 'mmu') return mmuScenarioProblem(s, at);
  if (s.arch === 'mmu-perm') return permissionScenarioProblem(s, at);
  if (s.arch === 'mmu-pf') return pageFaultScenarioProblem(s, at);
  if (s.arch !== 'svm') return `${at}.arch is ${JSON.stringify(s.arch)}, expected "svm", "vmx", "mmu", "mmu-perm" or "mmu-pf"`;
  if (typeof s.entry !== 'string') return `${at}.entry is missing`;
  if (!isObject(s.l1)) return `${at}.l1 is missing`;
  if (!isObject(s.vmcb12) || !isObject(s.vmcb12.control) || !isObject(s.vmcb12.save)) return `${at}.vmcb12 is missing or has no control/save area`;
  if (!Array.isArray(s.l2)) return `${at}.l2 is not an array`;
  return null;
}

/** Why `v` is not a schema-1 corpus entry, or null when it is one. */
export function corpusEntryProblem(v: unknown, opts: LoadCorpusOptions = {}): string | null {
  const isProperty = opts.isProperty ?? ((id: string) => getProperty(id) !== undefined);
  const isProfile = opts.isProfile ?? ((name: string) => getProfile(name) !== undefined);
  if (!isObject(v)) return 'top level is not a JSON object';
  if (v.schema !== CORPUS_SCHEMA_VERSION) return `schema is ${JSON.stringify(v.schema)}, expected ${CORPUS_SCHEMA_VERSION}`;
  if (!isObject(v.tool) || v.tool.name !== 'nestfuzz' || typeof v.tool.version !== 'string') return 'tool must be {"name":"nestfuzz","version":"…"}';
  if (typeof v.property !== 'string') return 'property is missing';
  if (!isProperty(v.property)) return `unknown property ${JSON.stringify(v.property)}`;
  if (typeof v.profile !== 'string') return 'profile is missing';
  if (!isProfile(v.profile)) return `unknown profile ${JSON.stringify(v.profile)}`;
  if (v.other_profile !== undefined) {
    if (typeof v.other_profile !== 'string') return 'other_profile is not a string';
    if (!isProfile(v.other_profile)) return `unknown profile ${JSON.stringify(v.other_profile)} (other_profile)`;
  }
  if (v.strict_arch !== undefined && v.strict_arch !== true) return 'strict_arch must be true when present';
  if (typeof v.seed !== 'number' || !Number.isInteger(v.seed)) return 'seed is missing or not an integer';
  if (typeof v.path !== 'string') return 'path is missing';
  if (typeof v.found_at !== 'string' || Number.isNaN(Date.parse(v.found_at))) return 'found_at is missing or not an ISO date';
  if (!isObject(v.verdict) || typeof v.verdict.code !== 'string' || typeof v.verdict.message !== 'string') return 'verdict must be {"code","message"}';
  if (v.expected !== 'fail') return `expected is ${JSON.stringify(v.expected)}, must be "fail"`;
  if (!isStringArray(v.mutations)) return 'mutations is not an array of strings';
  if (!isObject(v.case)) return 'case is missing';
  if (!isStringArray(v.case.mutations)) return 'case.mutations is not an array of strings';
  const problem = scenarioProblem(v.case.scenario, 'case.scenario') ?? scenarioProblem(v.case.base, 'case.base');
  if (problem !== null) return problem;
  const arch = (v.case.scenario as Json).arch;
  if ((v.case.base as Json).arch !== arch) return `case.base.arch is ${JSON.stringify((v.case.base as Json).arch)} but case.scenario.arch is ${JSON.stringify(arch)}`;
  if (arch === 'mmu') {
    const flavour = (v.case.scenario as Json).flavour;
    if ((v.case.base as Json).flavour !== flavour) return `case.base.flavour is ${JSON.stringify((v.case.base as Json).flavour)} but case.scenario.flavour is ${JSON.stringify(flavour)}`;
  }
  return null;
}

function schemaError(file: string, what: string, cause?: unknown): NestfuzzError {
  return new NestfuzzError(
    'NESTFUZZ_CORPUS_SCHEMA',
    `corpus file ${file}: ${what}`,
    'fix or delete the file; a new `nestfuzz fuzz` run writes a valid one',
    cause === undefined ? undefined : { cause },
  );
}

/** Read and validate one corpus file. Throws NESTFUZZ_CORPUS_SCHEMA on anything malformed. */
export function loadCorpusFile(file: string, opts: LoadCorpusOptions = {}): CorpusEntry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw schemaError(file, `cannot be read (${oneLine(e)})`, e);
  }
  let v: unknown;
  try {
    v = fromJson(text);
  } catch (e) {
    throw schemaError(file, `is not valid JSON (${oneLine(e)})`, e);
  }
  const problem = corpusEntryProblem(v, opts);
  if (problem !== null) throw schemaError(file, problem);
  return v as CorpusEntry;
}

/** The corpus subdirectory of emulator-disagreement counterexamples (one folder per adapter). */
export const ORACLE_CORPUS_SUBDIR = 'oracle';

export interface CorpusListing {
  property: string;
  hash: string;
  file: string;
}

/** Every `<corpusDir>/<property>/*.json`, sorted by property then hash; [] when there is no corpus. */
export function listCorpus(corpusDir: string): CorpusListing[] {
  if (!existsSync(corpusDir)) return [];
  const out: CorpusListing[] = [];
  for (const property of readdirSync(corpusDir).sort()) {
    const dir = join(corpusDir, property);
    // corpus/oracle/ holds engine-vs-emulator counterexamples (src/oracle/oracleCorpus.ts): they
    // replay on an emulator (`nestfuzz oracle --cases`), not through a property.
    if (property.startsWith('.') || property === ORACLE_CORPUS_SUBDIR || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      out.push({ property, hash: name.slice(0, -'.json'.length), file: join(dir, name) });
    }
  }
  return out;
}

/** Load every corpus file; the first malformed one throws (an unreadable file is an error, not a skip). */
export function loadCorpus(corpusDir: string, opts: LoadCorpusOptions = {}): Array<CorpusListing & { entry: CorpusEntry }> {
  return listCorpus(corpusDir).map((l) => ({ ...l, entry: loadCorpusFile(l.file, opts) }));
}

// `replay <corpus-file>`: re-judge a stored counterexample with today's engine and property, and
// gather what a reviewer needs to read it: the verdict, the vmcb12 as decoded, what differs from
// the valid base, and the engine trace. Pure: the same file gives the same data on every run.

import { getProperty } from '../../properties/index.ts';
import type { NestfuzzProperty, PropertyContext } from '../../properties/types.ts';
import { dumpVmcb } from '../arch/svm/dump.ts';
import type { Profile } from '../engine/profiles.ts';
import { run, type Outcome } from '../engine/svm/run.ts';
import type { TraceEvent } from '../engine/trace.ts';
import { loadCorpusFile, type CorpusEntry } from './corpus.ts';
import { NestfuzzError } from './errors.ts';
import { fieldDiff, type FieldDiff } from './fieldDiff.ts';
import { safeVerdict } from './runner.ts';
import { requireProfile } from './select.ts';

export interface ReplayTrace {
  profile: string;
  outcome: Outcome;
  events: TraceEvent[];
}

export interface ReplayResult {
  file: string;
  property: string;
  title: string;
  profile: string;
  otherProfile: string | null;
  /** The verdict stored when the counterexample was found. */
  stored: { code: string; message: string };
  /** Today's verdict. */
  verdict: { ok: true } | { ok: false; code: string; message: string; details?: Record<string, unknown> };
  /** The invariant still fails, as the corpus entry expects. */
  reproduces: boolean;
  seed: number;
  path: string;
  foundAt: string;
  toolVersion: string;
  mutations: string[];
  vmcb12Dump: string;
  /** The scenario against its valid base (paths like `vmcb12.control.asid`). */
  diff: FieldDiff[];
  /** One trace per profile: the entry's profile, then other_profile if any. */
  traces: ReplayTrace[];
}

export interface ReplayOptions {
  /** Property lookup (default: properties/index.ts). */
  getProperty?: (id: string) => NestfuzzProperty | undefined;
}

export function replayEntry(file: string, entry: CorpusEntry, opts: ReplayOptions = {}): ReplayResult {
  const prop = (opts.getProperty ?? getProperty)(entry.property);
  if (!prop) {
    throw new NestfuzzError('NESTFUZZ_UNKNOWN_PROPERTY', `unknown property ${JSON.stringify(entry.property)} in ${file}`, 'run `nestfuzz list` to see the property ids');
  }
  const profile = requireProfile(entry.profile);
  const other: Profile | null = entry.other_profile === undefined ? null : requireProfile(entry.other_profile);
  const ctx: PropertyContext = { profile, strictArch: entry.strict_arch === true, ...(other ? { other } : {}) };
  const c = entry.case;
  const verdict = safeVerdict(prop, c, ctx);
  const traces = [profile, ...(other ? [other] : [])].map((p) => {
    const r = run(c.scenario, p);
    return { profile: p.name, outcome: r.outcome, events: r.trace.events };
  });
  return {
    file,
    property: prop.id,
    title: prop.title,
    profile: profile.name,
    otherProfile: other?.name ?? null,
    stored: entry.verdict,
    verdict,
    reproduces: !verdict.ok,
    seed: entry.seed,
    path: entry.path,
    foundAt: entry.found_at,
    toolVersion: entry.tool.version,
    mutations: entry.mutations,
    vmcb12Dump: dumpVmcb(c.scenario.vmcb12),
    diff: fieldDiff(c.base, c.scenario),
    traces,
  };
}

/** Load (NESTFUZZ_CORPUS_SCHEMA on a bad file) and replay one corpus file. */
export function replayCorpusFile(file: string, opts: ReplayOptions = {}): ReplayResult {
  const lookup = opts.getProperty ?? getProperty;
  const entry = loadCorpusFile(file, { isProperty: (id) => lookup(id) !== undefined });
  return replayEntry(file, entry, opts);
}

// A campaign's plan: the property×profile pairs it runs (property by property, each on every
// fitting profile), the properties it skips and why, and its time budget. The main thread of a
// --workers campaign plans too (workers.ts), so a usage error is reported once, before any worker
// starts, and the main thread knows how many pairs it hands out.

import { PROPERTY_LIST } from '../../properties/index.ts';
import type { NestfuzzProperty } from '../../properties/types.ts';
import { nonBugProfiles } from '../engine/profile_list.ts';
import type { Profile } from '../engine/profiles.ts';
import { NestfuzzError } from './errors.ts';
import type { CampaignOptions, SkippedProperty } from './runner.ts';
import { selectProperties } from './select.ts';

export const DEFAULT_TIME_MS = 20_000;

export interface Pair {
  prop: NestfuzzProperty;
  profile: Profile;
  other: Profile | null;
}

export interface CampaignPlan {
  props: NestfuzzProperty[];
  /** Every pair of the unsharded plan. */
  planned: Pair[];
  /** The pairs this campaign runs (its shard of `planned`), in plan order. */
  pairs: Pair[];
  skipped: SkippedProperty[];
  profiles: Profile[];
  /** The whole campaign's time budget; undefined = none (runs or --time-per-property alone). */
  timeMs: number | undefined;
}

export function profileKey(p: Pair): string {
  return p.other ? `${p.profile.name},${p.other.name}` : p.profile.name;
}

export function usage(message: string, fix: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_USAGE', message, fix);
}

function planPairs(props: NestfuzzProperty[], opts: CampaignOptions): { pairs: Pair[]; skipped: SkippedProperty[]; profiles: Profile[] } {
  const pairs: Pair[] = [];
  const skipped: SkippedProperty[] = [];
  if (opts.compare) {
    const [a, b] = opts.compare;
    for (const prop of props) {
      if (prop.compares) pairs.push({ prop, profile: a, other: b });
      else skipped.push({ property: prop.id, reason: 'runs on one profile; --compare runs only comparing properties' });
    }
    return { pairs, skipped, profiles: [a, b] };
  }
  const profiles = [...(opts.profiles ?? nonBugProfiles())];
  if (profiles.length === 0) throw usage('no profiles to run on', 'pass --profile NAME, or leave it out to use every non-bug profile');
  for (const prop of props) {
    if (prop.compares) {
      skipped.push({ property: prop.id, reason: 'compares two profiles; run it with --compare A,B' });
      continue;
    }
    // A bug profile models a bug of one flavour: pairing it with the other flavour's property
    // could only ever pass, so that pair is not run (kernel profiles cover both flavours).
    const fit = profiles.filter((profile) => profile.arch === undefined || profile.arch === prop.area);
    if (fit.length === 0) {
      skipped.push({ property: prop.id, reason: `a ${prop.area} property; the selected profiles model ${[...new Set(profiles.map((x) => x.arch))].join('/')} bugs only` });
      continue;
    }
    for (const profile of fit) pairs.push({ prop, profile, other: null });
  }
  return { pairs, skipped, profiles };
}

function checkNumber(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw usage(`${name} must be a positive number, got ${v}`, `pass a positive ${name}`);
}

/** The campaign's plan; throws NESTFUZZ_USAGE for options that cannot run. */
export function planCampaign(opts: CampaignOptions): CampaignPlan {
  checkNumber('timeMs', opts.timeMs);
  checkNumber('runs', opts.runs);
  checkNumber('shrinkTimeMs', opts.shrinkTimeMs);
  if (opts.runs !== undefined && !Number.isInteger(opts.runs)) throw usage(`runs must be an integer, got ${opts.runs}`, 'pass a whole number of runs');
  const registry = opts.registry ?? PROPERTY_LIST;
  const props = selectProperties(opts.properties ?? ['*'], registry);
  const { pairs: planned, skipped, profiles } = planPairs(props, opts);
  if (planned.length === 0) {
    const archOnly = !opts.compare && skipped.length > 0 && skipped.every((x) => x.reason.includes('profiles model'));
    throw usage(
      archOnly ? `none of the selected properties fits the selected profiles (${skipped[0].reason})` : 'none of the selected properties can run in this mode',
      opts.compare ? 'select a property with `compares: true` (see `nestfuzz list`)'
        : archOnly ? 'pick a profile of the same flavour as the property (`nestfuzz list` shows each profile\'s arch and each property\'s area)'
          : 'run comparing properties with --compare A,B',
    );
  }
  const shard = opts.shard;
  if (shard && (!Number.isInteger(shard.index) || !Number.isInteger(shard.count) || shard.count < 1 || shard.index < 1 || shard.index > shard.count)) {
    throw usage(`shard ${shard.index}/${shard.count} does not exist`, 'write it like --shard 1/4 (1 ≤ i ≤ n)');
  }
  const pairs = shard ? planned.filter((_, k) => k % shard.count === shard.index - 1) : planned;
  if (opts.replay && pairs.length !== 1) throw usage(`replaying { seed, path } needs exactly one property×profile pair, got ${pairs.length}`, 'narrow it with --property and --profile');
  checkNumber('timePerPropertyMs', opts.timePerPropertyMs);
  const timeMs = opts.timeMs ?? (opts.runs === undefined && opts.timePerPropertyMs === undefined ? DEFAULT_TIME_MS : undefined);
  return { props, planned, pairs, skipped, profiles, timeMs };
}

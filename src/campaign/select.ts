// Picking properties and profiles by the names users type. Property patterns are globs on the id
// (`vmrun-*`, `*`, `gif-semantics`); every pattern must match something, so a typo is an error
// rather than a campaign that silently tests less.

import type { NestfuzzProperty } from '../../properties/types.ts';
import { getProfile, PROFILES } from '../engine/profile_list.ts';
import type { Profile } from '../engine/profiles.ts';
import { NestfuzzError } from './errors.ts';

/** `*` any run of characters, `?` one character, anything else literal; anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Properties matching any pattern, in registry order. Throws NESTFUZZ_UNKNOWN_PROPERTY for a pattern matching none. */
export function selectProperties(patterns: readonly string[], registry: readonly NestfuzzProperty[]): NestfuzzProperty[] {
  const chosen = new Set<NestfuzzProperty>();
  for (const pattern of patterns) {
    const re = globToRegExp(pattern);
    const hits = registry.filter((p) => re.test(p.id));
    if (hits.length === 0) {
      const what = registry.length === 0 ? 'no properties are registered' : `no property id matches ${JSON.stringify(pattern)}`;
      throw new NestfuzzError(
        'NESTFUZZ_UNKNOWN_PROPERTY',
        what,
        registry.length === 0 ? 'add properties to PROPERTY_LIST in properties/index.ts' : 'run `nestfuzz list` to see the property ids',
      );
    }
    for (const p of hits) chosen.add(p);
  }
  return registry.filter((p) => chosen.has(p));
}

/** The profile of that name. Throws NESTFUZZ_UNKNOWN_PROFILE. */
export function requireProfile(name: string): Profile {
  const p = getProfile(name);
  if (!p) {
    throw new NestfuzzError(
      'NESTFUZZ_UNKNOWN_PROFILE',
      `unknown profile ${JSON.stringify(name)}`,
      `choose one of: ${[...PROFILES.keys()].join(', ')}`,
    );
  }
  return p;
}

// `list`: the registries as data (properties, profiles, check ids), keyed by the names users type.

import { PROPERTY_LIST } from '../../properties/index.ts';
import type { NestfuzzProperty } from '../../properties/types.ts';
import { PROFILES } from '../engine/profile_list.ts';
import { allCheckIds } from './coverage.ts';

export interface Listing {
  properties: Array<{ id: string; title: string; rationale: string; area: string; compares: boolean }>;
  /**
   * arch: the area a bug profile models ('svm', 'vmx', or 'mmu' for nested paging / fault synthesis,
   * whose bugs are caught by area-'mmu' properties); 'any' for kernel profiles (they cover all).
   */
  profiles: Array<{ name: string; arch: 'svm' | 'vmx' | 'mmu' | 'any'; bug: boolean; kind: string; title: string; source: string | null; caughtBy: string[]; patches: string[] }>;
  checks: Array<{ id: string }>;
}

export function listing(registry: readonly NestfuzzProperty[] = PROPERTY_LIST): Listing {
  return {
    properties: registry.map((p) => ({ id: p.id, title: p.title, rationale: p.rationale, area: p.area, compares: p.compares ?? false })),
    profiles: [...PROFILES.values()].map((p) => ({
      name: p.name, arch: p.arch ?? 'any', bug: p.bug, kind: p.kind, title: p.title, source: p.source ?? null,
      caughtBy: [...(p.caughtBy ?? [])], patches: [...p.patches].sort(),
    })),
    checks: allCheckIds().map((id) => ({ id })),
  };
}

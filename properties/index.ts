// The property registry, keyed by id (the name users pass to `--property`).
import type { NestfuzzProperty } from './types.ts';

export const PROPERTY_LIST: NestfuzzProperty[] = [];

export const PROPERTIES: ReadonlyMap<string, NestfuzzProperty> = new Map(PROPERTY_LIST.map((p) => [p.id, p]));

export function getProperty(id: string): NestfuzzProperty | undefined {
  return PROPERTIES.get(id);
}

// Shape checks for JSON read back from disk (corpus files, check inputs): each returns the first
// problem as a one-line message naming the path, or null.

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

export function bigintFields(o: Json, at: string, names: readonly string[]): string | null {
  for (const k of names) if (typeof o[k] !== 'bigint') return `${at}.${k} is missing or not a bigint`;
  return null;
}

export function integerFields(o: Json, at: string, names: readonly string[]): string | null {
  for (const k of names) if (typeof o[k] !== 'number' || !Number.isInteger(o[k])) return `${at}.${k} is missing or not an integer`;
  return null;
}

export function booleanFields(o: Json, at: string, names: readonly string[]): string | null {
  for (const k of names) if (typeof o[k] !== 'boolean') return `${at}.${k} is missing or not a boolean`;
  return null;
}


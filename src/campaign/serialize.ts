// JSON with bigints: a bigint is written as the string "0x…n" ("0x1fn"; negative values, which no
// scenario field holds, as "-0x1fn") and any string of that shape reads back as a bigint. Output
// is deterministic (insertion key order, fixed indentation); `canonicalJson` additionally sorts
// keys so the content hash does not depend on how an object was built.

import { createHash } from 'node:crypto';

const BIGINT_STRING = /^-?0x[0-9a-f]+n$/;

export function encodeBigint(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}n` : `0x${v.toString(16)}n`;
}

export function isEncodedBigint(s: string): boolean {
  return BIGINT_STRING.test(s);
}

export function decodeBigint(s: string): bigint {
  const neg = s.startsWith('-');
  const v = BigInt(s.slice(neg ? 1 : 0, -1));
  return neg ? -v : v;
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? encodeBigint(value) : value;
}

function reviver(_key: string, value: unknown): unknown {
  return typeof value === 'string' && BIGINT_STRING.test(value) ? decodeBigint(value) : value;
}

/** JSON text of `value` with bigints encoded; `indent` as for JSON.stringify (default none). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, replacer, indent);
}

/** Parse JSON text, turning every "0x…n" string back into a bigint. Throws SyntaxError on bad JSON. */
export function fromJson<T = unknown>(text: string): T {
  return JSON.parse(text, reviver) as T;
}

/** Replace bigints by their "0x…n" strings, recursively (for loggers and --json output). */
export function toJsonable(value: unknown): unknown {
  return JSON.parse(toJson(value) ?? 'null');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeys(o[k]);
    return out;
  }
  return value;
}

/** Compact JSON with object keys sorted and bigints encoded: equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  return toJson(sortKeys(value));
}

/** sha256 of the canonical JSON, first 16 hex digits (corpus and shrink-log file names). */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** A deep copy through the JSON encoding (drops undefined fields, keeps bigints). */
export function jsonClone<T>(value: T): T {
  return fromJson<T>(toJson(value));
}

// Readers for hand-written JSON state files (`check --vmcb --l1`, `check --vmcs12`): each value is
// checked and converted, and anything else is a one-line NESTFUZZ_BAD_INPUT naming the file, the
// field and the fix.

import { NestfuzzError } from './errors.ts';

export function bad(source: string, message: string, fix: string): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_BAD_INPUT', `${source}: ${message}`, fix);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const HEX = /^0x[0-9a-fA-F]+n?$/;

/** A u64 from "0x…" (a corpus-style trailing "n" is accepted) or a non-negative safe integer. */
export function u64(source: string, field: string, v: unknown): bigint {
  let out: bigint | null = null;
  if (typeof v === 'string' && HEX.test(v)) out = BigInt(v.endsWith('n') ? v.slice(0, -1) : v);
  else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) out = BigInt(v);
  if (out === null || out >= 1n << 64n) {
    throw bad(source, `${field} is ${JSON.stringify(v)}, not a 64-bit value`, 'write values as hex strings like "0x80050033" or as non-negative integers');
  }
  return out;
}

export function int(source: string, field: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && HEX.test(v) ? Number(BigInt(v.replace(/n$/, ''))) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw bad(source, `${field} is ${JSON.stringify(v)}, expected an integer in ${min}..${max}`, `set ${field} to a number between ${min} and ${max}`);
  }
  return n;
}

export function bool(source: string, field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(source, `${field} is ${JSON.stringify(v)}, expected true or false`, `set ${field} to true or false`);
  return v;
}

// User-facing errors: a named class, a stable code, a one-line message and a fix-it sentence
// (after vitest's packages/vitest/src/node/errors.ts). The CLI prints
// `nestfuzz: error: <message> (<fix>)` and exits 2; nothing else in campaign/ prints.

export const NESTFUZZ_ERROR_CODES = [
  'NESTFUZZ_USAGE',
  'NESTFUZZ_UNKNOWN_PROPERTY',
  'NESTFUZZ_UNKNOWN_PROFILE',
  'NESTFUZZ_CORPUS_SCHEMA',
  'NESTFUZZ_BAD_INPUT',
  // An emulator or assembler the oracle needs is missing or broke (not a verdict on a state).
  'NESTFUZZ_ORACLE',
] as const;

export type NestfuzzErrorCode = (typeof NESTFUZZ_ERROR_CODES)[number];

export class NestfuzzError extends Error {
  override name = 'NestfuzzError';

  constructor(
    readonly code: NestfuzzErrorCode,
    message: string,
    /** One sentence telling the user what to do about it. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The single line the CLI prints. */
  toLine(): string {
    return `nestfuzz: error: ${this.message} (${this.fix})`;
  }
}

export function isNestfuzzError(e: unknown): e is NestfuzzError {
  return e instanceof NestfuzzError;
}

/** An error's message on one line (for wrapping foreign errors into a NestfuzzError). */
export function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

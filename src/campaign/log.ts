// Logging for campaign stages. campaign/ code takes a `Logger` (pino's method shape, so a pino
// logger fits as is) and defaults to the silent one; only the CLI builds a real pino logger:
// JSON lines on stderr, or one readable line per record when stderr is a terminal (a tiny
// formatter, not pino-pretty).

import { pino } from 'pino';
import { toJsonable } from './serialize.ts';

type LogFn = (obj: object, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const nop: LogFn = () => {};

export const SILENT_LOGGER: Logger = { debug: nop, info: nop, warn: nop, error: nop };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** `12:00:01.234 INFO  message key=value ...` from one pino JSON record. */
export function formatLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[Number(rec.level)] ?? String(rec.level)).padEnd(5);
  const fields = Object.keys(rec).filter((k) => !OMIT.has(k)).map((k) => `${k}=${fieldText(rec[k])}`);
  return [time, level, String(rec.msg ?? ''), ...fields].filter((s) => s !== '').join(' ');
}

export interface CliLoggerOptions {
  level?: string;
  /** Where records go (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force the one-line text form (default: when the stream is a TTY). */
  pretty?: boolean;
  /** Text form only: erase the current terminal line first (a progress line may be on it). */
  clearLine?: boolean;
}

export function createCliLogger(opts: CliLoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const pretty = opts.pretty ?? Boolean(stream.isTTY);
  const erase = opts.clearLine ? '\r\x1b[K' : '';
  const dest = pretty
    ? { write: (s: string) => { stream.write(`${erase}${formatLogLine(s)}\n`); } }
    : { write: (s: string) => { stream.write(s); } };
  const logger = pino(
    {
      name: 'nestfuzz',
      level: opts.level ?? 'info',
      base: undefined,
      // bigints in log payloads: pino's JSON.stringify would throw on them.
      formatters: { log: (obj) => toJsonable(obj) as Record<string, unknown> },
    },
    dest,
  );
  return logger;
}

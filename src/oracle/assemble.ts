// The harnesses are assembled from src/oracle/harness/*.asm with Debian's nasm on first use (and
// again whenever a source is newer than the binary), into build/oracle/.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NestfuzzError } from '../campaign/errors.ts';
import { HARNESS_DIR } from './layout.ts';

const BUILD_DIR = fileURLToPath(new URL('../../build/oracle/', import.meta.url));

/**
 * Path of the assembled flat binary for harness/<name>.asm. Each define (`-D<name>`) makes its own
 * variant, named after it: assembleHarness('svm', ['BOCHS']) gives build/oracle/svm-bochs.bin.
 */
export function assembleHarness(name: string, defines: readonly string[] = []): string {
  const src = join(HARNESS_DIR, `${name}.asm`);
  const out = join(BUILD_DIR, `${[name, ...defines.map((d) => d.toLowerCase())].join('-')}.bin`);
  const newestSource = Math.max(...readdirSync(HARNESS_DIR).map((f) => statSync(join(HARNESS_DIR, f)).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newestSource) return out;
  mkdirSync(BUILD_DIR, { recursive: true });
  // Assemble beside the target and rename: parallel test workers may build the same binary.
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync('nasm', ['-f', 'bin', '-I', HARNESS_DIR, ...defines.map((d) => `-D${d}`), src, '-o', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, out);
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new NestfuzzError('NESTFUZZ_ORACLE', 'nasm is not installed', 'apt-get install nasm (see .ci/run)');
    throw new NestfuzzError('NESTFUZZ_ORACLE', `nasm failed on ${name}.asm: ${String(err.stderr ?? e).trim().split('\n')[0]}`, 'fix the harness source');
  }
  return out;
}

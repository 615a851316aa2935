#!/usr/bin/env node
// `npm test`: type check, then the vitest suite (which replays corpus/), then one totals line
// `N passed, N failed` for CI. Exit code: non-zero if the type check or any test failed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log('typecheck failed');
  console.log('0 passed, 1 failed');
  process.exit(tsc.status ?? 1);
}
console.log('typecheck: ok');

const dir = mkdtempSync(join(tmpdir(), 'nestfuzz-vitest-'));
const out = join(dir, 'results.json');
const args = ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const vt = spawnSync(process.execPath, args, { stdio: 'inherit' });
let passed = 0;
let failed = 0;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
} catch {
  failed = 1;
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(vt.status === 0 && failed === 0 && passed > 0 ? 0 : 1);

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coverage, allCheckIds, allVmxCheckIds } from '../../src/campaign/coverage.ts';
import { REPO_ROOT } from './helpers.ts';

function engineFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? engineFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

describe('coverage', () => {
  describe('allCheckIds', () => {
    it('should name every check id the engine passes to cc()', () => {
      const used = new Set<string>();
      for (const f of engineFiles(join(REPO_ROOT, 'src', 'engine'))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/\bcc\(\s*[\w.]+,\s*'([a-z0-9-]+)'/g)) used.add(m[1]);
      }
      expect(used.size).toBeGreaterThan(20);
      const known = new Set([...allCheckIds(), ...allVmxCheckIds()]);
      expect([...used].filter((id) => !known.has(id))).toEqual([]);
      // …and every listed id is a real cc() site: a literal id, or a template site such as
      // cc(t, `${idPrefix}-count-too-high`, …) whose suffix the listed id ends with.
      const suffixes: string[] = [];
      for (const f of engineFiles(join(REPO_ROOT, 'src', 'engine'))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/\bcc\(\s*[\w.]+,\s*`\$\{\w+\}(-[a-z0-9-]+)`/g)) suffixes.push(m[1]);
      }
      expect(suffixes.length).toBeGreaterThan(0);
      // …or a row of a rule table (`['hw-…', …]` or `hw('hw-…', …)`) in a file that passes a row's id to cc() as a
      // variable, e.g. hardware.ts's `for (const [rule, …] of RULES) cc(t, rule, …)`.
      for (const f of engineFiles(join(REPO_ROOT, 'src', 'engine'))) {
        const src = readFileSync(f, 'utf8');
        if (!/\bcc\(\s*[\w.]+,\s*[\w.]+,/.test(src)) continue;
        for (const m of src.matchAll(/^\s*(?:\[|\w+\()\s*'([a-z0-9-]+)',/gm)) used.add(m[1]);
      }
      const stale = [...known].filter((id) => !used.has(id) && !suffixes.some((sfx) => id.endsWith(sfx)));
      expect(stale).toEqual([]);
    });
  });

  describe('Coverage', () => {
    it('should count passes and failures per id and list never-hit ids', () => {
      const c = new Coverage();
      c.recordTrace({ checked: [{ id: 'asid-zero', failed: false }, { id: 'efer-svme-clear', failed: true }] });
      c.recordTrace({ checked: [{ id: 'asid-zero', failed: true }, { id: 'asid-zero', failed: false, dropped: true }] });
      const rec = c.toRecord(['asid-zero', 'efer-svme-clear', 'gpat-invalid']);
      expect(rec).toEqual({ 'asid-zero': { passed: 2, failed: 1 }, 'efer-svme-clear': { passed: 0, failed: 1 }, 'gpat-invalid': { passed: 0, failed: 0 } });
      expect(c.hit(['asid-zero', 'gpat-invalid'])).toEqual(['asid-zero', 'efer-svme-clear']); // ids only traces named count too
      expect(c.neverHit(['asid-zero', 'gpat-invalid'])).toEqual(['gpat-invalid']);
      expect(c.samples).toBe(2);
    });
  });
});

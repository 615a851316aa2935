// nestfuzz new-property: the scaffold is one property file, one test, one registration, and a
// predicate that fails until someone writes it.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { newProperty } from '../../src/campaign/newProperty.ts';
import { tempDir } from './helpers.ts';

describe('new-property', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('newprop'));
    mkdirSync(join(dir, 'properties'), { recursive: true });
    writeFileSync(join(dir, 'properties', 'index.ts'), readFileSync('properties/index.ts', 'utf8'));
  });
  afterEach(() => cleanup());

  it('writes the property, its test and the registration', () => {
    const s = newProperty('mmu/stale-thing-never-read', dir);
    expect(s.registered).toBe(true);
    const prop = readFileSync(s.propertyFile, 'utf8');
    expect(prop).toMatch(/id: 'stale-thing-never-read'/);
    expect(prop).toMatch(/area: 'mmu'/);
    expect(prop).toMatch(/nestedFaultCase\(\)/);
    expect(prop).toMatch(/fail\('not-written'/);
    expect(readFileSync(s.testFile, 'utf8')).toMatch(/holds on kvm-next/);
    const index = readFileSync(join(dir, 'properties', 'index.ts'), 'utf8');
    expect(index).toMatch(/import \{ property as staleThingNeverRead \} from '\.\/mmu\/stale-thing-never-read\.ts';/);
    expect(index).toMatch(/ {2}staleThingNeverRead,\n\];/);
  });

  it('refuses an existing id and a malformed spec', () => {
    newProperty('svm/twice', dir);
    expect(() => newProperty('svm/twice', dir)).toThrow(NestfuzzError);
    expect(() => newProperty('svm/twice', dir)).toThrow(/already exists/);
    expect(() => newProperty('x86/foo', dir)).toThrow(/is not <area>\/<id>/);
    expect(() => newProperty('svm/Not_Kebab', dir)).toThrow(/is not <area>\/<id>/);
  });
});

// nestfuzz new-property <area>/<id>: scaffolds an invariant the way the project writes them — one
// file under properties/<area>/ exporting `property`, registered in properties/index.ts, and a test
// under tests/properties/ that runs it on kvm-next (must hold). The predicate starts as a TODO that
// fails loudly, so a scaffold never passes for an invariant nobody wrote.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './corpus.ts';
import { NestfuzzError } from './errors.ts';

const AREAS = {
  svm: { arbitrary: 'svmCase', module: '../../src/arbitraries/scenario.ts', caseType: 'SvmCase' },
  vmx: { arbitrary: 'vmxCase', module: '../../src/arbitraries/vmxScenario.ts', caseType: 'VmxCase' },
  mmu: { arbitrary: 'nestedFaultCase', module: '../../src/arbitraries/nestedFault.ts', caseType: 'NestedFaultCase' },
} as const;
type Area = keyof typeof AREAS;

const camel = (id: string): string => id.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export interface Scaffold {
  propertyFile: string;
  testFile: string;
  registered: boolean;
}

export function newProperty(spec: string, root = '.'): Scaffold {
  const m = /^(svm|vmx|mmu)\/([a-z][a-z0-9]*(?:-[a-z0-9]+)*)$/.exec(spec);
  if (!m) throw new NestfuzzError('NESTFUZZ_USAGE', `${JSON.stringify(spec)} is not <area>/<id>`, 'write it like `nestfuzz new-property svm/my-invariant` (area svm, vmx or mmu; id in kebab-case)');
  const area = m[1] as Area;
  const id = m[2];
  const propertyFile = join(root, 'properties', area, `${id}.ts`);
  const testFile = join(root, 'tests', 'properties', `${id}.spec.ts`);
  const indexFile = join(root, 'properties', 'index.ts');
  const index = readFileSync(indexFile, 'utf8');
  if (existsSync(propertyFile) || index.includes(`'./${area}/${id}.ts'`)) {
    throw new NestfuzzError('NESTFUZZ_USAGE', `property ${area}/${id} already exists`, 'pick another id, or edit the existing file');
  }
  const a = AREAS[area];
  mkdirSync(dirname(propertyFile), { recursive: true });
  writeFileAtomic(propertyFile, `// TODO: the rule this invariant states, and where it comes from (APM/SDM section, KVM function or commit).

import { ${a.arbitrary} } from '${a.module}';
import { fail, type ${a.caseType}, type NestfuzzProperty, type Verdict } from '../types.ts';

export const property: NestfuzzProperty<${a.caseType}> = {
  id: '${id}',
  area: '${area}',
  title: 'TODO: what must hold, in one line',
  rationale: 'TODO: APM/SDM section; KVM function or commit',
  arbitrary: () => ${a.arbitrary}(),
  predicate(_c, _ctx): Verdict {
    // Run the engine on _c.scenario with _ctx.profile and return HOLDS or fail(code, message).
    return fail('not-written', 'the predicate of ${id} is still the scaffold');
  },
};
`);
  mkdirSync(dirname(testFile), { recursive: true });
  writeFileAtomic(testFile, `// ${id} holds on kvm-next (and, once a bug profile names it in caughtBy, fails there).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { property } from '../../properties/${area}/${id}.ts';
import { getProfile } from '../../src/engine/profile_list.ts';

describe('${id}', () => {
  it('holds on kvm-next', () => {
    const ctx = { profile: getProfile('kvm-next')!, strictArch: false };
    const r = fc.check(fc.property(property.arbitrary(), (c) => property.predicate(c, ctx).ok), { numRuns: 500, seed: 1 });
    expect(r.failed, r.counterexample ? JSON.stringify(property.predicate(r.counterexample[0], ctx)) : '').toBe(false);
  });
});
`);
  // Register: an import after the last property import, and the entry before the list's end.
  const name = camel(id);
  const lines = index.split('\n');
  const lastImport = lines.map((l, i) => (l.startsWith('import { property as ') ? i : -1)).filter((i) => i >= 0).pop() ?? 0;
  lines.splice(lastImport + 1, 0, `import { property as ${name} } from './${area}/${id}.ts';`);
  const end = lines.findIndex((l, i) => i > lastImport && l.startsWith('];'));
  let registered = false;
  if (end > 0) {
    lines.splice(end, 0, `  ${name},`);
    registered = true;
  }
  writeFileAtomic(indexFile, lines.join('\n'));
  return { propertyFile, testFile, registered };
}

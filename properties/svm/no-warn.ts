// No WARN_ON/WARN_ON_ONCE site fires on any path, except listed ones (KNOWN_WARNS). A WARN reachable
// from guest-controlled input is a kernel bug or a denial of service with panic_on_warn.

import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { KNOWN_WARNS } from './_data/known.ts';

export const property: NestfuzzProperty<SvmCase> = {
  id: 'no-warn',
  area: 'svm',
  title: 'no WARN fires on any nested SVM path',
  rationale: 'KVM WARN_ON_ONCE sites in nested.c (enter_svm_guest_mode, nested_svm_vmexit, nested_vmcb02_recalc_intercepts, svm_get_nested_state_pages); panic_on_warn hosts',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    const listed = new Set(KNOWN_WARNS.map((k) => k.id));
    const warns = r.trace.warns().filter((w) => ctx.strictArch || !listed.has(w));
    if (warns.length) return fail('warn', `WARN: ${warns.join('; ')}`);
    return HOLDS;
  },
};

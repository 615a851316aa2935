// No WARN_ON/WARN_ON_ONCE site fires on any nested VMX path, except listed ones (KNOWN_WARNS). A WARN
// reachable from guest-controlled input is a kernel bug, or a denial of service with panic_on_warn.

import { runVmx } from '../../src/engine/vmx/run.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { KNOWN_WARNS } from './_data/known.ts';

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmx-no-warn',
  area: 'vmx',
  title: 'no WARN fires on any nested VMX path',
  rationale: 'KVM WARN_ON_ONCE sites in vmx/nested.c (nested_vmx_load_msr / nested_vmx_store_msr max_msr_list_size, get_vmcs12, warn_on_missed_cc in nested_vmx_vmexit for a failed hardware VM entry); panic_on_warn hosts',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const r = runVmx(c.scenario, ctx.profile);
    const listed = new Set(KNOWN_WARNS.map((k) => k.id));
    const warns = r.trace.warns().filter((w) => ctx.strictArch || !listed.has(w));
    if (warns.length) return fail('warn', `WARN: ${warns.join('; ')}`, { warns });
    return HOLDS;
  },
};

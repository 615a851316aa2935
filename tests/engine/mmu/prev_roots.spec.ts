// nested_ept_invalidate_addr on nested EPT injection: cached previous roots with the same EP4TA drop
// the faulting GPA; other roots, invalid roots and PML-full exits are left alone.

import { describe, expect, it } from 'vitest';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE, type NestedFaultChoice } from '../../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../../src/engine/mmu/nested_fault.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { property } from '../../../properties/vmx/ept-prev-roots-synced.ts';

const kvm = getProfile('kvm-next') as Profile;
const bug = getProfile('ept-prev-roots-not-synced') as Profile;
const vmx = (extra: Partial<NestedFaultChoice>) => buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, flavour: 'vmx', ...extra }, [['tdp-table-missing', 1]]);

describe('prev-root invalidation on nested EPT injection', () => {
  it('drops the fault GPA from a valid root with the same EP4TA, not from others', () => {
    const same = runNestedFault(vmx({ prevRoot: 'same' }).scenario, kvm);
    expect(same.injected_vmx?.gpa).toBe(0x201000n);
    expect(same.prev_roots?.[0].mapped).not.toContain(0x201000n);
    expect(same.prev_roots?.[0].mapped).toContain(0x300000n);
    for (const prevRoot of ['other', 'same-invalid'] as const) {
      const r = runNestedFault(vmx({ prevRoot }).scenario, kvm);
      expect(r.prev_roots?.[0].mapped).toContain(0x201000n);
    }
  });
  it('a PML-full exit invalidates nothing', () => {
    const r = runNestedFault(buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, flavour: 'vmx', prevRoot: 'same', pml: 'full', access: 'write' }, []).scenario, kvm);
    expect(r.injected_vmx?.reason).toBe(62);
    expect(r.prev_roots).toBeNull();
  });
  it('ept-prev-roots-synced holds on kvm-next and fails without the sync', () => {
    const c = vmx({ prevRoot: 'same' });
    expect(property.predicate(c, { profile: kvm, strictArch: false } as never)).toEqual({ ok: true });
    expect(property.predicate(c, { profile: bug, strictArch: false } as never).ok).toBe(false);
  });
});

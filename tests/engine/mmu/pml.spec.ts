// Nested PML: an EPT dirty bit set by KVM's nested walk is logged in L1's PML buffer; a full log fails
// the walk and nested_ept_inject_page_fault injects a PML-full exit. Reached from L0's emulator (an
// INS after an I/O exit) the WARN KVM calls impossible fires: a listed finding.

import { describe, expect, it } from 'vitest';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE, type NestedFaultChoice } from '../../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../../src/engine/mmu/nested_fault.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';

const kvm = getProfile('kvm-next') as Profile;
const vmx = (over: Partial<NestedFaultChoice>): NestedFaultChoice => ({ ...DEFAULT_NESTED_FAULT_CHOICE, flavour: 'vmx', access: 'write', ...over });

describe('nested PML', () => {
  it('with room in the log the walk succeeds and the dirty GPAs are logged', () => {
    const c = buildNestedFaultCase(vmx({ pml: 'room' }), []);
    const r = runNestedFault(c.scenario, kvm);
    expect(r.outcome).toBe('completed');
    expect(r.trace.events.some((e) => e.ev === 'nested_pml_full')).toBe(false);
  });
  it('a full log after an emulated INS: PML-full exit (62) and the WARN KVM calls impossible', () => {
    const c = buildNestedFaultCase(vmx({ pml: 'full', io: 'ins' }), []);
    const r = runNestedFault(c.scenario, kvm);
    expect(r.injected_vmx?.reason).toBe(62);
    expect(r.trace.warns()).toEqual(['nested_ept_inject_page_fault-pml-full-not-ept-violation']);
  });
  it('a full log on the hardware path (an EPT-violation exit first): PML-full exit, no WARN', () => {
    const c = buildNestedFaultCase(vmx({ pml: 'full', performer: 'hardware' }), []);
    const r = runNestedFault(c.scenario, kvm);
    expect(r.injected_vmx?.reason).toBe(62);
    expect(r.trace.warns()).toEqual([]);
  });
});

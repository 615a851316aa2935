import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvmNestedVmxMsrs } from '../../src/arch/vmx/caps.ts';
import type { Vmcs12 } from '../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { newVmxCheckCtx, type VmxCheckCtx } from '../../src/engine/vmx/ctx.ts';
import { nested_vmx_check_controls } from '../../src/engine/vmx/nested/checks_controls.ts';
import { nested_vmx_check_guest_state } from '../../src/engine/vmx/nested/checks_guest.ts';
import { nested_vmx_check_host_state } from '../../src/engine/vmx/nested/checks_host.ts';
import { VMX_MUTATIONS } from '../../src/arbitraries/_internals/mutations/vmxMutations.ts';
import { buildVmcs12Case, DEFAULT_VMCS12_CHOICE, vmcs12Case } from '../../src/arbitraries/vmcs12.ts';

const caps = kvmNestedVmxMsrs();

function mkCtx(): VmxCheckCtx {
  return newVmxCheckCtx({ p: getProfile('kvm-next')!, caps });
}

/** KVM's order: controls, then host state, then guest state; the failed ids of the first failing group. */
function firstFailure(v: Vmcs12): { group: 'none' | 'controls' | 'host' | 'guest'; failed: string[] } {
  let ctx = mkCtx();
  if (!nested_vmx_check_controls(ctx, v)) return { group: 'controls', failed: ctx.t.failedChecks() };
  ctx = mkCtx();
  if (!nested_vmx_check_host_state(ctx, v)) return { group: 'host', failed: ctx.t.failedChecks() };
  ctx = mkCtx();
  if (!nested_vmx_check_guest_state(ctx, v).ok) return { group: 'guest', failed: ctx.t.failedChecks() };
  return { group: 'none', failed: [] };
}

describe('vmcs12Case', () => {
  it('is deterministic for a seed', () => {
    const a = fc.sample(vmcs12Case(), { seed: 42, numRuns: 30 });
    const b = fc.sample(vmcs12Case(), { seed: 42, numRuns: 30 });
    expect(a.map((c) => [c.choice, c.mutations])).toEqual(b.map((c) => [c.choice, c.mutations]));
    expect(a.map((c) => c.vmcs12)).toEqual(b.map((c) => c.vmcs12));
  });

  it('the 0-mutation base passes every check group for every choice', () => {
    fc.assert(fc.property(vmcs12Case({ maxMutations: 0 }), (c) => {
      expect(c.mutations).toEqual([]);
      expect(firstFailure(c.vmcs12)).toEqual({ group: 'none', failed: [] });
    }), { numRuns: 300 });
  });

  it('has at least 40 mutations with unique ids', () => {
    expect(VMX_MUTATIONS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(VMX_MUTATIONS.map((m) => m.id)).size).toBe(VMX_MUTATIONS.length);
  });

  for (const m of VMX_MUTATIONS) {
    it(`${m.id} (k = 0) fails its target first`, () => {
      const c = buildVmcs12Case(DEFAULT_VMCS12_CHOICE, [[m.id, 0]]);
      const r = firstFailure(c.vmcs12);
      expect(r.failed[0]).toBe(m.targets[0]);
      expect(r.failed).toContain(m.targets[0]);
    });
  }

  it('shrinking never adds mutations', () => {
    const arb = vmcs12Case();
    fc.assert(fc.property(arb, (c) => {
      let n = 0;
      for (const s of arb.shrink(c, undefined).take(50)) {
        expect(s.value.mutations.length).toBeLessThanOrEqual(c.mutations.length);
        n++;
      }
      return n >= 0;
    }), { numRuns: 100 });
  });
});

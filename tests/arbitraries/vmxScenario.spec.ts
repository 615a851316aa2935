import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VMCS12_FIELDS } from '../../src/arch/vmx/fields.ts';
import { storageBits } from '../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { newVmxCheckCtx } from '../../src/engine/vmx/ctx.ts';
import { kvm_emulate_msr_write } from '../../src/engine/vmx/msrs.ts';
import { nested_vmx_check_controls } from '../../src/engine/vmx/nested/checks_controls.ts';
import { nested_vmx_check_guest_state } from '../../src/engine/vmx/nested/checks_guest.ts';
import { nested_vmx_check_host_state } from '../../src/engine/vmx/nested/checks_host.ts';
import { cloneVmxL1 } from '../../src/engine/vmx/scenario.ts';
import { validVmxScenario } from '../../src/engine/vmx/scenario_base.ts';
import type { VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { baseVmxScenario, DEFAULT_VMX_BASE, type VmxBaseChoice } from '../../src/arbitraries/_internals/builders/baseVmxScenario.ts';
import { VMX_SCENARIO_MUTATIONS } from '../../src/arbitraries/_internals/mutations/vmxScenarioMutations.ts';
import { buildVmxCase, parseVmxCaseMutations, VMX_SCENARIO_MUTATION_IDS, vmxBaseChoice, vmxCase, type VmxCase } from '../../src/arbitraries/vmxScenario.ts';

const U64 = (1n << 64n) - 1n;

/** Problems with the scenario's shape: vmcs12 members typed and in range, u64 bigints, 8-aligned mem keys. */
function shapeProblems(s: VmxScenario): string[] {
  const out: string[] = [];
  const v = s.vmcs12 as unknown as Record<string, unknown>;
  for (const f of VMCS12_FIELDS) {
    const x = v[f.name];
    const bits = storageBits(f);
    if (bits === 64) {
      if (typeof x !== 'bigint' || x < 0n || x > U64) out.push(`${f.name}=${String(x)}`);
    } else if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= 2 ** bits) {
      out.push(`${f.name}=${String(x)}`);
    }
  }
  if (Object.keys(v).length !== VMCS12_FIELDS.length) out.push('vmcs12 member count');
  for (const [k, w] of Object.entries(s.mem)) {
    if (!/^0x[0-9a-f]+$/.test(k) || BigInt(k) % 8n !== 0n) out.push(`mem key ${k}`);
    if (typeof w !== 'bigint' || w < 0n || w > U64) out.push(`mem ${k}=${String(w)}`);
  }
  const l1 = s.l1;
  for (const n of ['cr0', 'cr3', 'cr4', 'efer', 'rflags', 'rip', 'rsp'] as const) {
    if (typeof l1[n] !== 'bigint' || l1[n] < 0n || l1[n] > U64) out.push(`l1.${n}`);
  }
  for (const [n, g] of Object.entries(l1.seg)) {
    if (!Number.isInteger(g.selector) || g.selector < 0 || g.selector > 0xffff) out.push(`l1.${n}.selector`);
    if (!Number.isInteger(g.ar) || g.ar < 0 || g.ar > 0xffffffff) out.push(`l1.${n}.ar`);
  }
  if (typeof s.current_vmptr !== 'bigint' || s.current_vmptr < 0n || s.current_vmptr > U64) out.push('current_vmptr');
  if (!Number.isInteger(s.vmcs12_revision) || s.vmcs12_revision < 0 || s.vmcs12_revision > 0xffffffff) out.push('vmcs12_revision');
  if (s.l2.kind === 'rdmsr' || s.l2.kind === 'wrmsr') {
    if (!Number.isInteger(s.l2.msr) || s.l2.msr < 0 || s.l2.msr > 0xffffffff) out.push('l2.msr');
  }
  return out;
}

/** KVM's order: controls, host state, guest state; the failed ids of the first failing group. */
function firstFailure(s: VmxScenario): { group: string; failed: string[] } {
  const mk = () => newVmxCheckCtx({ p: getProfile('kvm-next')!, caps: s.caps, guest: s.guest });
  let ctx = mk();
  if (!nested_vmx_check_controls(ctx, s.vmcs12)) return { group: 'controls', failed: ctx.t.failedChecks() };
  ctx = mk();
  if (!nested_vmx_check_host_state(ctx, s.vmcs12)) return { group: 'host', failed: ctx.t.failedChecks() };
  ctx = mk();
  if (!nested_vmx_check_guest_state(ctx, s.vmcs12).ok) return { group: 'guest', failed: ctx.t.failedChecks() };
  return { group: 'none', failed: [] };
}

/** Every MSR-load entry is accepted by kvm_emulate_msr_write (lists as the builder lays them out). */
function badMsrEntries(s: VmxScenario): string[] {
  const out: string[] = [];
  const env = { cpuid: s.guest.cpuid, mpx: s.guest.mpx, pmu_gp_counters: s.guest.pmu_gp_counters, pmu_fixed_counters: s.guest.pmu_fixed_counters };
  const lists = [[s.vmcs12.vm_entry_msr_load_addr, s.vmcs12.vm_entry_msr_load_count], [s.vmcs12.vm_exit_msr_load_addr, s.vmcs12.vm_exit_msr_load_count]] as const;
  for (const [addr, count] of lists) {
    for (let i = 0; i < count; i++) {
      const at = addr + BigInt(i) * 16n;
      const w0 = s.mem['0x' + at.toString(16)] ?? 0n;
      const value = s.mem['0x' + (at + 8n).toString(16)] ?? 0n;
      if (w0 >> 32n !== 0n || !kvm_emulate_msr_write(cloneVmxL1(s.l1), env, Number(w0 & 0xffffffffn), value)) out.push(`${at.toString(16)}#${i}`);
    }
  }
  return out;
}

const choices: VmxBaseChoice[] = fc.sample(vmxBaseChoice(), { seed: 7, numRuns: 200 });

describe('vmxCase', () => {
  it('generates structurally valid cases (base and mutated)', () => {
    fc.assert(fc.property(vmxCase(), (c) => {
      expect(shapeProblems(c.base)).toEqual([]);
      expect(shapeProblems(c.scenario)).toEqual([]);
      expect(c.mutations.length).toBeLessThanOrEqual(3);
    }), { numRuns: 400, seed: 11 });
  });

  it('is deterministic for a seed', () => {
    const a = fc.sample(vmxCase(), { seed: 42, numRuns: 30 });
    const b = fc.sample(vmxCase(), { seed: 42, numRuns: 30 });
    expect(a.map((c) => [c.choice, c.mutations, c.scenario])).toEqual(b.map((c) => [c.choice, c.mutations, c.scenario]));
  });

  it('the default choice with no mutations is validVmxScenario()', () => {
    const c = buildVmxCase(DEFAULT_VMX_BASE, []);
    expect(c.scenario).toEqual(validVmxScenario());
    expect(c.base).toEqual(validVmxScenario());
  });

  it('every sampled base passes the controls, host-state and guest-state checks, and its MSR lists load', () => {
    for (const choice of choices) {
      const s = baseVmxScenario(choice);
      expect(firstFailure(s), JSON.stringify(choice)).toEqual({ group: 'none', failed: [] });
      expect(badMsrEntries(s), JSON.stringify(choice)).toEqual([]);
    }
  });

  it('toggles take effect where the caps allow them (and fall back where not)', () => {
    const pae = baseVmxScenario({ ...DEFAULT_VMX_BASE, guestMode: 'pae32', l0: 'no-ept' });
    expect(Object.keys(pae.mem).sort()).toEqual(['0x40000', '0x40008', '0x40010', '0x40018']);
    expect(pae.mem['0x40000']).toBe(0x41001n);
    const paeEpt = baseVmxScenario({ ...DEFAULT_VMX_BASE, guestMode: 'pae32' });
    expect(paeEpt.vmcs12.guest_pdptr3).toBe(0x44001n);
    expect(paeEpt.mem).toEqual({});
    const real = baseVmxScenario({ ...DEFAULT_VMX_BASE, guestMode: 'real-ug' });
    expect(real.vmcs12.guest_cr0 & 1n).toBe(0n);
    expect(real.vmcs12.secondary_vm_exec_control & 0x80).toBe(0x80);
    for (const l0 of ['ept-no-ug', 'no-ept'] as const) {
      expect(baseVmxScenario({ ...DEFAULT_VMX_BASE, l0, guestMode: 'real-ug' })).toEqual(baseVmxScenario({ ...DEFAULT_VMX_BASE, l0 }));
    }
    const lists = baseVmxScenario({ ...DEFAULT_VMX_BASE, msrLists: 'entry+exit', msrCount: 3 });
    expect([lists.vmcs12.vm_entry_msr_load_count, lists.vmcs12.vm_exit_msr_load_count, lists.vmcs12.vm_exit_msr_store_count]).toEqual([3, 3, 3]);
    expect(lists.mem['0x1b000']).toBe(0xc0000082n);
    const x2 = baseVmxScenario({ ...DEFAULT_VMX_BASE, apicv: 'virt-x2apic' });
    expect(x2.vmcs12.secondary_vm_exec_control & 0x111).toBe(0x110);
    const vmresume = baseVmxScenario({ ...DEFAULT_VMX_BASE, path: 'vmresume' });
    expect(vmresume.launch_state).toBe('launched');
  });

  it('zero mutations ⇒ scenario deep-equals base', () => {
    fc.assert(fc.property(vmxCase({ maxMutations: 0 }), (c) => {
      expect(c.mutations).toEqual([]);
      expect(c.scenario).toEqual(c.base);
      expect(c.base).toEqual(baseVmxScenario(c.choice));
    }), { numRuns: 300, seed: 3 });
  });

  it('build → unmap → build round-trips', () => {
    const arb = vmxCase();
    fc.assert(fc.property(arb, (c) => {
      expect(arb.canShrinkWithoutContext(c)).toBe(true);
      const again = buildVmxCase(c.choice, parseVmxCaseMutations(c.mutations));
      expect(again).toEqual(c);
      // A stored (JSON-round-tripped choice and mutations) case rebuilds to the same scenario.
      const stored = JSON.parse(JSON.stringify({ choice: c.choice, mutations: c.mutations })) as Pick<VmxCase, 'choice' | 'mutations'>;
      expect(buildVmxCase(stored.choice, parseVmxCaseMutations(stored.mutations)).scenario).toEqual(c.scenario);
    }), { numRuns: 200, seed: 5 });
  });

  it('the unmapper refuses non-cases', () => {
    const arb = vmxCase();
    expect(arb.canShrinkWithoutContext({ foo: 1 })).toBe(false);
    expect(arb.canShrinkWithoutContext(null)).toBe(false);
  });

  it('has one scenario mutation per rule with unique ids, and prefixed ids for both tables', () => {
    expect(VMX_SCENARIO_MUTATIONS.length).toBeGreaterThanOrEqual(25);
    expect(new Set(VMX_SCENARIO_MUTATIONS.map((m) => m.id)).size).toBe(VMX_SCENARIO_MUTATIONS.length);
    expect(new Set(VMX_SCENARIO_MUTATION_IDS).size).toBe(VMX_SCENARIO_MUTATION_IDS.length);
    expect(VMX_SCENARIO_MUTATION_IDS.every((id) => id.startsWith('vmcs12:') || id.startsWith('scn:'))).toBe(true);
    for (const m of VMX_SCENARIO_MUTATIONS) expect(m.rule.length).toBeGreaterThan(0);
  });

  it('every mutation id applies without throwing to 200 sampled base choices, deterministically, keeping the shape', () => {
    for (const [ci, choice] of choices.entries()) {
      for (const id of VMX_SCENARIO_MUTATION_IDS) {
        for (const k of [0, (ci * 37 + id.length) % 256]) {
          const a = buildVmxCase(choice, [[id, k]]);
          if (ci < 20) expect(buildVmxCase(choice, [[id, k]]).scenario).toEqual(a.scenario);
          const p = shapeProblems(a.scenario);
          if (p.length) throw new Error(`${id}:${k} on ${JSON.stringify(choice)}: ${p.join(', ')}`);
        }
      }
    }
  });

  it('every scenario mutation changes the default base (k = 0)', () => {
    for (const m of VMX_SCENARIO_MUTATIONS) {
      const c = buildVmxCase(DEFAULT_VMX_BASE, [[`scn:${m.id}`, 0]]);
      expect(c.scenario, m.id).not.toEqual(c.base);
    }
  });

  it('scenario mutations the vmcs12 checks can see fail the intended check group (default base)', () => {
    const first = (id: string, k: number) => firstFailure(buildVmxCase(DEFAULT_VMX_BASE, [[id, k]]).scenario);
    expect(first('scn:guest-cr4-cpuid-absent', 0)).toEqual({ group: 'guest', failed: ['guest-cr4-reserved'] });
    expect(first('scn:guest-cr4-cpuid-absent', 1)).toEqual({ group: 'guest', failed: ['guest-cr4-reserved'] });
    expect(first('scn:host-cr4-cpuid-absent', 0)).toEqual({ group: 'host', failed: ['host-cr4-reserved'] });
    expect(first('scn:msr-list-count-513', 0)).toEqual({ group: 'controls', failed: ['entry-msr-load-count-too-high'] });
    expect(first('scn:msr-list-count-513', 2)).toEqual({ group: 'controls', failed: ['exit-msr-store-count-too-high'] });
  });

  it('scenario mutations do not throw on extreme k or odd scenarios', () => {
    const odd = buildVmxCase({ ...DEFAULT_VMX_BASE, guestMode: 'real-ug', msrLists: 'entry+exit', msrCount: 3 }, []).scenario;
    odd.vmcs12.vm_entry_msr_load_count = 0xffffffff;
    odd.vmcs12.vm_exit_msr_store_addr = 0xfffffffffffffff0n;
    odd.current_vmptr = 0xffffffffffffffffn;
    for (const m of VMX_SCENARIO_MUTATIONS) {
      for (const k of [0, 1, 255, -1, 2 ** 31, Number.NaN]) {
        const s = structuredClone(odd);
        expect(() => m.apply(s, k), `${m.id}:${k}`).not.toThrow();
      }
    }
  });

  it('shrinks a CPL failure to the CPL mutation alone on the default base', () => {
    const r = fc.check(fc.property(vmxCase(), (c) => c.scenario.l1.cpl === 0), { seed: 1234, numRuns: 5000 });
    expect(r.failed).toBe(true);
    const c = r.counterexample![0];
    expect(c.mutations).toEqual(['scn:l1-cpl3:0']);
    expect(c.choice).toEqual(DEFAULT_VMX_BASE);
    expect(c.scenario.l1.cpl).toBe(3);
  });

  it('a stored failing case can be shrunk again from its value', () => {
    const stored = buildVmxCase({ ...DEFAULT_VMX_BASE, l0: 'no-ept', guestMode: 'pae32', apicv: 'virt-x2apic', injection: 'pf' },
      [['vmcs12:cr3-target-count-nonzero', 3], ['scn:l1-cpl3', 200], ['scn:l1-smm', 9]]);
    const arb = vmxCase();
    expect(arb.canShrinkWithoutContext(stored)).toBe(true);
    let cur = stored;
    for (let step = 0; step < 200; step++) {
      let next: VmxCase | undefined;
      for (const s of arb.shrink(cur, undefined)) {
        if (s.value.scenario.l1.cpl !== 0) { next = s.value; break; }
      }
      if (!next) break;
      cur = next;
    }
    expect(cur.mutations).toEqual(['scn:l1-cpl3:0']);
    expect(cur.choice).toEqual(DEFAULT_VMX_BASE);
  });
});

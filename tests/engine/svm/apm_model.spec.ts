// The declarative APM model of VMRUN (properties/svm/_apm/vmrun_apm_model.ts) against the engine:
// on random single-field mutations of a valid base, the model with KVM's deviations applied must
// give the engine's kvm-next verdict (accept/reject, outcome, early/late); plus directed tests of
// rules where the APM and KVM part ways.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4, EFER, EVTINJ, INTERCEPT, MISC_CTL, RFLAGS, SEG_ATTR, setIntercept } from '../../../src/arch/svm/defs.ts';
import { defaultL1, L1_CR4, L2_PAE_PDPT_GPA, VMCB12_GPA } from '../../../src/arbitraries/_internals/builders/defaultL1.ts';
import { validVmcb12 } from '../../../src/arbitraries/_internals/builders/validVmcb12.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import { run } from '../../../src/engine/svm/run.ts';
import type { GuestCpuid, SvmScenario } from '../../../src/engine/svm/scenario.ts';
import {
  APM_VMRUN_RULES, KVM_DEVIATIONS, apmVmrunVerdict, apmVmrunVerdictStrict, kvmVmrunRules,
} from '../../../properties/svm/_apm/vmrun_apm_model.ts';

const KVM_NEXT = getProfile('kvm-next')!;

// ---- valid bases: each is entered on kvm-next ----

type BaseName = 'long64-npt' | 'pae-no-npt' | 'legacy32-npt' | 'l1-32bit';
const BASES: readonly BaseName[] = ['long64-npt', 'pae-no-npt', 'legacy32-npt', 'l1-32bit'];

function base(name: BaseName): SvmScenario {
  const s: SvmScenario = { arch: 'svm', entry: 'vmrun', l1: defaultL1(), vmcb12: validVmcb12(), l2: [], race: null, smm: null, nested_state: null };
  const v = s.vmcb12;
  if (name === 'pae-no-npt' || name === 'legacy32-npt') {
    v.save.efer = EFER.NX | EFER.SVME;
    v.save.cs.attrib = 0xc9b;
  }
  if (name === 'pae-no-npt') {
    v.save.cr3 = L2_PAE_PDPT_GPA;
    v.control.misc_ctl &= ~MISC_CTL.NP_ENABLE;
    v.control.nested_cr3 = 0n;
  }
  if (name === 'legacy32-npt') {
    v.save.cr4 = L1_CR4 & ~CR4.PAE;
    v.save.cr3 = 0x500000n;
  }
  if (name === 'l1-32bit') {
    // L1 in 32-bit protected mode with paging (not long mode): VMRUN reads EAX.
    s.l1.efer = EFER.NX | EFER.SVME;
    s.l1.cs_attrib = 0xc9b;
    s.l1.rip &= 0xffffffffn;
  }
  return s;
}

// ---- single-field mutations, aimed at the fields the rules read ----

interface Mutation {
  name: string;
  apply: (s: SvmScenario) => void;
}

const bit64 = fc.integer({ min: 0, max: 63 }).map(BigInt);
const mut = <T>(arb: fc.Arbitrary<T>, name: (x: T) => string, apply: (s: SvmScenario, x: T) => void): fc.Arbitrary<Mutation> =>
  arb.map((x) => ({ name: name(x), apply: (s: SvmScenario) => apply(s, x) }));
const flip = (v: bigint, b: bigint): bigint => v ^ (1n << b);

/** Physical addresses around the interesting limits of a maxphyaddr of 48 and the 4 GiB memslot. */
const interestingPa = fc.constantFrom(
  0n, 0x220000n, 0xfffff000n, 0x100000000n, (1n << 48n) - 12288n, (1n << 48n) - 8192n, (1n << 48n) - 4096n,
  (1n << 48n) - 8192n + 0xfffn, 1n << 48n, 1n << 51n, 1n << 63n, 0x220abcn,
);

const CPUID_FLAGS: readonly (keyof GuestCpuid)[] = ['svm', 'npt', 'lm', 'nx', 'ffxsr', 'xsave', 'shstk', 'sev_es', 'la57', 'smep', 'smap', 'pku', 'fsgsbase', 'pcid', 'umip', 'lam', 'vnmi'];

const MUTATIONS: fc.Arbitrary<Mutation> = fc.oneof(
  // vmcb12 save area
  mut(bit64, (b) => `save.efer^bit${b}`, (s, b) => { s.vmcb12.save.efer = flip(s.vmcb12.save.efer, b); }),
  mut(bit64, (b) => `save.cr0^bit${b}`, (s, b) => { s.vmcb12.save.cr0 = flip(s.vmcb12.save.cr0, b); }),
  mut(bit64, (b) => `save.cr3^bit${b}`, (s, b) => { s.vmcb12.save.cr3 = flip(s.vmcb12.save.cr3, b); }),
  mut(bit64, (b) => `save.cr4^bit${b}`, (s, b) => { s.vmcb12.save.cr4 = flip(s.vmcb12.save.cr4, b); }),
  mut(bit64, (b) => `save.dr6^bit${b}`, (s, b) => { s.vmcb12.save.dr6 = flip(s.vmcb12.save.dr6, b); }),
  mut(bit64, (b) => `save.dr7^bit${b}`, (s, b) => { s.vmcb12.save.dr7 = flip(s.vmcb12.save.dr7, b); }),
  mut(fc.integer({ min: 0, max: 15 }), (b) => `save.cs.attrib^bit${b}`, (s, b) => { s.vmcb12.save.cs.attrib ^= 1 << b; }),
  mut(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })), ([i, t]) => `save.g_pat[${i}]=${t}`, (s, [i, t]) => {
    const sh = BigInt(8 * i);
    s.vmcb12.save.g_pat = (s.vmcb12.save.g_pat & ~(0xffn << sh)) | (BigInt(t) << sh);
  }),
  // vmcb12 control area
  mut(fc.integer({ min: 0, max: 191 }), (b) => `control.intercept^${b}`, (s, b) => { s.vmcb12.control.intercepts[b >>> 5] = (s.vmcb12.control.intercepts[b >>> 5] ^ (1 << (b & 31))) >>> 0; }),
  mut(fc.constantFrom(0, 1, 2, 0xffff, 0xffffffff), (a) => `control.asid=${a}`, (s, a) => { s.vmcb12.control.asid = a; }),
  mut(fc.integer({ min: 0, max: 3 }).map(BigInt), (b) => `control.misc_ctl^bit${b}`, (s, b) => { s.vmcb12.control.misc_ctl = flip(s.vmcb12.control.misc_ctl, b); }),
  mut(bit64, (b) => `control.nested_cr3^bit${b}`, (s, b) => { s.vmcb12.control.nested_cr3 = flip(s.vmcb12.control.nested_cr3, b); }),
  mut(interestingPa, (a) => `control.msrpm_base_pa=${a.toString(16)}`, (s, a) => { s.vmcb12.control.msrpm_base_pa = a; }),
  mut(interestingPa, (a) => `control.msrpm_base_pa=${a.toString(16)}+MSR_PROT`, (s, a) => { s.vmcb12.control.msrpm_base_pa = a; setIntercept(s.vmcb12.control.intercepts, INTERCEPT.MSR_PROT); }),
  mut(interestingPa, (a) => `control.iopm_base_pa=${a.toString(16)}`, (s, a) => { s.vmcb12.control.iopm_base_pa = a; }),
  mut(fc.integer({ min: 0, max: 255 }), (t) => `control.tlb_ctl=${t}`, (s, t) => { s.vmcb12.control.tlb_ctl = t; }),
  mut(fc.integer({ min: 0, max: 31 }), (b) => `control.int_ctl^bit${b}`, (s, b) => { s.vmcb12.control.int_ctl = (s.vmcb12.control.int_ctl ^ (1 << b)) >>> 0; }),
  mut(
    fc.record({ v: fc.boolean(), type: fc.integer({ min: 0, max: 7 }), vec: fc.integer({ min: 0, max: 255 }), ev: fc.boolean(), rsvd: fc.integer({ min: 0, max: 0x7ffff }) }),
    (e) => `control.event_inj=V${+e.v}/T${e.type}/vec${e.vec}`,
    (s, e) => { s.vmcb12.control.event_inj = ((e.v ? EVTINJ.VALID : 0) | (e.type << 8) | e.vec | (e.ev ? EVTINJ.VALID_ERR : 0) | (e.rsvd << 12)) >>> 0; },
  ),
  // L1 state
  mut(fc.constantFrom(EFER.SVME, EFER.LMA, EFER.LME), (b) => `l1.efer^${b}`, (s, b) => { s.l1.efer ^= b; }),
  mut(fc.constantFrom(CR0.PE, CR0.PG, CR0.PE | CR0.PG), (b) => `l1.cr0^${b}`, (s, b) => { s.l1.cr0 ^= b; }),
  mut(fc.integer({ min: 0, max: 3 }), (c) => `l1.cpl=${c}`, (s, c) => { s.l1.cpl = c; }),
  mut(fc.constant(0), () => 'l1.vm_hsave_pa=0', (s) => { s.l1.vm_hsave_pa = 0n; }),
  mut(fc.constant(0), () => 'l1.smm', (s) => { s.l1.smm = true; }),
  mut(fc.constant(0), () => 'l1.rflags.VM', (s) => { s.l1.rflags |= RFLAGS.VM; }),
  mut(
    fc.constantFrom(VMCB12_GPA + 8n, VMCB12_GPA | (1n << 48n), VMCB12_GPA | (1n << 32n), 0x100000000n, 0xfffff000n, 0x1234567000n),
    (a) => `l1.rax=${a.toString(16)}`, (s, a) => { s.l1.rax = a; },
  ),
  mut(fc.constantFrom(...CPUID_FLAGS), (f) => `l1.guest.${f} toggled`, (s, f) => { s.l1.guest[f] = !s.l1.guest[f]; }),
  mut(fc.constant(0), () => 'l1.quirks.nested_svm_shared_pat', (s) => { s.l1.quirks.nested_svm_shared_pat = true; }),
  mut(fc.constant(0), () => 'l1.host.npt=false', (s) => { s.l1.host.npt = false; }),
  mut(fc.integer({ min: 32, max: 52 }), (m) => `l1.maxphyaddr=${m}`, (s, m) => { s.l1.maxphyaddr = m; }),
  mut(fc.constantFrom(0x80000000n, 0x220000n + 4096n, 0x400000n), (end) => `l1.memslots=[0,${end.toString(16)})`, (s, end) => { s.l1.memslots = [{ base: 0n, size: end }]; }),
  mut(fc.tuple(fc.integer({ min: 0, max: 3 }), bit64), ([i, b]) => `pdpte[${i}]^bit${b}`, (s, [i, b]) => {
    const e = (BigInt(0x410000 + i * 0x1000) | 1n) ^ (1n << b);
    s.l1.memory[`0x${(L2_PAE_PDPT_GPA + BigInt(8 * i)).toString(16)}`] = e.toString(16).padStart(16, '0').match(/../g)!.reverse().join('');
  }),
);

function engineVmrun(s: SvmScenario): { outcome: string; stage: 'early' | 'late' | null; failed: string[] } {
  const r = run(s, KVM_NEXT);
  return { outcome: r.vmrun ? r.vmrun.outcome : r.outcome, stage: r.stage, failed: r.trace.failedChecks() };
}

describe('vmrun_apm_model', () => {
  describe('bases', () => {
    it.each(BASES)('should agree that the %s base is entered', (name) => {
      const s = base(name);
      expect(engineVmrun(s).outcome).toBe('entered');
      expect(apmVmrunVerdict(s.l1, s.vmcb12)).toEqual({ outcome: 'entered', rules: [], stage: null, deviations: [] });
      expect(apmVmrunVerdictStrict(s.l1, s.vmcb12).outcome).toBe('entered');
    });
  });

  describe('apmVmrunVerdict', () => {
    it('should give the engine\'s kvm-next verdict on every single-field mutation of a valid base', () => {
      fc.assert(
        fc.property(fc.constantFrom(...BASES), MUTATIONS, (name, m) => {
          const s = base(name);
          m.apply(s);
          const e = engineVmrun(s);
          const a = apmVmrunVerdict(s.l1, s.vmcb12);
          expect({ base: name, mutation: m.name, outcome: a.outcome, stage: a.stage }).toEqual({ base: name, mutation: m.name, outcome: e.outcome, stage: e.stage });
          // Accept/reject agree with the trace: a rejection names a failed check, an entry none.
          expect(e.failed.length > 0).toBe(a.outcome !== 'entered');
        }),
        { numRuns: 4000, seed: 0x5eed },
      );
    });

    it('should list every violated rule, not only the first', () => {
      const s = base('long64-npt');
      s.vmcb12.control.asid = 0;
      s.vmcb12.save.cr0 |= CR0.NW;
      s.vmcb12.save.dr7 |= 1n << 40n;
      const v = apmVmrunVerdict(s.l1, s.vmcb12);
      expect(v.outcome).toBe('vmexit-invalid');
      expect(v.rules).toEqual(['cr0-cd-clear-nw-set', 'dr7-upper-bits-set', 'asid-zero']);
    });

    it('should take the outcome from the first failing gate in KVM\'s order (hsave #GP before SMM #UD)', () => {
      const s = base('long64-npt');
      s.l1.vm_hsave_pa = 0n;
      s.l1.smm = true;
      s.vmcb12.control.asid = 0;
      const v = apmVmrunVerdict(s.l1, s.vmcb12);
      expect(v).toMatchObject({ outcome: '#GP', rules: ['vmrun-hsave-unset', 'vmrun-in-smm', 'asid-zero'], stage: null });
      expect(engineVmrun(s).outcome).toBe('#GP');
    });
  });

  describe('apmVmrunVerdictStrict (APM only) against KVM', () => {
    const cases: { name: string; mutate: (s: SvmScenario) => void; strict: string; kvm: string; deviations: string[]; base?: BaseName }[] = [
      {
        name: 'an unpaged protected-mode L1 with NP_ENABLE: APM 15.25.3 VMEXIT_INVALID, KVM #UD at the paging gate',
        mutate: (s) => { s.l1.cr0 &= ~CR0.PG; }, strict: 'vmexit-invalid', kvm: '#UD',
        deviations: ['gate-paging-not-protected-mode', 'hcr0-pg-np-not-checked'],
      },
      { name: 'VM_HSAVE_PA = 0: the APM runs VMRUN, KVM #GPs (fb79f566e4c9)', mutate: (s) => { s.l1.vm_hsave_pa = 0n; }, strict: 'entered', kvm: '#GP', deviations: ['hsave-unset-gp'] },
      { name: 'VMRUN in SMM: KVM #UDs', mutate: (s) => { s.l1.smm = true; }, strict: 'entered', kvm: '#UD', deviations: ['vmrun-in-smm-ud'] },
      { name: 'vmcb12 not backed by a memslot: KVM exits to userspace', mutate: (s) => { s.l1.rax = 0x100000000n; }, strict: 'entered', kvm: 'userspace-exit', deviations: ['vmcb12-unbacked-userspace-exit'] },
      { name: 'RFLAGS.VM in L1 (virtual-8086): APM #UD, KVM does not look', mutate: (s) => { s.l1.rflags |= RFLAGS.VM; }, strict: '#UD', kvm: 'entered', deviations: ['gate-no-v86-test'] },
      { name: 'EFER.TCE: defined by the APM, reserved for nested guests by KVM', mutate: (s) => { s.vmcb12.save.efer |= EFER.TCE; }, strict: 'entered', kvm: 'vmexit-invalid', deviations: ['efer-reserved-by-guest-cpuid'] },
      { name: 'CR4.PKE without PKU in the guest CPUID', mutate: (s) => { s.vmcb12.save.cr4 |= CR4.PKE; }, strict: 'entered', kvm: 'vmexit-invalid', deviations: ['cr4-reserved-by-guest-cpuid'] },
      { name: 'EVENTINJ #CP (21) without shadow stacks', mutate: (s) => { s.vmcb12.control.event_inj = (EVTINJ.VALID | EVTINJ.TYPE_EXEPT | 21) >>> 0; }, strict: 'entered', kvm: 'vmexit-invalid', deviations: ['event-inj-vectors-by-guest-cpuid'] },
      {
        name: 'an illegal nCR3 when the guest CPUID lacks NPT: KVM ignores NP_ENABLE',
        mutate: (s) => { s.l1.guest.npt = false; s.vmcb12.control.nested_cr3 = 1n << 50n; }, strict: 'vmexit-invalid', kvm: 'entered', deviations: ['np-enable-ignored-without-guest-npt'],
      },
      {
        name: 'an illegal gPAT with the shared-PAT quirk on', mutate: (s) => { s.l1.quirks.nested_svm_shared_pat = true; s.vmcb12.save.g_pat = 3n; },
        strict: 'vmexit-invalid', kvm: 'entered', deviations: ['gpat-only-with-separate-pat'],
      },
      {
        name: 'a reserved bit in a PAE PDPTE without nested paging: KVM fails late', base: 'pae-no-npt',
        mutate: (s) => { s.l1.memory[`0x${L2_PAE_PDPT_GPA.toString(16)}`] = '2100410000000000'; }, strict: 'entered', kvm: 'vmexit-invalid', deviations: ['pae-pdpte-reserved-fails-vmrun'],
      },
      {
        name: 'an unbacked MSRPM with MSR_PROT intercepted: KVM fails late',
        mutate: (s) => { setIntercept(s.vmcb12.control.intercepts, INTERCEPT.MSR_PROT); s.vmcb12.control.msrpm_base_pa = 0x100000000n; },
        strict: 'entered', kvm: 'vmexit-invalid', deviations: ['msrpm-unreadable-fails-vmrun'],
      },
    ];
    it.each(cases)('$name', ({ mutate, strict, kvm, deviations, base: b }) => {
      const s = base(b ?? 'long64-npt');
      mutate(s);
      expect(apmVmrunVerdictStrict(s.l1, s.vmcb12).outcome).toBe(strict);
      const v = apmVmrunVerdict(s.l1, s.vmcb12);
      expect(v.outcome).toBe(kvm);
      expect(v.deviations).toEqual(deviations);
      expect(engineVmrun(s).outcome).toBe(kvm);
    });

    it('CR3 MBZ outside long mode: same verdict, but the APM fails it as a check and KVM late', () => {
      const s = base('legacy32-npt');
      s.vmcb12.save.cr3 |= 1n << 48n;
      expect(apmVmrunVerdictStrict(s.l1, s.vmcb12)).toMatchObject({ outcome: 'vmexit-invalid', stage: 'early', rules: ['cr3-mbz'] });
      expect(apmVmrunVerdict(s.l1, s.vmcb12)).toMatchObject({ outcome: 'vmexit-invalid', stage: 'late', rules: ['load-cr3-illegal'] });
      expect(engineVmrun(s)).toMatchObject({ outcome: 'vmexit-invalid', stage: 'late', failed: ['cr3-illegal'] });
    });

    it('CS.L && CS.D outside long mode is legal in both', () => {
      const s = base('legacy32-npt');
      s.vmcb12.save.cs.attrib |= SEG_ATTR.L | SEG_ATTR.DB;
      expect(apmVmrunVerdictStrict(s.l1, s.vmcb12).outcome).toBe('entered');
      expect(apmVmrunVerdict(s.l1, s.vmcb12).outcome).toBe('entered');
    });

    it('rAX is read as EAX outside 64-bit mode', () => {
      const s = base('l1-32bit');
      s.l1.rax = VMCB12_GPA | (1n << 48n);
      expect(apmVmrunVerdictStrict(s.l1, s.vmcb12).outcome).toBe('entered');
      expect(apmVmrunVerdict(s.l1, s.vmcb12).outcome).toBe('entered');
      expect(engineVmrun(s).outcome).toBe('entered');
    });
  });

  describe('KVM_DEVIATIONS', () => {
    it('should have unique ids, each naming what KVM does, why, and where', () => {
      expect(new Set(KVM_DEVIATIONS.map((d) => d.id)).size).toBe(KVM_DEVIATIONS.length);
      for (const d of KVM_DEVIATIONS) {
        expect(d.kvm.length).toBeGreaterThan(0);
        expect(d.reason.length).toBeGreaterThan(0);
        expect(d.source.length).toBeGreaterThan(0);
      }
    });

    it('should replace or remove only rules the APM list has, and add only new ids after existing ones', () => {
      const apm = new Set(APM_VMRUN_RULES.map((r) => r.id));
      const kvm = kvmVmrunRules().map((r) => r.id);
      for (const d of KVM_DEVIATIONS) {
        if (d.effect.kind === 'replace' || d.effect.kind === 'remove') expect(apm.has(d.rule)).toBe(true);
        if (d.effect.kind === 'add') {
          expect(apm.has(d.rule)).toBe(false);
          expect(kvm.indexOf(d.rule)).toBe(kvm.indexOf(d.effect.after) + 1);
        }
      }
      expect(new Set(kvm).size).toBe(kvm.length);
    });

    it('should keep KVM\'s gate order: SVME, paging, CPL, HSAVE, SMM, rAX, memslot', () => {
      const gates = kvmVmrunRules().filter((r) => r.stage === 'gate').map((r) => r.id);
      expect(gates).toEqual(['vmrun-efer-svme-clear', 'vmrun-not-protected-mode', 'vmrun-cpl-nonzero', 'vmrun-hsave-unset', 'vmrun-in-smm', 'vmrun-rax-invalid', 'vmrun-vmcb12-unbacked']);
    });
  });
});

// Directed tests of nested_vmx_check_guest_state (spec §2.6), in the style of kvm-unit-tests'
// vmx_tests.c guest-state tests: start from validVmcs12, change one thing, quote the rule, expect
// exactly that failing check id and the exit-33 qualification (4 for the VMCS link pointer, else 0).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4, EFER } from '../../../src/arch/svm/defs.ts';
import { kvmNestedVmxMsrs } from '../../../src/arch/vmx/caps.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY } from '../../../src/arch/vmx/controls.ts';
import { ENTRY_FAIL } from '../../../src/arch/vmx/errors.ts';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import { VMCS12_REVISION, type Vmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { GuestCpuid } from '../../../src/engine/svm/scenario.ts';
import { defaultVmxGuestFacts, newVmxCheckCtx, vmxGuestCpuid, type VmxCheckCtx } from '../../../src/engine/vmx/ctx.ts';
import {
  DEBUGCTL, GUEST_ACTIVITY, HARDWARE_GUEST_STATE_RULES, nested_vmx_check_guest_state, type ReadLinkHeader, type VmcsLinkHeader,
  VMX_GUEST_CHECK_IDS, VMX_GUEST_LINK_PTR_CHECK_IDS,
} from '../../../src/engine/vmx/nested/checks_guest.ts';
import { validVmcs12 } from '../../../src/engine/vmx/nested/vmcs12_base.ts';

const caps = kvmNestedVmxMsrs();
const NONCANONICAL_48 = 1n << 47n;
const LINK_GPA = 0x5000n;

interface Env {
  cpuid?: Partial<GuestCpuid>;
  nested_run_pending?: boolean;
  quirk_allow_freeze_in_smm?: boolean;
  /** Header at LINK_GPA (anything else unreadable); undefined = no reader at all. */
  link?: VmcsLinkHeader | null;
}

function mkCtx(env: Env = {}): VmxCheckCtx {
  return newVmxCheckCtx({
    p: getProfile('kvm-next')!, caps,
    guest: defaultVmxGuestFacts({ cpuid: vmxGuestCpuid(env.cpuid), quirk_allow_freeze_in_smm: env.quirk_allow_freeze_in_smm ?? false }),
    nested_run_pending: env.nested_run_pending,
  });
}

function reader(env: Env): ReadLinkHeader | undefined {
  if (env.link === undefined) return undefined;
  const hdr = env.link;
  return (gpa) => (gpa === LINK_GPA ? hdr : null);
}

function check(mutate: (v: Vmcs12) => void, env: Env = {}): { verdict: ReturnType<typeof nested_vmx_check_guest_state>; failed: string[] } {
  const ctx = mkCtx(env);
  const v = validVmcs12(caps);
  mutate(v);
  const verdict = nested_vmx_check_guest_state(ctx, v, reader(env));
  return { verdict, failed: ctx.t.failedChecks() };
}

const PASS = { verdict: { ok: true }, failed: [] };

function enableUg(v: Vmcs12): void {
  v.cpu_based_vm_exec_control |= CPU_BASED.ACTIVATE_SECONDARY_CONTROLS;
  v.secondary_vm_exec_control |= SECONDARY.UNRESTRICTED_GUEST;
}

/** A 32-bit (non-IA-32e) L2: IA-32e mode guest 0, EFER.LME/LMA clear. */
function legacyGuest(v: Vmcs12): void {
  v.vm_entry_controls &= ~VM_ENTRY.IA32E_MODE;
  v.guest_ia32_efer = 0n;
}

const entry = (bits: number) => (v: Vmcs12): void => { v.vm_entry_controls |= bits; };

interface Case {
  id: (typeof VMX_GUEST_CHECK_IDS)[number];
  rule: string;
  mutate: (v: Vmcs12) => void;
  env?: Env;
}

const CASES: Case[] = [
  { id: 'guest-cr0-fixed-bits', rule: 'CR0 must not set a bit to a value unsupported in VMX operation (NE cleared)', mutate: (v) => { v.guest_cr0 &= ~CR0.NE; } },
  { id: 'guest-cr4-fixed-bits', rule: 'CR4 must not set a bit to a value unsupported in VMX operation (VMXE cleared)', mutate: (v) => { v.guest_cr4 &= ~CR4.VMXE; } },
  { id: 'guest-cr4-reserved', rule: 'CR4 bits of features absent from guest CPUID are reserved (LA57 without LA57)', mutate: (v) => { v.guest_cr4 |= CR4.LA57; } },
  { id: 'guest-cet-without-wp', rule: 'CR4.CET = 1 requires CR0.WP = 1', mutate: (v) => { v.guest_cr4 |= CR4.CET; v.guest_cr0 &= ~CR0.WP; } },
  { id: 'guest-dr7-upper-bits', rule: 'load debug controls ⇒ DR7 bits 63:32 are 0', mutate: (v) => { entry(VM_ENTRY.LOAD_DEBUG_CONTROLS)(v); v.guest_dr7 = (1n << 32n) | 0x400n; } },
  { id: 'guest-debugctl-invalid', rule: 'load debug controls ⇒ IA32_DEBUGCTL reserved bits 0 (FREEZE_IN_SMM without the quirk)', mutate: (v) => { entry(VM_ENTRY.LOAD_DEBUG_CONTROLS)(v); v.guest_ia32_debugctl = DEBUGCTL.FREEZE_IN_SMM; } },
  { id: 'guest-pat-invalid', rule: 'load IA32_PAT ⇒ every PAT byte a valid memory type', mutate: (v) => { entry(VM_ENTRY.LOAD_IA32_PAT)(v); v.guest_ia32_pat = 0x0300000000000000n; } },
  { id: 'guest-vmcs-link-ptr-invalid-address', rule: 'VMCS link pointer ≠ ~0 ⇒ 4K-aligned', mutate: (v) => { v.vmcs_link_pointer = LINK_GPA | 0x10n; }, env: { link: { revision: VMCS12_REVISION, shadow: false } } },
  { id: 'guest-vmcs-link-ptr-unreadable', rule: 'VMCS link pointer ≠ ~0 ⇒ the page it names can be read', mutate: (v) => { v.vmcs_link_pointer = LINK_GPA; }, env: { link: null } },
  { id: 'guest-vmcs-link-ptr-revision', rule: "VMCS link pointer ≠ ~0 ⇒ the referenced VMCS's revision is VMX_BASIC[30:0]", mutate: (v) => { v.vmcs_link_pointer = LINK_GPA; }, env: { link: { revision: 1, shadow: false } } },
  { id: 'guest-vmcs-link-ptr-shadow-mismatch', rule: 'VMCS link pointer ≠ ~0 ⇒ shadow-VMCS indicator equals the VMCS-shadowing control', mutate: (v) => { v.vmcs_link_pointer = LINK_GPA; }, env: { link: { revision: VMCS12_REVISION, shadow: true } } },
  { id: 'guest-perf-global-ctrl-invalid', rule: 'load IA32_PERF_GLOBAL_CTRL ⇒ reserved bits 0 (fixed counter 3 with 3 fixed counters)', mutate: (v) => { entry(VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL)(v); v.guest_ia32_perf_global_ctrl = 1n << 35n; } },
  { id: 'guest-cr0-pg-without-pe', rule: 'CR0.PG = 1 ⇒ CR0.PE = 1, even with unrestricted guest (CVE-2023-30456)', mutate: (v) => { enableUg(v); v.guest_cr0 &= ~CR0.PE; } },
  { id: 'guest-ia32e-without-pae', rule: 'IA-32e mode guest ⇒ CR4.PAE = 1', mutate: (v) => { v.guest_cr4 &= ~CR4.PAE; } },
  { id: 'guest-ia32e-without-pg', rule: 'IA-32e mode guest ⇒ CR0.PG = 1, even with unrestricted guest (CVE-2023-30456)', mutate: (v) => { enableUg(v); v.guest_cr0 &= ~CR0.PG; } },
  { id: 'guest-efer-invalid', rule: 'load IA32_EFER ⇒ reserved EFER bits 0 (SVME on an Intel guest)', mutate: (v) => { v.guest_ia32_efer |= EFER.SVME; } },
  { id: 'guest-efer-lma-mismatch', rule: 'load IA32_EFER ⇒ EFER.LMA equals the IA-32e mode guest control', mutate: (v) => { v.guest_ia32_efer = EFER.LME; } },
  { id: 'guest-efer-lme-mismatch', rule: 'load IA32_EFER and CR0.PG ⇒ EFER.LME equals the IA-32e mode guest control', mutate: (v) => { v.guest_ia32_efer = EFER.LMA; } },
  { id: 'guest-bndcfgs-noncanonical', rule: 'load IA32_BNDCFGS ⇒ base (bits 63:12) canonical', mutate: (v) => { entry(VM_ENTRY.LOAD_BNDCFGS)(v); v.guest_bndcfgs = NONCANONICAL_48 | 1n; } },
  { id: 'guest-bndcfgs-reserved', rule: 'load IA32_BNDCFGS ⇒ reserved bits 11:2 are 0', mutate: (v) => { entry(VM_ENTRY.LOAD_BNDCFGS)(v); v.guest_bndcfgs = 0x1000n | 4n; } },
  { id: 'guest-s-cet-invalid', rule: 'load CET state ⇒ IA32_S_CET reserved bits 9:6 are 0', mutate: (v) => { entry(VM_ENTRY.LOAD_CET_STATE)(v); v.guest_s_cet = 1n << 9n; } },
  { id: 'guest-ssp-misaligned', rule: 'load CET state ⇒ SSP bits 1:0 are 0', mutate: (v) => { entry(VM_ENTRY.LOAD_CET_STATE)(v); v.guest_ssp = 1n; } },
  { id: 'guest-ssp-tbl-noncanonical', rule: 'load CET state ⇒ interrupt SSP table address canonical', mutate: (v) => { entry(VM_ENTRY.LOAD_CET_STATE)(v); v.guest_ssp_tbl = NONCANONICAL_48; } },
  { id: 'guest-ssp-noncanonical', rule: 'load CET state ⇒ SSP bits 63:N identical (N = 48)', mutate: (v) => { entry(VM_ENTRY.LOAD_CET_STATE)(v); v.guest_ssp = 1n << 48n; } },
  { id: 'guest-activity-state-invalid', rule: 'activity state is ACTIVE, HLT or WAIT_SIPI (SHUTDOWN not offered)', mutate: (v) => { v.guest_activity_state = GUEST_ACTIVITY.SHUTDOWN; } },
];

describe('checks_guest', () => {
  describe('nested_vmx_check_guest_state', () => {
    it('should pass the valid base vmcs12', () => {
      expect(check(() => {})).toEqual(PASS);
    });

    for (const c of CASES) {
      const code = c.id.startsWith('guest-vmcs-link-ptr-') ? ENTRY_FAIL.VMCS_LINK_PTR : ENTRY_FAIL.DEFAULT;
      it(`should fail '${c.id}' with qualification ${code}: ${c.rule}`, () => {
        expect(check(c.mutate, c.env)).toEqual({ verdict: { ok: false, entry_failure_code: code }, failed: [c.id] });
      });
    }

    it('should have a directed test for every id', () => {
      expect(CASES.map((c) => c.id).sort()).toEqual([...VMX_GUEST_CHECK_IDS].sort());
      expect(VMX_GUEST_LINK_PTR_CHECK_IDS).toHaveLength(4);
    });

    it('should accept CR0.PE = CR0.PG = 0 with unrestricted guest enabled (and allowed)', () => {
      const realMode = (v: Vmcs12): void => { legacyGuest(v); v.guest_cr0 &= ~(CR0.PE | CR0.PG); };
      expect(check((v) => { enableUg(v); realMode(v); })).toEqual(PASS);
      // Without UG in vmcs12, or with UG not offered to L1, FIXED0 keeps PE and PG.
      expect(check(realMode)).toEqual({ verdict: { ok: false, entry_failure_code: 0 }, failed: ['guest-cr0-fixed-bits'] });
      const noUg = kvmNestedVmxMsrs({ enableUnrestrictedGuest: false });
      const ctx = { ...mkCtx(), caps: noUg };
      const v = validVmcs12(caps);
      enableUg(v);
      realMode(v);
      expect(nested_vmx_check_guest_state(ctx, v)).toEqual({ ok: false, entry_failure_code: 0 });
      expect(ctx.t.failedChecks()).toEqual(['guest-cr0-fixed-bits']);
    });

    it('should ignore UNRESTRICTED_GUEST in secondary controls when they are not activated', () => {
      expect(check((v) => {
        legacyGuest(v);
        v.cpu_based_vm_exec_control &= ~CPU_BASED.ACTIVATE_SECONDARY_CONTROLS;
        v.secondary_vm_exec_control |= SECONDARY.UNRESTRICTED_GUEST;
        v.guest_cr0 &= ~(CR0.PE | CR0.PG);
      }).failed).toEqual(['guest-cr0-fixed-bits']);
    });

    it('should accept a guest EFER mismatch when nested_run_pending is false (KVM_SET_NESTED_STATE)', () => {
      const mismatch = (v: Vmcs12): void => { v.guest_ia32_efer = EFER.SVME; };
      expect(check(mismatch, { nested_run_pending: false })).toEqual(PASS);
      expect(check(mismatch).failed).toEqual(['guest-efer-invalid']);
      expect(check((v) => { v.guest_ia32_efer = 0n; }, { nested_run_pending: false })).toEqual(PASS);
    });

    it('should not compare EFER.LME when CR0.PG is 0', () => {
      expect(check((v) => { enableUg(v); legacyGuest(v); v.guest_cr0 &= ~CR0.PG; v.guest_ia32_efer = EFER.LME; })).toEqual(PASS);
    });

    it('should accept FREEZE_IN_SMM under KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM, and LBR/BTF always', () => {
      const dbg = (x: bigint) => (v: Vmcs12): void => { entry(VM_ENTRY.LOAD_DEBUG_CONTROLS)(v); v.guest_ia32_debugctl = x; };
      expect(check(dbg(DEBUGCTL.FREEZE_IN_SMM), { quirk_allow_freeze_in_smm: true })).toEqual(PASS);
      expect(check(dbg(DEBUGCTL.LBR | DEBUGCTL.BTF))).toEqual(PASS);
    });

    it('should accept a valid VMCS link pointer whose shadow flag matches VMCS shadowing', () => {
      const link = (v: Vmcs12): void => { v.vmcs_link_pointer = LINK_GPA; };
      expect(check(link, { link: { revision: VMCS12_REVISION, shadow: false } })).toEqual(PASS);
      expect(check((v) => { link(v); v.secondary_vm_exec_control |= SECONDARY.SHADOW_VMCS; }, { link: { revision: VMCS12_REVISION, shadow: true } })).toEqual(PASS);
    });

    it('should treat every page as unreadable when no reader is given', () => {
      expect(check((v) => { v.vmcs_link_pointer = LINK_GPA; })).toEqual({ verdict: { ok: false, entry_failure_code: 4 }, failed: ['guest-vmcs-link-ptr-unreadable'] });
    });

    it('should reject a link pointer beyond MAXPHYADDR with qualification 4', () => {
      expect(check((v) => { v.vmcs_link_pointer = 1n << 46n; }, { link: null })).toEqual({ verdict: { ok: false, entry_failure_code: 4 }, failed: ['guest-vmcs-link-ptr-invalid-address'] });
    });

    it('should accept activity states HLT and WAIT_SIPI', () => {
      expect(check((v) => { v.guest_activity_state = GUEST_ACTIVITY.HLT; })).toEqual(PASS);
      expect(check((v) => { v.guest_activity_state = GUEST_ACTIVITY.WAIT_SIPI; })).toEqual(PASS);
      expect(check((v) => { v.guest_activity_state = 4; }).failed).toEqual(['guest-activity-state-invalid']);
    });

    it('should accept an SSP canonical at 49 bits (bits 63:48 identical) though not at 48', () => {
      expect(check((v) => { entry(VM_ENTRY.LOAD_CET_STATE)(v); v.guest_ssp = NONCANONICAL_48; })).toEqual(PASS);
    });
  });

  describe('HARDWARE_GUEST_STATE_RULES', () => {
    it('should have unique hw- ids, SDM §27.3.1.x references and exit-33 qualifications', () => {
      const ids = HARDWARE_GUEST_STATE_RULES.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const r of HARDWARE_GUEST_STATE_RULES) {
        expect(r.id).toMatch(/^hw-guest-[a-z0-9-]+$/);
        expect(r.sdm).toMatch(/^27\.3\.1\.[1-6]$/);
        expect([0, 2, 4]).toContain(r.qual);
        expect(VMX_GUEST_CHECK_IDS as readonly string[]).not.toContain(r.id);
      }
    });
  });

  describe('robustness', () => {
    const fieldArb = (width: 16 | 32 | 64 | 'natural'): fc.Arbitrary<bigint | number> =>
      width === 16 ? fc.integer({ min: 0, max: 0xffff })
        : width === 32 ? fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 4 }))
          : fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, LINK_GPA, 1n << 47n, 1n << 48n, 0xffffffffffffffffn));
    const overrides = fc.array(fc.integer({ min: 0, max: VMCS12_FIELDS.length - 1 }).chain((i) => fieldArb(VMCS12_FIELDS[i].width).map((x) => [i, x] as const)), { maxLength: 12 });
    const header = fc.option(fc.record({ revision: fc.oneof(fc.constant(VMCS12_REVISION), fc.integer({ min: 0, max: 0x7fffffff })), shadow: fc.boolean() }), { nil: null });

    it('should never throw, and fail with exactly one known id and the matching qualification, on arbitrary field values', () => {
      fc.assert(fc.property(overrides, fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 32, max: 52 }), header,
        (ov, la57, shstk, pending, quirk, maxphyaddr, hdr) => {
          const ctx = mkCtx({ cpuid: { la57, shstk }, nested_run_pending: pending, quirk_allow_freeze_in_smm: quirk });
          ctx.guest.maxphyaddr = maxphyaddr;
          const v = validVmcs12(caps);
          const rec = v as unknown as Record<string, bigint | number>;
          for (const [i, x] of ov) rec[VMCS12_FIELDS[i].name] = x;
          const r = nested_vmx_check_guest_state(ctx, v, () => hdr);
          const failed = ctx.t.failedChecks();
          if (r.ok) {
            expect(failed).toEqual([]);
          } else {
            expect(failed).toHaveLength(1);
            expect(r.entry_failure_code).toBe(VMX_GUEST_LINK_PTR_CHECK_IDS.includes(failed[0]) ? 4 : 0);
          }
          for (const id of ctx.t.checkIds) expect(VMX_GUEST_CHECK_IDS as readonly string[]).toContain(id);
        }), { numRuns: 300 });
    });
  });
});

// Directed tests of nested_vmx_check_address_space_size / nested_vmx_check_host_state (spec §2.5), in
// the style of kvm-unit-tests' vmx_tests.c test_vmx_vmlaunch(VMXERR_ENTRY_INVALID_HOST_STATE_FIELD):
// start from validVmcs12, change one thing, quote the rule, expect exactly that failing check id.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CR0, CR4, EFER } from '../../../src/arch/svm/defs.ts';
import { kvmNestedVmxMsrs } from '../../../src/arch/vmx/caps.ts';
import { VM_ENTRY, VM_EXIT } from '../../../src/arch/vmx/controls.ts';
import { VMCS12_FIELDS } from '../../../src/arch/vmx/fields.ts';
import { type Vmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { GuestCpuid } from '../../../src/engine/svm/scenario.ts';
import { defaultVmxGuestFacts, newVmxCheckCtx, vmxGuestCpuid, type VmxCheckCtx } from '../../../src/engine/vmx/ctx.ts';
import { nested_vmx_check_address_space_size, nested_vmx_check_host_state, VMX_HOST_CHECK_IDS } from '../../../src/engine/vmx/nested/checks_host.ts';
import { validVmcs12 } from '../../../src/engine/vmx/nested/vmcs12_base.ts';

const caps = kvmNestedVmxMsrs();
const NONCANONICAL_48 = 1n << 47n;

function mkCtx(cpuid: Partial<GuestCpuid> = {}): VmxCheckCtx {
  return newVmxCheckCtx({ p: getProfile('kvm-next')!, caps, guest: defaultVmxGuestFacts({ cpuid: vmxGuestCpuid(cpuid) }) });
}

/** A 32-bit L1 after the exit: host address-space size 0, no IA-32e guest, EFER.LME/LMA clear. */
function legacyHost(v: Vmcs12): void {
  v.vm_exit_controls &= ~VM_EXIT.HOST_ADDR_SPACE_SIZE;
  v.vm_entry_controls &= ~VM_ENTRY.IA32E_MODE;
  v.host_ia32_efer = 0n;
}

function withCet(v: Vmcs12): void {
  v.vm_exit_controls |= VM_EXIT.LOAD_CET_STATE;
}

function check(mutate: (v: Vmcs12) => void, cpuid: Partial<GuestCpuid> = {}): { ok: boolean; failed: string[] } {
  const ctx = mkCtx(cpuid);
  const v = validVmcs12(caps);
  mutate(v);
  const ok = nested_vmx_check_host_state(ctx, v);
  return { ok, failed: ctx.t.failedChecks() };
}

interface Case {
  id: (typeof VMX_HOST_CHECK_IDS)[number];
  rule: string;
  mutate: (v: Vmcs12) => void;
  cpuid?: Partial<GuestCpuid>;
}

const CASES: Case[] = [
  { id: 'host-cr0-fixed-bits', rule: 'CR0 must not set a bit to a value unsupported in VMX operation (NE cleared)', mutate: (v) => { v.host_cr0 &= ~CR0.NE; } },
  { id: 'host-cr4-fixed-bits', rule: 'CR4 must not set a bit to a value unsupported in VMX operation (VMXE cleared)', mutate: (v) => { v.host_cr4 &= ~CR4.VMXE; } },
  { id: 'host-cr4-reserved', rule: 'CR4 bits of features absent from guest CPUID are reserved (LA57 without LA57)', mutate: (v) => { v.host_cr4 |= CR4.LA57; } },
  { id: 'host-cr3-illegal', rule: 'CR3 bits beyond the physical-address width must be 0', mutate: (v) => { v.host_cr3 = 1n << 50n; } },
  { id: 'host-cet-without-wp', rule: 'CR4.CET = 1 requires CR0.WP = 1', mutate: (v) => { v.host_cr4 |= CR4.CET; v.host_cr0 &= ~CR0.WP; } },
  { id: 'host-sysenter-esp-noncanonical', rule: 'IA32_SYSENTER_ESP must be canonical', mutate: (v) => { v.host_ia32_sysenter_esp = NONCANONICAL_48; } },
  { id: 'host-sysenter-eip-noncanonical', rule: 'IA32_SYSENTER_EIP must be canonical', mutate: (v) => { v.host_ia32_sysenter_eip = NONCANONICAL_48; } },
  { id: 'host-pat-invalid', rule: 'load IA32_PAT ⇒ every PAT byte a valid memory type', mutate: (v) => { v.vm_exit_controls |= VM_EXIT.LOAD_IA32_PAT; v.host_ia32_pat = 0x0007040600070402n; } },
  { id: 'host-perf-global-ctrl-invalid', rule: 'load IA32_PERF_GLOBAL_CTRL ⇒ reserved bits 0 (bit 20 with 8 GP counters)', mutate: (v) => { v.vm_exit_controls |= VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL; v.host_ia32_perf_global_ctrl = 1n << 20n; } },
  { id: 'host-ia32e-without-pae', rule: 'host address-space size 1 ⇒ CR4.PAE = 1', mutate: (v) => { v.host_cr4 &= ~CR4.PAE; } },
  { id: 'host-legacy-ia32e-mode-guest', rule: 'host address-space size 0 ⇒ IA-32e mode guest entry control 0', mutate: (v) => { legacyHost(v); v.vm_entry_controls |= VM_ENTRY.IA32E_MODE; } },
  { id: 'host-legacy-cr4-pcide', rule: 'host address-space size 0 ⇒ CR4.PCIDE = 0', mutate: (v) => { legacyHost(v); v.host_cr4 |= CR4.PCIDE; } },
  { id: 'host-legacy-rip-upper-bits', rule: 'host address-space size 0 ⇒ RIP bits 63:32 are 0', mutate: (v) => { legacyHost(v); v.host_rip = 1n << 32n; } },
  { id: 'host-cs-selector-rpl-ti', rule: 'CS selector RPL and TI must be 0', mutate: (v) => { v.host_cs_selector |= 3; } },
  { id: 'host-ss-selector-rpl-ti', rule: 'SS selector RPL and TI must be 0', mutate: (v) => { v.host_ss_selector |= 4; } },
  { id: 'host-ds-selector-rpl-ti', rule: 'DS selector RPL and TI must be 0', mutate: (v) => { v.host_ds_selector |= 1; } },
  { id: 'host-es-selector-rpl-ti', rule: 'ES selector RPL and TI must be 0', mutate: (v) => { v.host_es_selector |= 2; } },
  { id: 'host-fs-selector-rpl-ti', rule: 'FS selector RPL and TI must be 0', mutate: (v) => { v.host_fs_selector |= 4; } },
  { id: 'host-gs-selector-rpl-ti', rule: 'GS selector RPL and TI must be 0', mutate: (v) => { v.host_gs_selector |= 3; } },
  { id: 'host-tr-selector-rpl-ti', rule: 'TR selector RPL and TI must be 0', mutate: (v) => { v.host_tr_selector |= 4; } },
  { id: 'host-cs-selector-zero', rule: 'the CS selector cannot be 0000H', mutate: (v) => { v.host_cs_selector = 0; } },
  { id: 'host-tr-selector-zero', rule: 'the TR selector cannot be 0000H', mutate: (v) => { v.host_tr_selector = 0; } },
  { id: 'host-ss-selector-zero', rule: 'the SS selector cannot be 0000H if host address-space size is 0', mutate: (v) => { legacyHost(v); v.host_ss_selector = 0; } },
  { id: 'host-fs-base-noncanonical', rule: 'FS base must be canonical', mutate: (v) => { v.host_fs_base = NONCANONICAL_48; } },
  { id: 'host-gs-base-noncanonical', rule: 'GS base must be canonical', mutate: (v) => { v.host_gs_base = NONCANONICAL_48; } },
  { id: 'host-gdtr-base-noncanonical', rule: 'GDTR base must be canonical', mutate: (v) => { v.host_gdtr_base = NONCANONICAL_48; } },
  { id: 'host-idtr-base-noncanonical', rule: 'IDTR base must be canonical', mutate: (v) => { v.host_idtr_base = NONCANONICAL_48; } },
  { id: 'host-tr-base-noncanonical', rule: 'TR base must be canonical', mutate: (v) => { v.host_tr_base = NONCANONICAL_48; } },
  { id: 'host-rip-noncanonical', rule: 'host address-space size 1 ⇒ RIP canonical (48 bits without CR4.LA57)', mutate: (v) => { v.host_rip = NONCANONICAL_48; } },
  { id: 'host-efer-invalid', rule: 'load IA32_EFER ⇒ reserved EFER bits 0 (SVME on an Intel guest)', mutate: (v) => { v.host_ia32_efer |= EFER.SVME; } },
  { id: 'host-efer-lma-mismatch', rule: 'load IA32_EFER ⇒ EFER.LMA equals host address-space size', mutate: (v) => { v.host_ia32_efer = EFER.LME; } },
  { id: 'host-efer-lme-mismatch', rule: 'load IA32_EFER ⇒ EFER.LME equals host address-space size', mutate: (v) => { v.host_ia32_efer = EFER.LMA; } },
  { id: 'host-s-cet-invalid', rule: 'load CET state ⇒ IA32_S_CET reserved bits 9:6 are 0', mutate: (v) => { withCet(v); v.host_s_cet = 1n << 6n; } },
  { id: 'host-ssp-misaligned', rule: 'load CET state ⇒ SSP bits 1:0 are 0', mutate: (v) => { withCet(v); v.host_ssp = 2n; } },
  { id: 'host-ssp-tbl-noncanonical', rule: 'load CET state ⇒ interrupt SSP table address canonical', mutate: (v) => { withCet(v); v.host_ssp_tbl = NONCANONICAL_48; } },
  { id: 'host-s-cet-noncanonical', rule: 'load CET state, address-space size 1 ⇒ IA32_S_CET canonical', mutate: (v) => { withCet(v); v.host_s_cet = NONCANONICAL_48; } },
  { id: 'host-ssp-noncanonical', rule: 'load CET state, address-space size 1 ⇒ SSP canonical', mutate: (v) => { withCet(v); v.host_ssp = NONCANONICAL_48; } },
  { id: 'host-s-cet-upper-bits', rule: 'load CET state, address-space size 0 ⇒ IA32_S_CET bits 63:32 are 0', mutate: (v) => { legacyHost(v); withCet(v); v.host_s_cet = 1n << 32n; } },
  { id: 'host-ssp-upper-bits', rule: 'load CET state, address-space size 0 ⇒ SSP bits 63:32 are 0', mutate: (v) => { legacyHost(v); withCet(v); v.host_ssp = 1n << 32n; } },
];

describe('checks_host', () => {
  describe('nested_vmx_check_host_state', () => {
    it('should pass the valid base vmcs12', () => {
      expect(check(() => {})).toEqual({ ok: true, failed: [] });
    });

    for (const c of CASES) {
      it(`should fail '${c.id}': ${c.rule}`, () => {
        expect(check(c.mutate, c.cpuid)).toEqual({ ok: false, failed: [c.id] });
      });
    }

    it('should have a directed test for every id', () => {
      const tested = new Set<string>(CASES.map((c) => c.id));
      tested.add('host-addr-space-size-lma-mismatch'); // nested_vmx_check_address_space_size, below
      expect([...tested].sort()).toEqual([...VMX_HOST_CHECK_IDS].sort());
    });

    it('should accept a 57-bit canonical RIP when host CR4.LA57 is set', () => {
      const rip = 0xff00000000001000n; // canonical at 57 bits, not at 48
      expect(check((v) => { v.host_cr4 |= CR4.LA57; v.host_rip = rip; }, { la57: true })).toEqual({ ok: true, failed: [] });
      expect(check((v) => { v.host_rip = rip; }, { la57: true })).toEqual({ ok: false, failed: ['host-rip-noncanonical'] });
    });

    it('should accept a 57-bit canonical base when the vCPU has LA57', () => {
      expect(check((v) => { v.host_fs_base = NONCANONICAL_48; }, { la57: true })).toEqual({ ok: true, failed: [] });
    });

    it('should accept SS selector 0 when host address-space size is 1', () => {
      expect(check((v) => { v.host_ss_selector = 0; })).toEqual({ ok: true, failed: [] });
    });

    it('should accept a 32-bit host (address-space size 0, no IA-32e guest)', () => {
      expect(check(legacyHost)).toEqual({ ok: true, failed: [] });
    });

    it('should accept valid CET state (shadow stack enabled, aligned SSP)', () => {
      expect(check((v) => { withCet(v); v.host_s_cet = 1n; v.host_ssp = 0x7000n; v.host_ssp_tbl = 0x8000n; })).toEqual({ ok: true, failed: [] });
    });

    it('should not check the PAT when load IA32_PAT is 0', () => {
      expect(check((v) => { v.host_ia32_pat = 0x02n; })).toEqual({ ok: true, failed: [] });
    });
  });

  describe('nested_vmx_check_address_space_size', () => {
    it("should fail 'host-addr-space-size-lma-mismatch': host address-space size must equal L1's EFER.LMA", () => {
      const ctx = mkCtx();
      expect(nested_vmx_check_address_space_size(ctx, validVmcs12(caps), EFER.LME)).toBe(false);
      expect(ctx.t.failedChecks()).toEqual(['host-addr-space-size-lma-mismatch']);
    });

    it('should pass when the control matches EFER.LMA', () => {
      const ctx = mkCtx();
      expect(nested_vmx_check_address_space_size(ctx, validVmcs12(caps), EFER.LME | EFER.LMA)).toBe(true);
      const v = validVmcs12(caps);
      legacyHost(v);
      expect(nested_vmx_check_address_space_size(ctx, v, 0n)).toBe(true);
      expect(ctx.t.failedChecks()).toEqual([]);
    });

    it('should not check on a 32-bit KVM (no HOST_ADDR_SPACE_SIZE offered)', () => {
      const ctx = { ...mkCtx(), caps: kvmNestedVmxMsrs({ x86_64: false }) };
      expect(nested_vmx_check_address_space_size(ctx, validVmcs12(caps), 0n)).toBe(true);
      expect(ctx.t.checkIds).toEqual([]);
    });
  });

  describe('robustness', () => {
    const fieldArb = (width: 16 | 32 | 64 | 'natural'): fc.Arbitrary<bigint | number> =>
      width === 16 ? fc.integer({ min: 0, max: 0xffff })
        : width === 32 ? fc.integer({ min: 0, max: 0xffffffff })
          : fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, 1n << 47n, 0xffff800000000000n, 1n << 32n));
    const overrides = fc.array(fc.integer({ min: 0, max: VMCS12_FIELDS.length - 1 }).chain((i) => fieldArb(VMCS12_FIELDS[i].width).map((x) => [i, x] as const)), { maxLength: 12 });

    it('should never throw, and fail with exactly one known id, on arbitrary field values', () => {
      fc.assert(fc.property(overrides, fc.boolean(), fc.boolean(), fc.integer({ min: 32, max: 52 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (ov, la57, shstk, maxphyaddr, l1Efer) => {
        const ctx = mkCtx({ la57, shstk });
        ctx.guest.maxphyaddr = maxphyaddr;
        const v = validVmcs12(caps);
        const rec = v as unknown as Record<string, bigint | number>;
        for (const [i, x] of ov) rec[VMCS12_FIELDS[i].name] = x;
        const a = nested_vmx_check_address_space_size(ctx, v, l1Efer);
        const ok = nested_vmx_check_host_state(ctx, v);
        const failed = ctx.t.failedChecks();
        expect(failed.length).toBe((a ? 0 : 1) + (ok ? 0 : 1));
        for (const id of ctx.t.checkIds) expect(VMX_HOST_CHECK_IDS).toContain(id);
      }), { numRuns: 300 });
    });
  });
});

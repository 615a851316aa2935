// The MMU page-fault path, branch by branch (spec vmx-mmu.md §5.2–5.5): every case starts from the
// arbitrary's base (a shared read of RAM through SVM's #NPF on a default VM) and changes a few choices.

import { describe, expect, it } from 'vitest';
import { buildPageFaultScenario, DEFAULT_PAGE_FAULT_CHOICE, type PageFaultChoice } from '../../../src/arbitraries/pageFault.ts';
import { runPageFault } from '../../../src/engine/mmu/page_fault/run.ts';
import { KVM_HVA_ERR_BAD, KVM_PFN_NOSLOT } from '../../../src/engine/mmu/page_fault/result.ts';
import { PFERR } from '../../../src/engine/mmu/types.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';

const kvm = getProfile('kvm-next') as Profile;
const run = (c: Partial<PageFaultChoice>, p: Profile = kvm) => runPageFault(buildPageFaultScenario({ ...DEFAULT_PAGE_FAULT_CHOICE, ...c }), p);
const bug = (name: string): Profile => getProfile(name) as Profile;

describe('MMU page-fault path', () => {
  it('maps a shared fault on RAM (the base)', () => {
    const r = run({});
    expect([r.ret, r.spte?.kind, r.spte?.gfn, r.exit]).toEqual(['RET_PF_FIXED', 'pfn', 0x10n, null]);
    expect(r.error_code_in).toBe(PFERR.GUEST_FINAL | PFERR.USER);
  });

  it('a gfn without a memslot gets an MMIO SPTE and is emulated; without MMIO caching or beyond max_gfn it is emulated with no SPTE', () => {
    const r = run({ target: 'noslot' });
    expect([r.ret, r.spte?.kind, r.mmio_cached?.gfn, r.fault?.pfn, r.fault?.hva]).toEqual(['RET_PF_EMULATE', 'mmio', 0x80000n, KVM_PFN_NOSLOT, KVM_HVA_ERR_BAD]);
    expect([run({ target: 'noslot', mmio_caching: false }).spte, run({ target: 'noslot', beyondMaxGfn: true }).spte]).toEqual([null, null]);
    // A reserved-bit fault on an existing MMIO SPTE goes straight to emulation through the MMIO cache.
    const hit = run({ target: 'noslot', rsvd: true, mmioSpte: true });
    expect([hit.ret, hit.fault]).toEqual(['RET_PF_EMULATE', null]);
  });

  it('private vs. shared mismatch: KVM_EXIT_MEMORY_FAULT with -EFAULT before any slot check', () => {
    // A shared access to a private gfn on a software-protected VM becomes private (PRIVATE_ACCESS added) and maps.
    const sw = run({ vm_type: 'sw-protected', target: 'gmem', gfnPrivate: true });
    expect([sw.ret, sw.fault?.is_private]).toEqual(['RET_PF_FIXED', true]);
    // SNP: a C-bit access to a shared gfn mismatches.
    const snp = run({ vm_type: 'snp', target: 'gmem', encrypted: true });
    expect([snp.errno, snp.exit]).toEqual([-14, { gpa: 0x1010000n, size: 0x1000n, flags: 8n }]);
    // A shared access to a private gfn without a slot exits in either order; on the APIC-access page
    // with APICv off the older order emulated it ("as is, KVM will exit to userspace if there is no
    // memslot, but emulate accesses to the APIC access page even if the attributes mismatch", 44f42ef37deb).
    const noslot = run({ vm_type: 'snp', target: 'noslot', gfnPrivate: true });
    expect([noslot.errno, noslot.exit?.flags, noslot.emulated]).toEqual([-14, 0n, false]);
    expect(run({ vm_type: 'snp', target: 'noslot', gfnPrivate: true }, bug('private-check-after-slot')).errno).toBe(-14);
    const apic = { vm_type: 'snp' as const, target: 'apic-access' as const, gfnPrivate: true, apicv_active: false };
    expect([run(apic).errno, run(apic).emulated]).toEqual([-14, false]);
    expect([run(apic, bug('private-check-after-slot')).exit, run(apic, bug('private-check-after-slot')).emulated]).toEqual([null, true]);
  });

  it('private faults: never emulated, never MMIO, never async', () => {
    const apic = { vm_type: 'sw-protected' as const, target: 'apic-access' as const, gfnPrivate: true, apicv_active: false };
    expect([run(apic).errno, run(apic).emulated, run(apic, bug('private-fault-emulated')).emulated]).toEqual([-14, false, true]);
    const mmio = { vm_type: 'snp' as const, target: 'noslot' as const, encrypted: true, gfnPrivate: true };
    expect([run(mmio).errno, run(mmio).mmio_cached, run(mmio, bug('private-mmio-allowed')).mmio_cached?.gfn]).toEqual([-14, null, 0x80000n]);
    const rsvd = { vm_type: 'snp' as const, target: 'noslot' as const, encrypted: true, gfnPrivate: true, rsvd: true, mmioSpte: true };
    const r = run(rsvd);
    expect([r.errno, r.mmio_cached, r.trace.warns()]).toEqual([-14, null, ['kvm_mmu_page_fault-private-rsvd']]);
    const swapped = { vm_type: 'sw-protected' as const, target: 'gmem' as const, gfnPrivate: true, swapped_out: true, async_pf: true };
    expect([run(swapped).async_pf, run(swapped, bug('mutant-async-pf-private')).async_pf?.gfn]).toEqual([null, 0x1010n]);
    // A shared fault on a non-resident page goes async; a second fault on the same gfn waits.
    expect(run({ swapped_out: true, async_pf: true }).async_pf?.gfn).toBe(0x10n);
    expect([run({ swapped_out: true, async_pf: true, asyncPending: true }).async_pf, run({ swapped_out: true, async_pf: true, asyncPending: true }).ret]).toEqual([null, 'RET_PF_RETRY']);
  });

  it('internal slots in guest mode: the APIC-access page takes the no-slot path, TSS and identity map are mapped', () => {
    expect(run({ target: 'apic-access', guest_mode: true }).spte?.kind).toBe('mmio');
    expect(run({ target: 'tss', guest_mode: true }).spte?.kind).toBe('pfn');
    expect(run({ target: 'tss', guest_mode: true }, bug('l2-internal-slots-emulated')).spte?.kind).toBe('mmio');
    // Outside guest mode, the APIC-access page with APICv inactive is emulated without an SPTE.
    expect([run({ target: 'apic-access', apicv_active: false }).ret, run({ target: 'apic-access', apicv_active: false }).spte]).toEqual(['RET_PF_EMULATE', null]);
  });

  it('entry points: legacy #PF upper bits dropped, hardware synthetic bits cleared, the full 64 bits kept', () => {
    const pf = run({ entry: 'pf-intercept', impossibleBits: 'upper' });
    expect([pf.error_code_in, pf.trace.warns()]).toEqual([PFERR.USER, ['kvm_handle_page_fault-upper-bits']]);
    expect(run({ entry: 'pf-intercept', impossibleBits: 'upper' }, bug('legacy-pf-upper-bits')).error_code_in! >> 32n).toBe(0xdead0000n);
    const npf = run({ impossibleBits: 'private' });
    expect([npf.error_code_handled, npf.fault?.is_private]).toEqual([PFERR.GUEST_FINAL | PFERR.USER, false]);
    expect(run({ impossibleBits: 'private' }, bug('synthetic-bits-from-hardware')).fault?.is_private).toBe(true);
    expect(run({}, bug('pf-error-code-u32')).error_code_in).toBe(PFERR.USER);
    // An EPT violation's code comes from the qualification: write, GVA translated -> W | GUEST_FINAL.
    expect(run({ entry: 'ept-violation', access: 'write' }).error_code_in).toBe(PFERR.WRITE | PFERR.GUEST_FINAL);
  });

  it('slot states: invalid slot and invalidation race retry; poison retries; an error page exits; a write to a read-only slot is emulated', () => {
    expect(run({ target: 'invalid-slot' }).ret).toBe('RET_PF_RETRY');
    expect(run({ invalidation_race: true }).ret).toBe('RET_PF_RETRY');
    expect(run({ backing: 'hwpoison' }).ret).toBe('RET_PF_RETRY');
    expect([run({ backing: 'error' }).errno, run({ backing: 'error' }).exit?.flags]).toEqual([-14, 0n]);
    expect([run({ target: 'readonly', access: 'write' }).ret, run({ target: 'readonly' }).spte?.writable]).toEqual(['RET_PF_EMULATE', false]);
  });

  it('pfn and hva start as error values; the guards\' mutants leave them 0 or map a noslot pfn outside the no-slot path', () => {
    const base = run({ target: 'invalid-slot' });
    expect(base.fault?.hva).toBe(KVM_HVA_ERR_BAD);
    expect(run({ target: 'invalid-slot' }, bug('mutant-stale-pfn-hva')).fault?.pfn).toBe(0n);
    const m = run({ target: 'apic-access', guest_mode: true }, bug('mutant-noslot-pfn-mapped'));
    expect([m.spte?.kind, m.mmio_cached]).toEqual(['mmio', null]);
  });
});

// Boundary mutations, one entry per rule they probe (APM 15.5.1 checks, KVM's gates and late
// failures, sanitising, races, SMM). `apply(s, k)` edits a valid scenario in place; `k` picks the
// variant and k = 0 is the simplest one, so shrinking k heads toward the plainest counterexample.

import { CR0, CR4, EFER, EVTINJ, INTERCEPT, INT_CTL, IOPM_SIZE, MISC_CTL, MISC_CTL2, MSRPM_SIZE, RFLAGS, SEG_ATTR, clrIntercept, setIntercept } from '../../../arch/svm/defs.ts';
import type { SvmScenario } from '../../../engine/svm/scenario.ts';

export interface SvmMutation {
  id: string;
  /** Check ids / behaviours this mutation is aimed at (for coverage reports). */
  targets: string[];
  apply: (s: SvmScenario, k: number) => void;
}

const pick = <T>(xs: readonly T[], k: number): T => xs[k % xs.length];
const hexBytesLE = (v: bigint): string => v.toString(16).padStart(16, '0').match(/../g)!.reverse().join('');
const mpa = (s: SvmScenario): bigint => BigInt(s.l1.maxphyaddr);
/** A bit at or above MAXPHYADDR (k = 0: exactly MAXPHYADDR). */
const highBit = (s: SvmScenario, k: number): bigint => 1n << (mpa(s) + BigInt(k % (64 - s.l1.maxphyaddr)));

export const SVM_MUTATIONS: readonly SvmMutation[] = [
  // ---- save-area consistency checks (nested_vmcb_check_save) ----
  { id: 'efer-svme-clear', targets: ['efer-svme-clear'], apply: (s) => { s.vmcb12.save.efer &= ~EFER.SVME; } },
  { id: 'cr0-nw-without-cd', targets: ['cr0-cd-clear-nw-set'], apply: (s, k) => { s.vmcb12.save.cr0 = (s.vmcb12.save.cr0 | CR0.NW) & ~CR0.CD; if (k % 2) s.vmcb12.save.cr0 |= 0n; } },
  { id: 'cr0-cd-nw', targets: ['cr0-cd-clear-nw-set'], apply: (s) => { s.vmcb12.save.cr0 |= CR0.NW | CR0.CD; } },
  { id: 'cr0-upper', targets: ['cr0-upper-bits-set'], apply: (s, k) => { s.vmcb12.save.cr0 |= 1n << BigInt(32 + (k % 32)); } },
  { id: 'dr6-upper', targets: ['dr6-upper-bits-set'], apply: (s, k) => { s.vmcb12.save.dr6 |= 1n << BigInt(32 + (k % 32)); } },
  { id: 'dr7-upper', targets: ['dr7-upper-bits-set'], apply: (s, k) => { s.vmcb12.save.dr7 |= 1n << BigInt(32 + (k % 32)); } },
  { id: 'long-mode-pae-clear', targets: ['long-mode-cr4-pae-clear'], apply: (s) => { s.vmcb12.save.efer |= EFER.LME; s.vmcb12.save.cr0 |= CR0.PG; s.vmcb12.save.cr4 &= ~CR4.PAE; } },
  { id: 'long-mode-pe-clear', targets: ['long-mode-cr0-pe-clear'], apply: (s) => { s.vmcb12.save.efer |= EFER.LME; s.vmcb12.save.cr0 = (s.vmcb12.save.cr0 | CR0.PG) & ~CR0.PE; } },
  { id: 'cr3-mbz', targets: ['long-mode-cr3-illegal', 'cr3-illegal'], apply: (s, k) => { s.vmcb12.save.cr3 |= highBit(s, k); } },
  { id: 'cs-l-and-d', targets: ['long-mode-cs-l-and-d'], apply: (s, k) => { s.vmcb12.save.cs.attrib |= SEG_ATTR.L | SEG_ATTR.DB; if (k % 2) s.vmcb12.save.efer &= ~(EFER.LME | EFER.LMA); } },
  {
    id: 'cr4-reserved', targets: ['cr4-reserved-bits'],
    apply: (s, k) => { s.vmcb12.save.cr4 |= pick([CR4.VMXE, CR4.SMXE, CR4.PKE, CR4.LA57, CR4.CET, CR4.PKS, CR4.LAM_SUP, 1n << 15n, 1n << 19n, 1n << 32n, 1n << 63n], k); },
  },
  {
    id: 'efer-reserved', targets: ['efer-reserved-bits'],
    apply: (s, k) => { s.vmcb12.save.efer |= pick([1n << 1n, EFER.LMSLE, EFER.TCE, 1n << 9n, 1n << 16n, 1n << 32n, 1n << 63n, EFER.AUTOIBRS], k); },
  },
  {
    id: 'efer-feature-gated', targets: ['efer-reserved-bits'],
    apply: (s, k) => {
      const v = k % 3;
      if (v === 0) { s.l1.guest.ffxsr = false; s.vmcb12.save.efer |= EFER.FFXSR; }
      else if (v === 1) { s.l1.guest.nx = false; }
      else { s.l1.guest.lm = false; }
    },
  },
  { id: 'gpat-invalid', targets: ['gpat-invalid'], apply: (s, k) => { const byte = BigInt(k % 8) * 8n; s.vmcb12.save.g_pat = (s.vmcb12.save.g_pat & ~(0xffn << byte)) | (pick([2n, 3n, 8n, 0xffn], k >> 3) << byte); } },
  { id: 'shared-pat-quirk', targets: ['gpat-invalid'], apply: (s) => { s.l1.quirks.nested_svm_shared_pat = true; } },
  // ---- control-area consistency checks (nested_vmcb_check_controls) ----
  { id: 'vmrun-intercept-clear', targets: ['vmrun-intercept-clear'], apply: (s) => { clrIntercept(s.vmcb12.control.intercepts, INTERCEPT.VMRUN); } },
  { id: 'asid-zero', targets: ['asid-zero'], apply: (s) => { s.vmcb12.control.asid = 0; } },
  { id: 'asid-large', targets: ['asid-zero'], apply: (s, k) => { s.vmcb12.control.asid = pick([0xffffffff, 0x8000, 2], k); } },
  { id: 'np-without-host-npt', targets: ['np-enable-without-host-npt'], apply: (s) => { s.l1.host.npt = false; s.l1.guest.npt = false; s.vmcb12.control.misc_ctl |= MISC_CTL.NP_ENABLE; } },
  { id: 'np-without-guest-npt', targets: ['np-enable-without-host-npt'], apply: (s) => { s.l1.guest.npt = false; s.vmcb12.control.misc_ctl |= MISC_CTL.NP_ENABLE; } },
  { id: 'ncr3-mbz', targets: ['ncr3-illegal'], apply: (s, k) => { s.vmcb12.control.misc_ctl |= MISC_CTL.NP_ENABLE; s.vmcb12.control.nested_cr3 |= highBit(s, k); } },
  { id: 'ncr3-low-bits', targets: ['ncr3-illegal'], apply: (s, k) => { s.vmcb12.control.nested_cr3 |= BigInt((k % 0xfff) + 1); } },
  {
    id: 'msrpm-at-limit', targets: ['msrpm-beyond-maxphyaddr'],
    // k = 0: the last page crosses MAXPHYADDR; k = 1: exactly fits (valid boundary); k = 2: base itself illegal.
    apply: (s, k) => { const top = 1n << mpa(s); s.vmcb12.control.msrpm_base_pa = pick([top - 4096n, top - BigInt(MSRPM_SIZE), top, top - 4096n + 0xabcn], k); },
  },
  {
    id: 'iopm-at-limit', targets: ['iopm-beyond-maxphyaddr'],
    apply: (s, k) => { const top = 1n << mpa(s); s.vmcb12.control.iopm_base_pa = pick([top - 8192n, top - BigInt(IOPM_SIZE), top - 4096n, top], k); },
  },
  { id: 'bitmap-low-bits', targets: ['msrpm-beyond-maxphyaddr', 'iopm-beyond-maxphyaddr'], apply: (s, k) => { s.vmcb12.control.msrpm_base_pa |= BigInt((k % 0xfff) + 1); s.vmcb12.control.iopm_base_pa |= 0xfffn; } },
  { id: 'tlb-ctl', targets: ['tlb-ctl-reserved'], apply: (s, k) => { s.vmcb12.control.tlb_ctl = pick([3, 7, 2, 1, 4, 0xff, 0x80], k); } },
  { id: 'vnmi-without-nmi-intercept', targets: ['vnmi-without-nmi-intercept'], apply: (s, k) => { s.vmcb12.control.int_ctl |= INT_CTL.V_NMI_ENABLE; if (k % 2) setIntercept(s.vmcb12.control.intercepts, INTERCEPT.NMI); } },
  {
    id: 'event-inj', targets: ['event-inj-type-invalid', 'event-inj-exception-vector-invalid'],
    apply: (s, k) => {
      const type = pick([3, 1, 5, 6, 7, 0, 2, 4], k);
      const vec = pick([2, 14, 9, 15, 20, 21, 22, 29, 31, 255, 8, 3], k >> 3);
      s.vmcb12.control.event_inj = (EVTINJ.VALID | (type << 8) | vec | ((k >> 7) & 1 ? EVTINJ.VALID_ERR : 0)) >>> 0;
    },
  },
  { id: 'event-inj-reserved-bits', targets: ['event-inj-sanitized'], apply: (s, k) => { s.vmcb12.control.event_inj = (EVTINJ.VALID | (3 << 8) | 13 | EVTINJ.VALID_ERR | (1 << (12 + (k % 19)))) >>> 0; } },
  { id: 'event-inj-soft-or-nmi', targets: ['nmi_l1_to_l2', 'soft_int_injected'], apply: (s, k) => { s.vmcb12.control.event_inj = pick([EVTINJ.VALID | EVTINJ.TYPE_NMI | 2, EVTINJ.VALID | EVTINJ.TYPE_SOFT | 0x80, EVTINJ.VALID | EVTINJ.TYPE_EXEPT | 3], k) >>> 0; } },
  // ---- fields KVM must sanitise (vmcb02 construction) ----
  { id: 'int-ctl-l0-bits', targets: ['int_ctl-sanitized'], apply: (s, k) => { s.vmcb12.control.int_ctl = (s.vmcb12.control.int_ctl | pick([INT_CTL.AVIC_ENABLE, INT_CTL.X2APIC_MODE, 1 << 10, 1 << 13, 1 << 21, 1 << 27], k)) >>> 0; } },
  { id: 'int-ctl-no-intr-masking', targets: ['int_ctl-sanitized'], apply: (s) => { s.vmcb12.control.int_ctl &= ~INT_CTL.V_INTR_MASKING; } },
  { id: 'int-ctl-vgif', targets: ['gif-semantics'], apply: (s, k) => { s.vmcb12.control.int_ctl = (s.vmcb12.control.int_ctl | INT_CTL.V_GIF_ENABLE | (k % 2 ? INT_CTL.V_GIF : 0)) >>> 0; } },
  { id: 'int-vector-state-high', targets: ['int_vector-sanitized'], apply: (s, k) => { s.vmcb12.control.int_vector = 0x100 << (k % 8); s.vmcb12.control.int_state = 0x2 << (k % 4); } },
  { id: 'vls-requested', targets: ['vls-intercept'], apply: (s, k) => { s.vmcb12.control.misc_ctl2 |= MISC_CTL2.V_VMLOAD_VMSAVE; if (k % 2) { s.vmcb12.control.misc_ctl &= ~MISC_CTL.NP_ENABLE; } } },
  { id: 'np-off', targets: ['vls-intercept'], apply: (s) => { s.vmcb12.control.misc_ctl &= ~MISC_CTL.NP_ENABLE; } },
  { id: 'intercepts-extra', targets: ['intercepts-merged'], apply: (s, k) => { setIntercept(s.vmcb12.control.intercepts, pick([INTERCEPT.INTR, INTERCEPT.CPUID, INTERCEPT.EXCEPTION_OFFSET + 14, INTERCEPT.CLGI, INTERCEPT.STGI, INTERCEPT.EXCEPTION_OFFSET + 6, INTERCEPT.EXCEPTION_OFFSET + 3, INTERCEPT.SMI, INTERCEPT.XSETBV, INTERCEPT.SKINIT], k)); } },
  {
    // An event injected by L0 but not yet delivered when a #VMEXIT is synthesized: exit_int_info
    // must carry it and vmcb12.cr2 must be L2's CR2 as L0 already updated it (d218a0e8a63c).
    id: 'l2-pf-then-intr', targets: ['exit_int_info', 'vmcb12.cr2'],
    apply: (s, k) => { setIntercept(s.vmcb12.control.intercepts, INTERCEPT.INTR); s.l2 = k % 2 ? [{ op: 'emulated-pf' }, { op: 'nop' }, { op: 'intr' }] : [{ op: 'emulated-pf' }, { op: 'intr' }]; },
  },
  {
    // vmcb12 cannot be mapped at the next #VMEXIT: kvm-next requests a triple fault and still
    // completes the exit; older trees injected #GP and returned half-way, still in guest mode.
    id: 'vmcb12-slot-deleted', targets: ['vmexit-map-failure'],
    apply: (s, k) => {
      const slotEnd = pick([0x200000n, 0x400000n], k);
      s.l1.memslots = [{ base: 0n, size: slotEnd }, { base: slotEnd, size: 0x100000000n - slotEnd }];
      s.l2 = [{ op: 'userspace-delete-vmcb12-memslot' }, { op: 'vmmcall' }];
    },
  },
  { id: 'intercepts-drop', targets: ['intercepts-merged'], apply: (s, k) => { clrIntercept(s.vmcb12.control.intercepts, pick([INTERCEPT.VMMCALL, INTERCEPT.HLT], k)); } },
  // ---- VMRUN gates (nested_svm_check_permissions, nested_svm_vmrun) ----
  { id: 'l1-svme-clear', targets: ['vmrun-efer-svme-clear'], apply: (s) => { s.l1.efer &= ~EFER.SVME; } },
  {
    // VMRUN #UDs without paging; SET_NESTED_STATE rejects such an L1 host state (-EINVAL).
    id: 'l1-paging-off', targets: ['vmrun-cr0-pg-clear', 'nested-state-l1-cr0-pg-clear', 'nested-state-l1-cr0-pe-clear', 'nested-state-l1-rflags-vm', 'np-enable-hcr0-pg-clear'],
    // PE clear with PG set, or RFLAGS.VM at CPL 0, cannot be L1's live state (kvm_set_cr0 and
    // KVM_SET_SREGS refuse it), only a host save area userspace hands to SET_NESTED_STATE.
    apply: (s, k) => {
      const v = s.entry === 'set_nested_state' ? k % 3 : 0;
      if (v === 0) s.l1.cr0 &= ~CR0.PG;
      else if (v === 1) s.l1.cr0 &= ~CR0.PE;
      else s.l1.rflags |= RFLAGS.VM;
    },
  },
  { id: 'l1-cpl', targets: ['vmrun-cpl-nonzero'], apply: (s, k) => { s.l1.cpl = pick([3, 1, 2], k); } },
  { id: 'l1-hsave-unset', targets: ['vmrun-hsave-unset'], apply: (s) => { s.l1.vm_hsave_pa = 0n; } },
  { id: 'l1-in-smm', targets: ['vmrun-in-smm'], apply: (s) => { s.l1.smm = true; } },
  { id: 'rax-misaligned', targets: ['vmrun-vmcb12-gpa-invalid'], apply: (s, k) => { s.l1.rax |= BigInt(pick([8, 1, 0x800, 0xfff], k)); } },
  { id: 'rax-beyond-maxphyaddr', targets: ['vmrun-vmcb12-gpa-invalid'], apply: (s, k) => { s.l1.rax |= highBit(s, k); } },
  { id: 'rax-unbacked', targets: ['vmrun-vmcb12-unmappable'], apply: (s, k) => { s.l1.rax = pick([0x100000000n, 0x1234567000n], k); } },
  { id: 'l1-tf', targets: ['vmrun-tf-db'], apply: (s) => { s.l1.rflags |= RFLAGS.TF; } },
  // ---- late failures (nested_svm_load_cr3, load_pdptrs, nested_svm_merge_msrpm) ----
  {
    id: 'l2-pae-bad-pdpte', targets: ['pdpte-reserved-bits'],
    apply: (s, k) => {
      const v = s.vmcb12;
      v.save.efer &= ~(EFER.LME | EFER.LMA);
      v.save.cs.attrib = 0xc9b;
      v.control.misc_ctl &= ~MISC_CTL.NP_ENABLE;
      v.save.cr3 = 0x400000n;
      const bad = pick([1n << 5n, 1n << 1n, 1n << 8n, 1n << 63n, 1n << BigInt(s.l1.maxphyaddr)], k) | 0x410000n | 1n;
      s.l1.memory[`0x${(0x400000 + 8 * ((k >> 3) % 4)).toString(16)}`] = hexBytesLE(bad);
    },
  },
  {
    id: 'l2-pdpt-unbacked', targets: ['pdpt-unreadable'],
    apply: (s) => { const v = s.vmcb12; v.save.efer &= ~(EFER.LME | EFER.LMA); v.save.cs.attrib = 0xc9b; v.control.misc_ctl &= ~MISC_CTL.NP_ENABLE; v.save.cr3 = 0xfffff000n; s.l1.memslots = [{ base: 0n, size: 0xfff00000n }]; },
  },
  { id: 'l2-cr3-mbz-32bit', targets: ['cr3-illegal'], apply: (s, k) => { const v = s.vmcb12; v.save.efer &= ~(EFER.LME | EFER.LMA); v.save.cs.attrib = 0xc9b; v.save.cr4 &= ~CR4.PAE; v.save.cr3 |= highBit(s, k); } },
  { id: 'msrpm-unbacked', targets: ['msrpm-unreadable'], apply: (s, k) => { setIntercept(s.vmcb12.control.intercepts, INTERCEPT.MSR_PROT); s.vmcb12.control.msrpm_base_pa = pick([0x100000000n, 0xfffff000n], k); if (k % 2) s.l1.memslots = [{ base: 0n, size: 0xfffff000n }]; } },
  { id: 'msr-prot', targets: ['msrpm-merge'], apply: (s) => { setIntercept(s.vmcb12.control.intercepts, INTERCEPT.MSR_PROT); } },
  { id: 'l1-pae-stale-pdpte', targets: ['host-cr3-reload'], apply: (s, k) => { if (s.l1.cr3 === 0x180000n) s.l1.memory['0x180000'] = hexBytesLE(pick([1n << 5n, 1n << 63n], k) | 0x190000n | 1n); } },
  // ---- another L1 vCPU writes vmcb12 between check and use (CVE-2021-29657 class) ----
  {
    id: 'race', targets: ['checked-is-run'],
    apply: (s, k) => {
      const v = k % 6;
      if (v === 0) s.race = { path: 'control.intercepts[4]', value: s.vmcb12.control.intercepts[4] & ~1 };
      else if (v === 1) s.race = { path: 'save.efer', value: s.vmcb12.save.efer & ~EFER.SVME };
      else if (v === 2) s.race = { path: 'control.asid', value: 0 };
      else if (v === 3) s.race = { path: 'save.cs.attrib', value: s.vmcb12.save.cs.attrib | SEG_ATTR.DB };
      else if (v === 4) s.race = { path: 'save.cr0', value: (s.vmcb12.save.cr0 | CR0.NW) & ~CR0.CD };
      else s.race = { path: 'control.int_ctl', value: s.vmcb12.control.int_ctl | INT_CTL.AVIC_ENABLE };
    },
  },
  // ---- SMM and migration ----
  { id: 'smm-migrate', targets: ['rsm-restores-nested-ctl'], apply: (s) => { if (s.smm) s.smm.migrate = true; } },
  { id: 'smm-no-lm', targets: ['svm_enter_smm'], apply: (s) => { if (s.entry === 'rsm') s.l1.guest.lm = false; } },
  // ---- KVM_SET_NESTED_STATE ----
  { id: 'nested-state-flags', targets: ['nested-state-flags'], apply: (s, k) => { if (s.nested_state) s.nested_state.flags = pick([0x101, 0x1, 0x100, 0x0, 0x103, 0x4], k); } },
  { id: 'nested-state-gpat', targets: ['nested-state-gpat-invalid'], apply: (s, k) => { if (s.nested_state) s.nested_state.gpat = pick([0x0202020202020202n, 0x0007040600070403n], k); } },
  { id: 'l1-avic-off', targets: ['avic-inhibit'], apply: (s) => { s.l1.host.avic = false; } },
];

export const SVM_MUTATION_IDS: readonly string[] = SVM_MUTATIONS.map((m) => m.id);
const BY_ID = new Map(SVM_MUTATIONS.map((m) => [m.id, m]));

export function getSvmMutation(id: string): SvmMutation | undefined {
  return BY_ID.get(id);
}

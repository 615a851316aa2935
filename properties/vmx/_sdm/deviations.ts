// KVM's documented departures from the SDM's VMLAUNCH/VMRESUME rules, as data: what the SDM says,
// what KVM does, why, and where it is written down. Not applied by the model (sdmVmlaunch is the SDM
// alone, plus the rows marked `deviation` where the SDM leaves a case undefined); a checker consults
// these rows to tell a listed difference from a bug. Sources are spec sections (vmx-mmu.md).

import { GUEST_RULES, MSR_LOAD_RULES } from './rules.ts';
import type { VmxScenario } from './types.ts';
import { sdmViolations } from './vmlaunch_sdm_model.ts';

export interface Deviation {
  id: string;
  /** The model rule id(s) concerned (or the scenario area, for rows that are not one rule). */
  rule: string;
  /** SDM section and what it says. */
  sdm: string;
  /** What KVM does. */
  kvm: string;
  /** Why, or why it does not matter. */
  reason: string;
  /** Where KVM's behaviour is documented (spec section / KVM function). */
  source: string;
  /**
   * 'deviation': KVM's verdict can differ from the SDM's; 'undefined': the SDM leaves the case
   * undefined and the model takes KVM's choice; 'note': no verdict difference (recorded to explain it).
   */
  kind: 'deviation' | 'undefined' | 'note';
}

export const SDM_DEVIATIONS: readonly Deviation[] = [
  {
    id: 'wrmsr-debugctl-freeze-in-smm', rule: 'msr-load-wrmsr-gp (IA32_DEBUGCTL)', kind: 'deviation',
    sdm: '§27.4 / WRMSR: an MSR-load entry may set any DEBUGCTL bit the processor implements, FREEZE_WHILE_SMM (bit 14) included',
    kvm: 'WRMSR(IA32_DEBUGCTL) with bit 14 fails (KVM keeps the host\'s FREEZE_IN_SMM while the guest runs), so such an entry is exit 34; only vmcs12\'s guest DEBUGCTL field has a quirk allowing it',
    reason: 'the bit is the host\'s to own while a guest runs (6b1dd26544d0); the quirk exists for backwards compatibility of the vmcs12 check only',
    source: 'vmx.c vmx_is_valid_debugctl; 0f70db0758be KVM_X86_QUIRK_VMCS12_FREEZE_IN_SMM_CC ("consistency with the constraints on WRMSR(IA32_DEBUGCTL)")',
  },
  {
    id: 'unbackable-apic-pages', rule: 'kvm: get-vmcs12-pages-apic-access-unmappable, hw-ctl-virtual-apic-page', kind: 'deviation',
    sdm: '§27.2.1.1: the APIC-access and virtual-APIC addresses need only be 4K-aligned and within MAXPHYADDR; whether memory backs them is not a VM-entry check',
    kvm: 'an APIC-access page L1 cannot back is KVM_EXIT_INTERNAL_ERROR to userspace; a virtual-APIC page L1 cannot back (without CR8 load+store exiting) becomes INVALID_GPA in vmcs02, so the CPU fails the entry: a late VMfailValid(7)',
    reason: 'KVM must map both pages into vmcs02 by host physical address; there is nothing to map',
    source: 'nested.c nested_get_vmcs12_pages; spec vmx-mmu.md §2.3',
  },
  {
    id: 'cr3-target-count-zero', rule: 'ctl-cr3-target-count', kind: 'note',
    sdm: '§27.2.1.1: CR3-target count ≤ IA32_VMX_MISC[24:16]',
    kvm: 'any non-zero CR3-target count fails with VMfailValid(7)',
    reason: 'KVM advertises MISC[24:16] = 0, so the SDM rule itself demands a count of 0 (no deviation)',
    source: 'spec §1.5 (MISC), §2.4 item 3; nested.c nested_check_vm_execution_controls',
  },
  {
    id: 'vtpr-threshold-unchecked', rule: 'ctl-tpr-threshold-vs-vtpr', kind: 'deviation',
    sdm: '§27.2.1.1: TPR shadow, no VID, no virtualize-APIC-accesses ⇒ TPR threshold[3:0] ≤ VTPR[7:4]',
    kvm: 'not checked in software (only with the warn_on_missed_cc debug knob); left to the hardware entry of vmcs02, whose outcome depends on what KVM maps as the virtual-APIC page',
    reason: 'the check reads guest memory; KVM relies on the CPU to perform it',
    source: 'spec §2.4 item 6; nested.c nested_vmx_check_tpr_shadow_controls',
  },
  {
    id: 'msr-count-above-max', rule: 'ctl-exit-msr-store-count-above-max, ctl-exit-msr-load-count-above-max, ctl-entry-msr-load-count-above-max', kind: 'undefined',
    sdm: 'App. A.6: 512 · (MISC[27:25] + 1) is the recommended maximum; exceeding it "may cause undefined behaviour" (§27.4, §28.4)',
    kvm: 'VMfailValid(7) before any MSR is loaded (nested_vmx_check_msr_switch)',
    reason: 'architecturally undefined; the model takes KVM\'s documented choice',
    source: 'spec §2.4 (nested_check_vm_exit_controls / entry controls), §6 #22',
  },
  {
    id: 'entry-order-msr-load-before-hw-guest-checks', rule: 'guest-* (hardware-checked) vs msr-load-*', kind: 'deviation',
    sdm: '§27.3 before §27.4: guest-state checks (exit 33) precede MSR loading (exit 34)',
    kvm: 'KVM performs its software guest-state checks, then loads the entry MSR-load list, then lets the CPU enter vmcs02; a state that fails both an MSR-load entry and a guest-state rule KVM leaves to hardware gives exit 34 in KVM, exit 33 per the SDM',
    reason: 'KVM cannot ask the CPU to check the guest state before it has emulated the MSR loads',
    source: 'spec §2.3 (nested_vmx_enter_non_root_mode order), §2.6 last paragraph',
  },
  {
    id: 'hw-exit-33-after-msr-load', rule: 'guest-* (hardware-checked)', kind: 'note',
    sdm: '§27.3/§27.4: a guest-state failure happens before any MSR of the entry list is loaded',
    kvm: 'a hardware-detected exit 33 (vmcs02 rejected by the CPU) comes after L1\'s entry MSR-load list was applied, so the loaded MSR values stay in effect',
    reason: 'same verdict (exit 33), different side effects: a state comparison after the exit may see the loaded MSRs',
    source: 'spec §2.3, §2.6',
  },
  {
    id: 'link-ptr-current-vmxon-unchecked', rule: 'guest-link-ptr-current, guest-link-ptr-vmxon', kind: 'deviation',
    sdm: '§27.3.1.5: the VMCS link pointer must not be the current-VMCS pointer (nor, per Bochs, the VMXON pointer)',
    kvm: 'not checked: KVM verifies only address, readability, revision and the shadow bit of the link pointer\'s header',
    reason: 'KVM never uses vmcs12\'s link pointer as a real VMCS for the current VMCS page',
    source: 'spec §2.6 item 5, §2.8 (Bochs list)',
  },
  {
    id: 'guest-qual-order', rule: 'guest-* (qualification 0 vs 2 vs 4)', kind: 'deviation',
    sdm: '§27.3.1: the model evaluates guest-state rules in section order (registers/MSRs §27.3.1.1 … link pointer §27.3.1.5, PDPTEs §27.3.1.6)',
    kvm: 'KVM runs its own checks in its order (CR0/CR4, CET, debug, PAT, link pointer (4), PERF_GLOBAL_CTRL, PG/PE, IA-32e, EFER, BNDCFGS, CET state, activity), then CR3/PDPTEs without EPT (2), and leaves the rest to the CPU; with two failing rules of different qualifications, KVM can report 4 where the SDM order gives 0, or 2 where it gives 4',
    reason: 'the SDM does not define an order among guest-state checks; the verdict (exit 33) is the same',
    source: 'spec §2.3 (prepare_vmcs02), §2.6 (NEW order)',
  },
  {
    id: 'guest-debugctl-freeze-in-smm', rule: 'guest-debugctl-reserved', kind: 'deviation',
    sdm: '§27.3.1.1: load debug controls ⇒ IA32_DEBUGCTL reserved bits 0 (FREEZE_WHILE_SMM, bit 14, is implemented by this virtual CPU: WRMSR accepts it)',
    kvm: 'rejects bit 14 in guest DEBUGCTL unless KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM',
    reason: 'KVM does not virtualise freezing in SMM for L2',
    source: 'spec §2.6 item 3',
  },
  {
    id: 'mode-ud-from-hardware', rule: 'ud-real-mode, ud-virtual-8086, ud-compatibility-mode', kind: 'note',
    sdm: '§31.3: #UD in real, virtual-8086 and compatibility mode',
    kvm: 'KVM itself only raises #UD without VMX operation; the mode #UDs are raised by the CPU before any exit to KVM',
    reason: 'same verdict',
    source: 'spec §2.2 step 1',
  },
  {
    id: 'smm-ud', rule: 'ud-smm', kind: 'note',
    sdm: '§32.14 (SMM and VMX): in SMM without dual-monitor treatment the processor leaves VMX operation',
    kvm: 'KVM leaves VMX operation on SMM entry (nested.smm.vmxon), so VMLAUNCH in SMM sees !vmxon ⇒ #UD',
    reason: 'modelled as #UD',
    source: 'brief; KVM vmx_enter_smm',
  },
  {
    id: 'tsc-multiplier-zero', rule: 'ctl-tsc-multiplier-nonzero', kind: 'note',
    sdm: '§27.2.1.1 lists no TSC-multiplier rule that this model could confirm; the row is kept as KVM states it',
    kvm: 'TSC scaling with multiplier 0 ⇒ VMfailValid(7)',
    reason: 'uncertain SDM basis; kept so the oracle does not disagree on a rule KVM documents',
    source: 'spec §2.4 item 17',
  },
  {
    id: 'x2apic-msr-only-in-x2apic-mode', rule: 'msr-load-x2apic', kind: 'note',
    sdm: '§27.4: any index with bits 31:8 = 000008H fails',
    kvm: 'KVM refuses x2APIC indices only while L1 is in x2APIC mode; otherwise the WRMSR emulation rejects the index (not an MSR it implements in xAPIC mode)',
    reason: 'same verdict and qualification; the failing rule id differs',
    source: 'spec §2.7 (MSR load/store lists)',
  },
  {
    id: 'set-nested-state', rule: 'path set-nested-state', kind: 'deviation',
    sdm: 'n/a (KVM_SET_NESTED_STATE is not an instruction): this model describes VMLAUNCH/VMRESUME only',
    kvm: 'SET_NESTED_STATE runs the control/host/guest checks but not the MOV-SS, launch-state, address-space-size or MSR-load-list checks; guest EFER is checked only with KVM_STATE_NESTED_RUN_PENDING',
    reason: 'restoring a saved nested state is not an entry by L1',
    source: 'spec §2.2, §2.3 (from_vmentry = false), §2.6 item 9',
  },
];

/** Guest-state rules of the model that KVM does not check in software (the CPU checks them on vmcs02). */
/**
 * The guest-state rules of the model KVM checks itself, before loading the MSR list (spec §2.6 items
 * 1–12; §2.3 prepare_vmcs02: CR3, and the PDPTEs it loads from memory without EPT). With EPT the
 * PDPTE fields are the CPU's check ('guest-pdpte-reserved-ept').
 */
export const KVM_SOFTWARE_GUEST_RULES: ReadonlySet<string> = new Set([
  'guest-cr0-fixed', 'guest-cr0-pg-without-pe', 'guest-cr4-fixed', 'guest-cet-needs-wp', 'guest-debugctl-reserved',
  'guest-dr7-high', 'guest-ia32e-pg-pae', 'guest-cr3-width', 'guest-perf-global-ctrl', 'guest-pat', 'guest-efer-reserved',
  'guest-efer-lma', 'guest-efer-lme', 'guest-bndcfgs', 'guest-cet-state', 'guest-activity-supported',
  'guest-link-ptr-address', 'guest-link-ptr-memory', 'guest-link-ptr-revision', 'guest-link-ptr-shadow',
  'guest-pdpte-reserved-memory',
]);

/** Guest-state rules of the model that KVM does not check in software (the CPU checks them on vmcs02). */
export const HARDWARE_CHECKED_GUEST_RULES: ReadonlySet<string> = new Set(
  GUEST_RULES.map((r) => r.id).filter((id) => !KVM_SOFTWARE_GUEST_RULES.has(id)),
);

const MSR_LOAD_IDS: ReadonlySet<string> = new Set(MSR_LOAD_RULES.map((r) => r.id));
const isMsrLoadRule = (id: string): boolean => MSR_LOAD_IDS.has(id) || /msr-load/i.test(id);

/**
 * The listed order difference, when the SDM model's first failing rule is a guest-state rule KVM leaves
 * to hardware (SDM: exit 33) and KVM's is an entry MSR-load failure (exit 34); otherwise undefined.
 * `kvmRule` may be a model id ('msr-load-…') or the engine's ('entry-msr-load…').
 */
export function listedOrderDifference(sdmRule: string, kvmRule: string): Deviation | undefined {
  if (!HARDWARE_CHECKED_GUEST_RULES.has(sdmRule) || !isMsrLoadRule(kvmRule)) return undefined;
  return SDM_DEVIATIONS.find((d) => d.id === 'entry-order-msr-load-before-hw-guest-checks');
}

/**
 * The listed qualification-order difference: KVM's exit 33 carries `kvmQual`, the SDM model's first
 * failing rule another qualification, and the scenario does violate some guest-state rule whose
 * qualification is `kvmQual` (so only the order of two real failures differs). Otherwise undefined.
 */
export function listedGuestQualDifference(s: VmxScenario, opts: { launch: boolean }, kvmQual: bigint): Deviation | undefined {
  const v = sdmViolations(s, opts);
  const first = v[0];
  if (first === undefined || first.stage !== 'guest' || first.outcome.kind !== 'exit' || first.outcome.qual === kvmQual) return undefined;
  const other = v.some((r) => r.stage === 'guest' && r.outcome.kind === 'exit' && r.outcome.qual === kvmQual);
  return other ? SDM_DEVIATIONS.find((d) => d.id === 'guest-qual-order') : undefined;
}

/** The deviation rows that name this model rule id (in their `rule` list), e.g. 'ctl-tpr-threshold-vs-vtpr'. */
export function deviationsForRule(ruleId: string): Deviation[] {
  return SDM_DEVIATIONS.filter((d) => d.rule.split(/,\s*/).includes(ruleId));
}

// Known, listed deviations: where KVM knowingly differs from the APM, where a WARN is knowingly
// reachable, and the expected L1-visible differences between two kernel profiles. Each entry has
// its reason and source. Invariants consult these lists; `fuzz --strict-arch` reports them too.

export interface KnownDeviation {
  id: string;
  reason: string;
  source: string;
}

/** Allowed departures from the vmrun-failure-clean write set. */
export const FAILURE_CLEAN_DEVIATIONS: Record<string, KnownDeviation> = {
  'early-failure-no-db-on-tf': {
    id: 'early-failure-no-db-on-tf',
    reason: 'kvm-next: a VMRUN with RFLAGS.TF whose consistency check fails returns before nested_svm_vmexit, so no #DB is queued',
    source: 'nested.c nested_svm_vmrun (FIXME: TF on failed consistency check); spec svm.md §7 27a',
  },
  'early-failure-cache-keeps-rejected-vmcb12': {
    id: 'early-failure-cache-keeps-rejected-vmcb12',
    reason: 'kvm-next: the rejected vmcb12 stays in svm->nested.ctl (incl. nested_cr3) after an early failure; harmless outside guest mode',
    source: 'nested.c nested_svm_copy_vmcb12_to_cache (cache written before the checks)',
  },
};

/** WARN sites that are knowingly reachable from guest-controlled input. None so far. */
export const KNOWN_WARNS: KnownDeviation[] = [];

export interface ExpectedProfileDiff extends KnownDeviation {
  /** The unordered profile pair the difference is expected between. */
  pair: [string, string];
  /** L1-visible paths this difference may touch (prefix match). */
  paths: string[];
  /** When the difference applies (judged on the first profile's result). */
  when: 'late-failure' | 'early-failure-with-tf' | 'any-failure-with-tf' | 'early-failure-l1-pae';
}

export const EXPECTED_PROFILE_DIFFS: ExpectedProfileDiff[] = [
  {
    id: 'unified-late-failure-keeps-vmcb12-save', pair: ['kvm-next', 'unified'], when: 'late-failure',
    paths: ['vmcb12.save.', 'vmcb12.control.int_state', 'vmcb12.control.next_rip', 'vmcb12.control.int_ctl', 'vmcb12.control.tlb_ctl'],
    reason: 'kvm-next sends CR3/PDPTE/MSRPM failures through the full nested_svm_vmexit, which writes the half-loaded L2 state into vmcb12; the unified series fails before the switch to vmcb02 and leaves the save area untouched',
    source: 'spec svm.md §2.2 step 12, §2.5 "Model consequence"',
  },
  {
    id: 'unified-late-failure-keeps-l1-dr7', pair: ['kvm-next', 'unified'], when: 'late-failure',
    paths: ['regs.dr7', 'regs.dr6', 'regs.cr2'],
    reason: 'the full #VMEXIT resets L1 DR7 to 0x400; __nested_svm_vmexit never replaced L1 registers, so DR7 keeps its value',
    source: 'nested.c nested_svm_vmexit (arch.dr7 = DR7_FIXED_1); unified series __nested_svm_vmexit',
  },
  {
    id: 'unified-db-on-tf-for-every-failure', pair: ['kvm-next', 'unified'], when: 'early-failure-with-tf',
    paths: ['exception'],
    reason: 'the unified common tail queues #DB for a single-stepped VMRUN on every failure; kvm-next skips it on consistency-check failures (FIXME)',
    source: 'spec svm.md §2.5 (__nested_svm_vmexit: "#DB if TF"), §7 27a',
  },
  {
    id: 'unified-reloads-l1-pdptes-on-early-failure', pair: ['kvm-next', 'unified'], when: 'early-failure-l1-pae',
    paths: ['outcome', 'triple_fault'],
    reason: 'the unified common tail reloads L1 CR3 (and a PAE L1\'s PDPTEs, as APM 15.6 #VMEXIT does) even after a consistency-check failure, so stale PDPTEs in L1 memory become a triple fault; kvm-next returns before touching CR3',
    source: 'spec svm.md §2.5 (__nested_svm_vmexit: reload L1 CR3, triple fault on failure); APM vol.2 15.6',
  },
];

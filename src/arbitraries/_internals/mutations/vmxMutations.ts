// Boundary mutations of a valid vmcs12, one entry per nested-VMX consistency check (controls, host
// state, guest state). `apply(v, k)` edits a vmcs12 built by validVmcs12(kvmNestedVmxMsrs()) in place;
// `k` picks the variant and k = 0 is the simplest one. Addresses made illegal use bits ≥ 52 (beyond
// any MAXPHYADDR); non-canonical values use bit 47 (k = 0) for a 4-level guest.

import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../../arch/vmx/controls.ts';
import { EPTP } from '../../../arch/vmx/eptp.ts';
import { INTR_INFO } from '../../../arch/vmx/intr_info.ts';
import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { entry, exit, pin, proc, sec } from '../helpers/controlBits.ts';

export interface VmxMutation {
  id: string;
  /** Check ids this mutation is aimed at (for coverage reports). */
  targets: string[];
  apply: (v: Vmcs12, k: number) => void;
}

const pick = <T>(xs: readonly T[], k: number): T => xs[k % xs.length];
const bit = (n: number): number => (n === 31 ? 0x80000000 : 1 << n);
/** A non-zero low-bit offset (k = 0: 1). */
const lowBits = (k: number, mask: number): bigint => BigInt((k % mask) + 1);
/** A bit beyond every MAXPHYADDR (k = 0: bit 52). */
const highAddrBit = (k: number): bigint => 1n << BigInt(52 + (k % 12));
/** A non-canonical address for 48-bit (and, k ≥ 1, for 57-bit) linear addresses. */
const nonCanonical = (k: number): bigint => pick([1n << 47n, 1n << 63n, 0x0000800000000000n | 0xfffn], k);

const setEptpField = (v: Vmcs12, mask: bigint, value: bigint): void => { v.ept_pointer = (v.ept_pointer & ~mask) | value; };
const intr = (type: number, vector: number, extra = 0): number => (INTR_INFO.VALID | (type << INTR_INFO.TYPE_SHIFT) | vector | extra) >>> 0;
/** A 32-bit L1 after the exit and a non-IA-32e L2 (host address-space size 0). */
const legacyHost = (v: Vmcs12): void => {
  exit(v, 0, VM_EXIT.HOST_ADDR_SPACE_SIZE | VM_EXIT.LOAD_IA32_EFER);
  entry(v, 0, VM_ENTRY.IA32E_MODE | VM_ENTRY.LOAD_IA32_EFER);
};
const one = (id: string, apply: (v: Vmcs12, k: number) => void): VmxMutation => ({ id, targets: [id], apply });

type MsrArea = 'exit-msr-load' | 'exit-msr-store' | 'entry-msr-load';
const MSR_AREA_FIELDS: Record<MsrArea, readonly ['vm_exit_msr_load_count' | 'vm_exit_msr_store_count' | 'vm_entry_msr_load_count', 'vm_exit_msr_load_addr' | 'vm_exit_msr_store_addr' | 'vm_entry_msr_load_addr']> = {
  'exit-msr-load': ['vm_exit_msr_load_count', 'vm_exit_msr_load_addr'],
  'exit-msr-store': ['vm_exit_msr_store_count', 'vm_exit_msr_store_addr'],
  'entry-msr-load': ['vm_entry_msr_load_count', 'vm_entry_msr_load_addr'],
};
function msrArea(p: MsrArea): VmxMutation[] {
  const [count, addr] = MSR_AREA_FIELDS[p];
  return [
    one(`${p}-count-too-high`, (v, k) => { v[count] = 513 + (k % 512); }),
    one(`${p}-addr-misaligned`, (v, k) => { v[count] = 1; v[addr] |= lowBits(k, 0xf); }),
    one(`${p}-addr-illegal`, (v, k) => { v[count] = 1; v[addr] |= highAddrBit(k); }),
  ];
}

const SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'tr'] as const;
const BASES = ['fs', 'gs', 'gdtr', 'idtr', 'tr'] as const;

const CONTROL_MUTATIONS: VmxMutation[] = [
  // ---- nested_check_vm_execution_controls
  one('pin-controls-invalid', (v, k) => { v.pin_based_vm_exec_control = pick([(v.pin_based_vm_exec_control | bit(8 + (k >> 1) % 24)) >>> 0, v.pin_based_vm_exec_control & ~0x2], k); }),
  one('proc-controls-invalid', (v, k) => { v.cpu_based_vm_exec_control = pick([(v.cpu_based_vm_exec_control | bit(0)) >>> 0, (v.cpu_based_vm_exec_control | CPU_BASED.ACTIVATE_TERTIARY_CONTROLS) >>> 0, (v.cpu_based_vm_exec_control | bit(18)) >>> 0, (v.cpu_based_vm_exec_control & ~0x2) >>> 0], k); }),
  one('secondary-controls-invalid', (v, k) => { sec(v, bit(pick([10, 18, 19, 21, 23, 24, 27, 28, 29, 30, 31], k))); }),
  one('cr3-target-count-nonzero', (v, k) => { v.cr3_target_count = 1 + (k % 4); }),
  one('io-bitmap-a-invalid', (v, k) => { proc(v, CPU_BASED.USE_IO_BITMAPS); v.io_bitmap_a |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('io-bitmap-b-invalid', (v, k) => { proc(v, CPU_BASED.USE_IO_BITMAPS); v.io_bitmap_b |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('msr-bitmap-invalid', (v, k) => { v.msr_bitmap |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('virtual-apic-page-invalid', (v, k) => { proc(v, CPU_BASED.TPR_SHADOW); v.virtual_apic_page_addr |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('tpr-threshold-high-without-vid', (v, k) => { proc(v, CPU_BASED.TPR_SHADOW); v.tpr_threshold = (0x10 << (k % 28)) >>> 0; }),
  one('apic-access-page-invalid', (v, k) => { sec(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES); v.apic_access_addr |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('x2apic-virt-with-apic-access-virt', (v, k) => { sec(v, SECONDARY.VIRTUALIZE_X2APIC_MODE | SECONDARY.VIRTUALIZE_APIC_ACCESSES); if (k % 2) proc(v, CPU_BASED.TPR_SHADOW); }),
  one('vid-without-ext-intr-exiting', (v) => { proc(v, CPU_BASED.TPR_SHADOW); sec(v, SECONDARY.VIRTUAL_INTR_DELIVERY); }),
  one('posted-intr-without-vid', (v) => { proc(v, CPU_BASED.TPR_SHADOW); pin(v, PIN_BASED.POSTED_INTR | PIN_BASED.EXT_INTR_MASK); }),
  one('posted-intr-without-ack-intr-on-exit', (v) => { proc(v, CPU_BASED.TPR_SHADOW); sec(v, SECONDARY.VIRTUAL_INTR_DELIVERY); pin(v, PIN_BASED.POSTED_INTR | PIN_BASED.EXT_INTR_MASK); }),
  one('posted-intr-nv-high-bits', (v, k) => {
    proc(v, CPU_BASED.TPR_SHADOW); sec(v, SECONDARY.VIRTUAL_INTR_DELIVERY); pin(v, PIN_BASED.POSTED_INTR | PIN_BASED.EXT_INTR_MASK); exit(v, VM_EXIT.ACK_INTR_ON_EXIT);
    v.posted_intr_nv = (0x100 << (k % 8)) | 0xf2;
  }),
  one('posted-intr-desc-misaligned', (v, k) => {
    proc(v, CPU_BASED.TPR_SHADOW); sec(v, SECONDARY.VIRTUAL_INTR_DELIVERY); pin(v, PIN_BASED.POSTED_INTR | PIN_BASED.EXT_INTR_MASK); exit(v, VM_EXIT.ACK_INTR_ON_EXIT);
    v.posted_intr_desc_addr |= lowBits(k, 0x3f);
  }),
  one('posted-intr-desc-illegal', (v, k) => {
    proc(v, CPU_BASED.TPR_SHADOW); sec(v, SECONDARY.VIRTUAL_INTR_DELIVERY); pin(v, PIN_BASED.POSTED_INTR | PIN_BASED.EXT_INTR_MASK); exit(v, VM_EXIT.ACK_INTR_ON_EXIT);
    v.posted_intr_desc_addr |= highAddrBit(k);
  }),
  one('apicv-without-tpr-shadow', (v, k) => { sec(v, pick([SECONDARY.APIC_REGISTER_VIRT, SECONDARY.VIRTUALIZE_X2APIC_MODE], k)); }),
  one('virtual-nmis-without-nmi-exiting', (v) => { pin(v, PIN_BASED.VIRTUAL_NMIS); }),
  one('nmi-window-without-virtual-nmis', (v, k) => { proc(v, CPU_BASED.NMI_WINDOW_EXITING); if (k % 2) pin(v, PIN_BASED.NMI_EXITING); }),
  one('pml-without-ept', (v) => { sec(v, SECONDARY.ENABLE_PML, SECONDARY.ENABLE_EPT); }),
  one('pml-address-invalid', (v, k) => { sec(v, SECONDARY.ENABLE_PML); v.pml_address |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('unrestricted-guest-without-ept', (v) => { sec(v, SECONDARY.UNRESTRICTED_GUEST, SECONDARY.ENABLE_EPT); }),
  one('mbec-without-ept', (v) => { sec(v, SECONDARY.MODE_BASED_EPT_EXEC, SECONDARY.ENABLE_EPT); }),
  one('vmread-bitmap-invalid', (v, k) => { sec(v, SECONDARY.SHADOW_VMCS); v.vmread_bitmap |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('vmwrite-bitmap-invalid', (v, k) => { sec(v, SECONDARY.SHADOW_VMCS); v.vmwrite_bitmap |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('vpid-zero', (v, k) => { v.virtual_processor_id = pick([0, 0x10000, 0xffff0000], k) >>> 0; }),
  one('save-preemption-timer-without-timer', (v) => { exit(v, VM_EXIT.SAVE_VMX_PREEMPTION_TIMER); }),
  one('eptp-memtype-uc-unsupported', (v) => { setEptpField(v, EPTP.MT_MASK, EPTP.MT_UC); }),
  one('eptp-memtype-invalid', (v, k) => { setEptpField(v, EPTP.MT_MASK, BigInt(pick([1, 2, 3, 4, 5, 7], k))); }),
  one('eptp-pwl-invalid', (v, k) => { setEptpField(v, EPTP.PWL_MASK, BigInt(pick([2, 0, 1, 5, 6, 7], k)) << EPTP.PWL_SHIFT); }),
  one('eptp-address-illegal', (v, k) => { v.ept_pointer |= highAddrBit(k); }),
  one('eptp-reserved-bits', (v, k) => { v.ept_pointer |= 1n << BigInt(7 + (k % 5)); }),
  one('vmfunc-controls-unsupported', (v, k) => { sec(v, SECONDARY.ENABLE_VMFUNC); v.vm_function_control = 2n << BigInt(k % 63); }),
  one('eptp-switching-without-ept', (v) => { sec(v, SECONDARY.ENABLE_VMFUNC, SECONDARY.ENABLE_EPT); v.vm_function_control = 1n; }),
  one('eptp-list-address-invalid', (v, k) => { sec(v, SECONDARY.ENABLE_VMFUNC); v.vm_function_control = 1n; v.eptp_list_address |= k % 2 ? highAddrBit(k >> 1) : lowBits(k >> 1, 0xfff); }),
  one('tsc-multiplier-zero', (v) => { sec(v, SECONDARY.TSC_SCALING); v.tsc_multiplier = 0n; }),
  // ---- nested_check_vm_exit_controls
  one('exit-controls-invalid', (v, k) => { v.vm_exit_controls = pick([(v.vm_exit_controls | bit(24 + (k >> 1) % 4)) >>> 0, (v.vm_exit_controls & ~0x1) >>> 0], k); }),
  ...msrArea('exit-msr-load'),
  ...msrArea('exit-msr-store'),
  // ---- nested_check_vm_entry_controls
  one('entry-controls-invalid', (v, k) => { v.vm_entry_controls = pick([(v.vm_entry_controls | VM_ENTRY.SMM) >>> 0, (v.vm_entry_controls | VM_ENTRY.DEACT_DUAL_MONITOR) >>> 0, (v.vm_entry_controls & ~0x1) >>> 0], k); }),
  one('entry-intr-type-reserved', (v, k) => { v.vm_entry_intr_info_field = intr(1, k % 256); }),
  one('entry-nmi-vector-not-2', (v, k) => { v.vm_entry_intr_info_field = intr(2, pick([0, 1, 3, 255], k)); }),
  one('entry-hard-exception-vector-high', (v, k) => { v.vm_entry_intr_info_field = intr(3, 32 + (k % 224)); }),
  one('entry-other-event-vector-nonzero', (v, k) => { v.vm_entry_intr_info_field = intr(7, 1 + (k % 255)); }),
  one('entry-error-code-not-deliverable', (v, k) => { v.vm_entry_intr_info_field = intr(pick([0, 2, 4, 6], k), pick([0x20, 2, 0x80, 3], k), INTR_INFO.DELIVER_CODE); v.vm_entry_instruction_len = 2; }),
  one('entry-error-code-mismatch', (v, k) => { v.vm_entry_intr_info_field = k % 2 ? intr(3, 6, INTR_INFO.DELIVER_CODE) : intr(3, 13); }),
  one('entry-error-code-high-bits', (v, k) => { v.vm_entry_intr_info_field = intr(3, 13, INTR_INFO.DELIVER_CODE); v.vm_entry_exception_error_code = (0x10000 << (k % 16)) >>> 0; }),
  one('entry-intr-info-reserved-bits', (v, k) => { v.vm_entry_intr_info_field = intr(3, 6, bit(12 + (k % 19))); }),
  one('entry-instruction-len-too-long', (v, k) => { v.vm_entry_intr_info_field = intr(pick([4, 5, 6], k), 0x80); v.vm_entry_instruction_len = 16 + (k % 16); }),
  one('entry-instruction-len-zero', (v, k) => { v.vm_entry_intr_info_field = intr(pick([4, 5, 6], k), 0x80); v.vm_entry_instruction_len = 0; }),
  ...msrArea('entry-msr-load'),
];

const HOST_MUTATIONS: VmxMutation[] = [
  one('host-cr0-fixed-bits', (v, k) => { v.host_cr0 &= ~pick([CR0.NE, CR0.PE, CR0.PG], k); }),
  one('host-cr4-fixed-bits', (v, k) => { v.host_cr4 = k % 2 ? v.host_cr4 | (1n << 15n) : v.host_cr4 & ~CR4.VMXE; }),
  one('host-cr4-reserved', (v, k) => { v.host_cr4 |= pick([CR4.LA57, CR4.PKE, CR4.PKS, CR4.LAM_SUP], k); }),
  one('host-cr3-illegal', (v, k) => { v.host_cr3 |= highAddrBit(k); }),
  one('host-cet-without-wp', (v) => { v.host_cr4 |= CR4.CET; v.host_cr0 &= ~CR0.WP; }),
  one('host-sysenter-esp-noncanonical', (v, k) => { v.host_ia32_sysenter_esp = nonCanonical(k); }),
  one('host-sysenter-eip-noncanonical', (v, k) => { v.host_ia32_sysenter_eip = nonCanonical(k); }),
  one('host-pat-invalid', (v, k) => { exit(v, VM_EXIT.LOAD_IA32_PAT); v.host_ia32_pat = pick([2n, 3n, 8n, 0xffn], k) << BigInt(8 * ((k >> 2) % 8)); }),
  one('host-perf-global-ctrl-invalid', (v, k) => { exit(v, VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL); v.host_ia32_perf_global_ctrl = pick([1n << 31n, 1n << 63n], k); }),
  one('host-ia32e-without-pae', (v) => { v.host_cr4 &= ~CR4.PAE; }),
  one('host-legacy-ia32e-mode-guest', (v) => { exit(v, 0, VM_EXIT.HOST_ADDR_SPACE_SIZE | VM_EXIT.LOAD_IA32_EFER); }),
  one('host-legacy-cr4-pcide', (v) => { legacyHost(v); v.host_cr4 |= CR4.PCIDE; }),
  one('host-legacy-rip-upper-bits', (v, k) => { legacyHost(v); v.host_rip |= 1n << BigInt(32 + (k % 32)); }),
  ...SEGS.map((s) => one(`host-${s}-selector-rpl-ti`, (v, k) => { v[`host_${s}_selector`] |= 1 + (k % 7); })),
  one('host-cs-selector-zero', (v) => { v.host_cs_selector = 0; }),
  one('host-tr-selector-zero', (v) => { v.host_tr_selector = 0; }),
  one('host-ss-selector-zero', (v) => { legacyHost(v); v.host_ss_selector = 0; }),
  ...BASES.map((s) => one(`host-${s}-base-noncanonical`, (v, k) => { v[`host_${s}_base`] = nonCanonical(k); })),
  one('host-rip-noncanonical', (v, k) => { v.host_rip = nonCanonical(k); }),
  one('host-efer-invalid', (v, k) => { v.host_ia32_efer |= pick([1n << 1n, 1n << 9n, 1n << 32n, 1n << 63n], k); }),
  one('host-efer-lma-mismatch', (v) => { v.host_ia32_efer &= ~EFER.LMA; }),
  one('host-efer-lme-mismatch', (v) => { v.host_ia32_efer &= ~EFER.LME; }),
  one('host-s-cet-invalid', (v, k) => { exit(v, VM_EXIT.LOAD_CET_STATE); v.host_s_cet = 1n << BigInt(6 + (k % 4)); }),
  one('host-ssp-misaligned', (v, k) => { exit(v, VM_EXIT.LOAD_CET_STATE); v.host_ssp = BigInt(1 + (k % 3)); }),
  one('host-ssp-tbl-noncanonical', (v, k) => { exit(v, VM_EXIT.LOAD_CET_STATE); v.host_ssp_tbl = nonCanonical(k); }),
  one('host-s-cet-noncanonical', (v) => { exit(v, VM_EXIT.LOAD_CET_STATE); v.host_s_cet = 1n << 47n; }),
  one('host-ssp-noncanonical', (v) => { exit(v, VM_EXIT.LOAD_CET_STATE); v.host_ssp = 1n << 47n; }),
  one('host-s-cet-upper-bits', (v, k) => { legacyHost(v); exit(v, VM_EXIT.LOAD_CET_STATE); v.host_s_cet = 1n << BigInt(32 + (k % 15)); }),
  one('host-ssp-upper-bits', (v, k) => { legacyHost(v); exit(v, VM_EXIT.LOAD_CET_STATE); v.host_ssp = 1n << BigInt(32 + (k % 15)); }),
];

const GUEST_MUTATIONS: VmxMutation[] = [
  one('guest-cr0-fixed-bits', (v, k) => { v.guest_cr0 &= ~pick([CR0.NE, CR0.PE, CR0.PG], k); }),
  one('guest-cr4-fixed-bits', (v, k) => { v.guest_cr4 = k % 2 ? v.guest_cr4 | (1n << 15n) : v.guest_cr4 & ~CR4.VMXE; }),
  one('guest-cr4-reserved', (v, k) => { v.guest_cr4 |= pick([CR4.LA57, CR4.PKE, CR4.PKS, CR4.LAM_SUP], k); }),
  one('guest-cet-without-wp', (v) => { v.guest_cr4 |= CR4.CET; v.guest_cr0 &= ~CR0.WP; }),
  one('guest-dr7-upper-bits', (v, k) => { entry(v, VM_ENTRY.LOAD_DEBUG_CONTROLS); v.guest_dr7 |= 1n << BigInt(32 + (k % 32)); }),
  one('guest-debugctl-invalid', (v, k) => { entry(v, VM_ENTRY.LOAD_DEBUG_CONTROLS); v.guest_ia32_debugctl = 1n << BigInt(2 + (k % 12)); }),
  one('guest-pat-invalid', (v, k) => { entry(v, VM_ENTRY.LOAD_IA32_PAT); v.guest_ia32_pat = pick([2n, 3n, 8n, 0xffn], k) << BigInt(8 * ((k >> 2) % 8)); }),
  one('guest-vmcs-link-ptr-invalid-address', (v, k) => { v.vmcs_link_pointer = k % 2 ? 0x60000n | highAddrBit(k >> 1) : 0x60000n | lowBits(k >> 1, 0xfff); }),
  one('guest-vmcs-link-ptr-unreadable', (v) => { v.vmcs_link_pointer = 0x60000n; }),
  one('guest-perf-global-ctrl-invalid', (v, k) => { entry(v, VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL); v.guest_ia32_perf_global_ctrl = pick([1n << 31n, 1n << 63n], k); }),
  one('guest-cr0-pg-without-pe', (v) => { sec(v, SECONDARY.UNRESTRICTED_GUEST); v.guest_cr0 &= ~CR0.PE; }),
  one('guest-ia32e-without-pae', (v) => { v.guest_cr4 &= ~CR4.PAE; }),
  one('guest-ia32e-without-pg', (v, k) => { sec(v, SECONDARY.UNRESTRICTED_GUEST); v.guest_cr0 &= ~(k % 2 ? CR0.PG | CR0.PE : CR0.PG); }),
  one('guest-efer-invalid', (v, k) => { v.guest_ia32_efer |= pick([1n << 1n, 1n << 9n, 1n << 32n, 1n << 63n], k); }),
  one('guest-efer-lma-mismatch', (v) => { v.guest_ia32_efer &= ~EFER.LMA; }),
  one('guest-efer-lme-mismatch', (v) => { v.guest_ia32_efer &= ~EFER.LME; }),
  one('guest-bndcfgs-noncanonical', (v, k) => { entry(v, VM_ENTRY.LOAD_BNDCFGS); v.guest_bndcfgs = nonCanonical(k) & ~0xfffn; }),
  one('guest-bndcfgs-reserved', (v, k) => { entry(v, VM_ENTRY.LOAD_BNDCFGS); v.guest_bndcfgs = 1n << BigInt(2 + (k % 10)); }),
  one('guest-s-cet-invalid', (v, k) => { entry(v, VM_ENTRY.LOAD_CET_STATE); v.guest_s_cet = 1n << BigInt(6 + (k % 4)); }),
  one('guest-ssp-misaligned', (v, k) => { entry(v, VM_ENTRY.LOAD_CET_STATE); v.guest_ssp = BigInt(1 + (k % 3)); }),
  one('guest-ssp-tbl-noncanonical', (v, k) => { entry(v, VM_ENTRY.LOAD_CET_STATE); v.guest_ssp_tbl = nonCanonical(k); }),
  one('guest-ssp-noncanonical', (v, k) => { entry(v, VM_ENTRY.LOAD_CET_STATE); v.guest_ssp = pick([1n << 48n, 1n << 63n], k); }),
  one('guest-activity-state-invalid', (v, k) => { v.guest_activity_state = pick([2, 4, 5, 0xffffffff], k); }),
];

// ---- the CPU's own VM-entry checks of vmcs02 (SDM §27.2.1.1 / §27.3.1; engine hardware.ts). KVM's
// software checks (nested_vmx_check_guest_state) and, without unrestricted guest, prepare_vmcs02's
// vmx_guest_state_valid run first, so each entry breaks only its own rule and nothing KVM checks.
// Rules vmx_guest_state_valid also enforces turn unrestricted guest on in vmcs12 (the default L0 allows
// it; vmcs12 already enables EPT), so that only the CPU sees them. Built for the default 64-bit base.

/** Unrestricted guest in vmcs12 (needs EPT, which validVmcs12 enables): KVM then skips vmx_guest_state_valid. */
const ug = (v: Vmcs12): void => { proc(v, CPU_BASED.ACTIVATE_SECONDARY_CONTROLS); sec(v, SECONDARY.UNRESTRICTED_GUEST | SECONDARY.ENABLE_EPT); };
/** A 32-bit protected-mode, paged L2 (not IA-32e): EFER LME/LMA clear, 32-bit CS, RIP below 4 GiB. */
const prot32 = (v: Vmcs12): void => {
  entry(v, 0, VM_ENTRY.IA32E_MODE);
  v.guest_ia32_efer &= ~(EFER.LME | EFER.LMA);
  v.guest_cs_ar_bytes = 0xc09b;
  v.guest_rip &= 0xffffffffn;
  v.guest_rsp &= 0xffffffffn;
};
const GUEST_RFLAGS = { IF: 1n << 9n, TF: 1n << 8n, VM: 1n << 17n } as const;
const ACT_HLT = 1;
const INTR_STI = 1;
const INTR_MOV_SS = 2;

const HARDWARE_MUTATIONS: VmxMutation[] = [
  one('hw-guest-cr4-pcide-without-ia32e', (v) => { prot32(v); v.guest_cr4 |= CR4.PCIDE; }),
  one('hw-guest-sysenter-noncanonical', (v, k) => { if (k % 2) v.guest_sysenter_eip = nonCanonical(k >> 1); else v.guest_sysenter_esp = nonCanonical(k >> 1); }),
  one('hw-guest-tr-selector-ti', (v) => { ug(v); v.guest_tr_selector |= 4; }),
  one('hw-guest-ldtr-selector-ti', (v) => { ug(v); v.guest_ldtr_selector = 0x4c; v.guest_ldtr_base = 0n; v.guest_ldtr_limit = 0; v.guest_ldtr_ar_bytes = 0x82; }),
  // hw-guest-ss-rpl-cs-rpl: see the scenario table (only KVM_SET_NESTED_STATE skips vmx_guest_state_valid without UG).
  one('hw-guest-v86-segments', (v, k) => { v.guest_rflags |= GUEST_RFLAGS.VM; if (k % 2) v.guest_gs_base = 0x10n; }),
  one('hw-guest-segment-bases', (v, k) => { const f = pick(['guest_fs_base', 'guest_gs_base', 'guest_tr_base'] as const, k); v[f] = nonCanonical(0); }),
  one('hw-guest-cs-type', (v, k) => { ug(v); v.guest_cs_ar_bytes = (v.guest_cs_ar_bytes & ~0xf) | pick([1, 10, 8, 5], k); }),
  one('hw-guest-ss-type', (v, k) => { ug(v); v.guest_ss_ar_bytes = (v.guest_ss_ar_bytes & ~0xf) | pick([1, 11, 5], k); }),
  one('hw-guest-ds-es-fs-gs-type', (v, k) => { ug(v); const f = pick(['guest_ds_ar_bytes', 'guest_es_ar_bytes', 'guest_fs_ar_bytes', 'guest_gs_ar_bytes'] as const, k); v[f] = (v[f] & ~0xf) | 2; }),
  one('hw-guest-segment-s-flag', (v) => { ug(v); v.guest_ds_ar_bytes &= ~0x10; }),
  one('hw-guest-segment-dpl', (v) => { ug(v); v.guest_cs_ar_bytes |= 0x60; }),
  one('hw-guest-segment-present', (v) => { ug(v); v.guest_es_ar_bytes &= ~0x80; }),
  one('hw-guest-segment-ar-reserved', (v, k) => { v.guest_gs_ar_bytes |= k % 2 ? 0x20000 : 0x100; }),
  one('hw-guest-segment-limit-granularity', (v) => { v.guest_fs_limit = 0xffff0; v.guest_fs_ar_bytes |= 0x8000; }),
  one('hw-guest-cs-l-and-d', (v) => { v.guest_cs_ar_bytes |= 0x2000 | 0x4000; }),
  // TR type 3 (busy 16-bit TSS) passes vmx_guest_state_valid but not the IA-32e rule.
  one('hw-guest-tr-type', (v) => { v.guest_tr_ar_bytes = (v.guest_tr_ar_bytes & ~0xf) | 3; }),
  // A usable LDTR with S = 1: vmx_guest_state_valid checks only its type, P and TI.
  one('hw-guest-ldtr-type', (v) => { v.guest_ldtr_selector = 0; v.guest_ldtr_base = 0n; v.guest_ldtr_limit = 0; v.guest_ldtr_ar_bytes = 0x92; }),
  one('hw-guest-gdtr-idtr-base', (v, k) => { if (k % 2) v.guest_idtr_base = nonCanonical(k >> 1); else v.guest_gdtr_base = nonCanonical(k >> 1); }),
  one('hw-guest-gdtr-idtr-limit', (v, k) => { if (k % 2) v.guest_idtr_limit |= 0x10000; else v.guest_gdtr_limit |= 0x10000; }),
  // Compatibility mode (IA-32e, CS.L = 0) with RIP bits 63:32 set.
  one('hw-guest-rip-upper-bits', (v, k) => { v.guest_cs_ar_bytes = 0xc09b; v.guest_rip |= 1n << BigInt(32 + (k % 32)); }),
  one('hw-guest-rip-noncanonical', (v, k) => { v.guest_rip = nonCanonical(k); }),
  one('hw-guest-rflags-reserved', (v, k) => { v.guest_rflags = pick([v.guest_rflags | 8n, v.guest_rflags | 0x20n, v.guest_rflags | 0x8000n, v.guest_rflags & ~2n, v.guest_rflags | (1n << 22n)], k); }),
  // RFLAGS.VM in IA-32e mode with valid virtual-8086 segments (UG keeps vmx_guest_state_valid out of the way).
  one('hw-guest-rflags-vm', (v) => {
    ug(v);
    v.guest_rflags |= GUEST_RFLAGS.VM;
    for (const n of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) {
      v[`guest_${n}_selector`] = 0x1000;
      v[`guest_${n}_base`] = 0x10000n;
      v[`guest_${n}_limit`] = 0xffff;
      v[`guest_${n}_ar_bytes`] = 0xf3;
    }
    v.guest_rip &= 0xffffn;
  }),
  one('hw-guest-rflags-if-injection', (v, k) => { v.guest_rflags &= ~GUEST_RFLAGS.IF; v.vm_entry_intr_info_field = intr(0, 0x20 + (k % 224)); }),
  // HLT with a consistent ring-3 CS/SS (CS, SS RPL = DPL = 3).
  one('hw-guest-activity-hlt-ss-dpl', (v) => {
    v.guest_activity_state = ACT_HLT;
    v.guest_cs_selector = (v.guest_cs_selector & ~3) | 3; v.guest_cs_ar_bytes |= 0x60;
    v.guest_ss_selector = (v.guest_ss_selector & ~3) | 3; v.guest_ss_ar_bytes |= 0x60;
  }),
  one('hw-guest-activity-blocking', (v, k) => {
    v.guest_activity_state = ACT_HLT;
    if (k % 2) { v.guest_rflags |= GUEST_RFLAGS.IF; v.guest_interruptibility_info = INTR_STI; } else v.guest_interruptibility_info = INTR_MOV_SS;
  }),
  // HLT and a #UD (hardware exception 6, no error code): HLT accepts only ext-int, NMI, #DB, #MC, MTF.
  one('hw-guest-activity-event-injection', (v, k) => { v.guest_activity_state = ACT_HLT; v.vm_entry_intr_info_field = intr(3, pick([6, 0, 3, 4], k)); }),
  one('hw-guest-interruptibility-reserved', (v, k) => { v.guest_interruptibility_info = (v.guest_interruptibility_info | bit(5 + (k % 27))) >>> 0; }),
  one('hw-guest-interruptibility-sti-mov-ss', (v) => { v.guest_rflags |= GUEST_RFLAGS.IF; v.guest_interruptibility_info = INTR_STI | INTR_MOV_SS; }),
  one('hw-guest-interruptibility-sti-if', (v) => { v.guest_rflags &= ~GUEST_RFLAGS.IF; v.guest_interruptibility_info = INTR_STI; }),
  one('hw-guest-interruptibility-ext-int', (v, k) => {
    v.guest_rflags |= GUEST_RFLAGS.IF; v.vm_entry_intr_info_field = intr(0, 0x20); v.guest_interruptibility_info = k % 2 ? INTR_STI : INTR_MOV_SS;
  }),
  one('hw-guest-interruptibility-nmi', (v) => { v.vm_entry_intr_info_field = intr(2, 2); v.guest_interruptibility_info = INTR_MOV_SS; }),
  one('hw-guest-interruptibility-smi', (v) => { v.guest_interruptibility_info = 4; }),
  one('hw-guest-pending-dbg-reserved', (v, k) => { v.guest_pending_dbg_exceptions |= pick([0x10n, 1n << 13n, 1n << 15n, 1n << 17n, 1n << 63n], k); }),
  // HLT with BS set but RFLAGS.TF clear.
  one('hw-guest-pending-dbg-bs', (v) => { v.guest_activity_state = ACT_HLT; v.guest_rflags &= ~GUEST_RFLAGS.TF; v.guest_pending_dbg_exceptions = 1n << 14n; }),
  // RTM without the enabled-breakpoint bit (12).
  one('hw-guest-pending-dbg-rtm', (v, k) => { v.guest_pending_dbg_exceptions = (1n << 16n) | pick([0n, 1n, (1n << 12n) | 1n], k); }),
  // hw-guest-vmcs-link-ptr-current, hw-guest-pdpte-reserved: see the scenario table (they need L1 memory / PAE mode).
  // ---- prepare_vmcs02 → nested_vmx_load_cr3: CR3 with a bit at or above MAXPHYADDR (bits 52..60, beyond any).
  one('load-cr3-illegal', (v, k) => { v.guest_cr3 |= 1n << BigInt(52 + (k % 9)); }),
];

/** Mutations of KVM's vmcs12 checks (controls, host state, guest state): each fails its target there first. */
export const VMX_MUTATIONS: readonly VmxMutation[] = [...CONTROL_MUTATIONS, ...HOST_MUTATIONS, ...GUEST_MUTATIONS];

export const VMX_MUTATION_IDS: readonly string[] = VMX_MUTATIONS.map((m) => m.id);

/**
 * vmcs12-only mutations of checks after KVM's vmcs12 checks pass: prepare_vmcs02 and the CPU's VM
 * entry of vmcs02. They leave every check of VMX_MUTATIONS' groups passing, so vmcs12Case (which
 * sees only those groups) does not draw them; vmxCase does.
 */
export const VMX_LATE_MUTATIONS: readonly VmxMutation[] = HARDWARE_MUTATIONS;

export const VMX_LATE_MUTATION_IDS: readonly string[] = VMX_LATE_MUTATIONS.map((m) => m.id);

const BY_ID: ReadonlyMap<string, VmxMutation> = new Map([...VMX_MUTATIONS, ...VMX_LATE_MUTATIONS].map((m) => [m.id, m]));

export function getVmxMutation(id: string): VmxMutation | undefined {
  return BY_ID.get(id);
}

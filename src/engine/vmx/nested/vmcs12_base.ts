// A vmcs12 that KVM enters: every control check (spec §2.4), host-state check (§2.5) and
// guest-state check (§2.6) holds for KVM's default nested caps (kvmNestedVmxMsrs()). Directed tests
// mutate one field of it; the 64-bit L1 runs a 64-bit L2 with EPT, VPID and MSR bitmaps.
// Note, a feature the caps do not allow is left out, so the controls stay valid for reduced caps;
// the EPTP is WB/4-level whenever the caps offer them (KVM defaults do).

import { CR0, CR4, EFER, PAT_DEFAULT } from '../../../arch/svm/defs.ts';
import { EPT_CAP, type NestedVmxMsrs } from '../../../arch/vmx/caps.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../../arch/vmx/controls.ts';
import { EPTP } from '../../../arch/vmx/eptp.ts';
import { type Vmcs12, zeroVmcs12 } from '../../../arch/vmx/vmcs12.ts';

/** Page-aligned GPAs of the control-structure pages (all legal for MAXPHYADDR ≥ 32). */
export const VMCS12_BASE_GPA = {
  io_bitmap_a: 0x10000n,
  io_bitmap_b: 0x11000n,
  msr_bitmap: 0x12000n,
  virtual_apic_page: 0x13000n,
  apic_access: 0x14000n,
  posted_intr_desc: 0x15000n,
  pml: 0x16000n,
  vmread_bitmap: 0x17000n,
  vmwrite_bitmap: 0x18000n,
  eptp_list: 0x19000n,
  msr_area: 0x1a000n,
  ept_pml4: 0x20000n,
  host_cr3: 0x30000n,
  guest_cr3: 0x40000n,
} as const;

/** 64-bit CR0: PE MP ET NE WP AM PG (within CR0_FIXED0 = PE|NE|PG). */
export const VMCS12_BASE_CR0 = CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.AM | CR0.PG;
/** 64-bit CR4: PAE PGE OSFXSR OSXMMEXCPT VMXE (within CR4_FIXED0 = VMXE). */
export const VMCS12_BASE_CR4 = CR4.PAE | CR4.PGE | CR4.OSFXSR | CR4.OSXMMEXCPT | CR4.VMXE;
/** EFER of a 64-bit L1/L2: LME | LMA. */
export const VMCS12_BASE_EFER = EFER.LME | EFER.LMA;

/** Selectors (RPL 0, TI 0): flat 64-bit GDT layout. */
const SEL = { cs: 0x08, ds: 0x10, tr: 0x40 } as const;

/** Segment access rights (SDM §25.4.1 format): code 64-bit, data, busy 64-bit TSS, unusable. */
const AR = { code64: 0xa09b, data: 0xc093, tss64Busy: 0x008b, unusable: 0x10000 } as const;

/** The EPTP: WB (or UC) memory type, 4-level (or 5-level) walk, no A/D, PML4 at VMCS12_BASE_GPA.ept_pml4. */
function baseEptp(caps: NestedVmxMsrs): bigint {
  const mt = (caps.eptCaps & EPT_CAP.WB) !== 0 ? EPTP.MT_WB : EPTP.MT_UC;
  const pwl = (caps.eptCaps & EPT_CAP.PAGE_WALK_4) !== 0 ? EPTP.PWL_4 : EPTP.PWL_5;
  return VMCS12_BASE_GPA.ept_pml4 | pwl | mt;
}

/** A vmcs12 that passes nested_vmx_check_controls / _host_state / _guest_state with `caps`. */
export function validVmcs12(caps: NestedVmxMsrs): Vmcs12 {
  const v = zeroVmcs12();
  const g = VMCS12_BASE_GPA;

  // ---- controls (spec §2.4): must-be-1 bits plus chosen features the caps allow
  v.pin_based_vm_exec_control = caps.pinbasedCtlsLow >>> 0;
  v.cpu_based_vm_exec_control = (caps.procbasedCtlsLow
    | ((CPU_BASED.ACTIVATE_SECONDARY_CONTROLS | CPU_BASED.USE_MSR_BITMAPS) & caps.procbasedCtlsHigh)) >>> 0;
  v.secondary_vm_exec_control = (caps.secondaryCtlsLow
    | ((SECONDARY.ENABLE_EPT | SECONDARY.ENABLE_VPID) & caps.secondaryCtlsHigh)) >>> 0;
  v.vm_exit_controls = (caps.exitCtlsLow
    | ((VM_EXIT.HOST_ADDR_SPACE_SIZE | VM_EXIT.LOAD_IA32_EFER | VM_EXIT.SAVE_IA32_EFER) & caps.exitCtlsHigh)) >>> 0;
  v.vm_entry_controls = (caps.entryCtlsLow
    | ((VM_ENTRY.IA32E_MODE | VM_ENTRY.LOAD_IA32_EFER) & caps.entryCtlsHigh)) >>> 0;
  v.ept_pointer = baseEptp(caps);
  v.virtual_processor_id = 1;
  v.cr3_target_count = 0;
  // Every address a feature may consult is valid, so a test only flips the feature on.
  v.io_bitmap_a = g.io_bitmap_a;
  v.io_bitmap_b = g.io_bitmap_b;
  v.msr_bitmap = g.msr_bitmap;
  v.virtual_apic_page_addr = g.virtual_apic_page;
  v.apic_access_addr = g.apic_access;
  v.posted_intr_desc_addr = g.posted_intr_desc;
  v.pml_address = g.pml;
  v.vmread_bitmap = g.vmread_bitmap;
  v.vmwrite_bitmap = g.vmwrite_bitmap;
  v.eptp_list_address = g.eptp_list;
  v.vm_exit_msr_load_addr = g.msr_area;
  v.vm_exit_msr_store_addr = g.msr_area;
  v.vm_entry_msr_load_addr = g.msr_area;
  v.tsc_multiplier = 1n << 48n; // 1.0 in KVM's 16.48 fixed point
  v.vm_entry_intr_info_field = 0;

  // ---- host state (spec §2.5): 64-bit L1 after the exit
  v.host_cr0 = VMCS12_BASE_CR0;
  v.host_cr3 = g.host_cr3;
  v.host_cr4 = VMCS12_BASE_CR4;
  v.host_ia32_efer = VMCS12_BASE_EFER;
  v.host_ia32_pat = PAT_DEFAULT;
  v.host_cs_selector = SEL.cs;
  v.host_ss_selector = SEL.ds;
  v.host_ds_selector = SEL.ds;
  v.host_es_selector = SEL.ds;
  v.host_fs_selector = SEL.ds;
  v.host_gs_selector = SEL.ds;
  v.host_tr_selector = SEL.tr;
  v.host_fs_base = 0n;
  v.host_gs_base = 0n;
  v.host_tr_base = 0x50000n;
  v.host_gdtr_base = 0x51000n;
  v.host_idtr_base = 0x52000n;
  v.host_ia32_sysenter_esp = 0n;
  v.host_ia32_sysenter_eip = 0n;
  v.host_rsp = 0x80000n;
  v.host_rip = 0x401000n;

  // ---- guest state (spec §2.6, plus what hardware checks on vmcs02): 64-bit L2
  v.guest_cr0 = VMCS12_BASE_CR0;
  v.guest_cr3 = g.guest_cr3;
  v.guest_cr4 = VMCS12_BASE_CR4;
  v.guest_ia32_efer = VMCS12_BASE_EFER;
  v.guest_ia32_pat = PAT_DEFAULT;
  v.guest_dr7 = 0x400n;
  v.guest_rflags = 0x2n;
  v.guest_rip = 0x600000n;
  v.guest_rsp = 0x700000n;
  v.vmcs_link_pointer = 0xffffffffffffffffn;
  v.guest_activity_state = 0;
  v.guest_interruptibility_info = 0;
  v.guest_cs_selector = SEL.cs;
  v.guest_cs_ar_bytes = AR.code64;
  v.guest_cs_limit = 0xffffffff;
  for (const s of ['ss', 'ds', 'es', 'fs', 'gs'] as const) {
    v[`guest_${s}_selector`] = SEL.ds;
    v[`guest_${s}_ar_bytes`] = AR.data;
    v[`guest_${s}_limit`] = 0xffffffff;
    v[`guest_${s}_base`] = 0n;
  }
  v.guest_tr_selector = SEL.tr;
  v.guest_tr_ar_bytes = AR.tss64Busy;
  v.guest_tr_limit = 0x67;
  v.guest_tr_base = 0x50000n;
  v.guest_ldtr_ar_bytes = AR.unusable;
  v.guest_gdtr_base = 0x51000n;
  v.guest_gdtr_limit = 0xffff;
  v.guest_idtr_base = 0x52000n;
  v.guest_idtr_limit = 0xfff;
  return v;
}

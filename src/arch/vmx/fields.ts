// The vmcs12 field table as data: one row per field KVM's nested VMX lets L1 VMREAD/VMWRITE,
// i.e. one FIELD()/FIELD64() entry of vmcs12_field_offsets[] (arch/x86/kvm/vmx/vmcs12.c), with
// the encodings of asm/vmx.h enum vmcs_field and Intel SDM vol. 3D Appendix B (B.1 16-bit,
// B.2 64-bit, B.3 32-bit, B.4 natural-width). `name` is KVM's struct vmcs12 member, `sdm` the
// asm/vmx.h / SDM-style constant. Upstream set of the NEW tree (spec §0, §1.3), including the CET
// fields; the Intel-only FRED fields of intel/mainline-tracking are left out.
//
// Rows are in encoding order. width/group/readOnly are stated, not derived, so that
// tests/arch/vmx/fields.spec.ts can check each row against the encoding anatomy (encoding.ts).

import {
  type VmcsFieldAccess, type VmcsFieldGroup, type VmcsFieldWidth, fieldIndex, fieldWidth, fullEncoding, isHighAccess,
} from './encoding.ts';

export interface Vmcs12FieldDef {
  /** KVM's struct vmcs12 member, e.g. 'guest_rip'. */
  readonly name: string;
  /** asm/vmx.h / SDM constant name, e.g. 'GUEST_RIP'. */
  readonly sdm: string;
  /** The full-access encoding, e.g. 0x681e. */
  readonly encoding: number;
  readonly width: VmcsFieldWidth;
  /** Type 1 (VM-exit information). */
  readonly readOnly: boolean;
  readonly group: VmcsFieldGroup;
}

export const VMCS12_FIELDS = [
  // 16-bit fields (width 0): SDM App. B.1
  { name: 'virtual_processor_id', sdm: 'VIRTUAL_PROCESSOR_ID', encoding: 0x0000, width: 16, readOnly: false, group: 'control' },
  { name: 'posted_intr_nv', sdm: 'POSTED_INTR_NV', encoding: 0x0002, width: 16, readOnly: false, group: 'control' },
  { name: 'guest_es_selector', sdm: 'GUEST_ES_SELECTOR', encoding: 0x0800, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_cs_selector', sdm: 'GUEST_CS_SELECTOR', encoding: 0x0802, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_ss_selector', sdm: 'GUEST_SS_SELECTOR', encoding: 0x0804, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_ds_selector', sdm: 'GUEST_DS_SELECTOR', encoding: 0x0806, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_fs_selector', sdm: 'GUEST_FS_SELECTOR', encoding: 0x0808, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_gs_selector', sdm: 'GUEST_GS_SELECTOR', encoding: 0x080a, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_ldtr_selector', sdm: 'GUEST_LDTR_SELECTOR', encoding: 0x080c, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_tr_selector', sdm: 'GUEST_TR_SELECTOR', encoding: 0x080e, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_intr_status', sdm: 'GUEST_INTR_STATUS', encoding: 0x0810, width: 16, readOnly: false, group: 'guest' },
  { name: 'guest_pml_index', sdm: 'GUEST_PML_INDEX', encoding: 0x0812, width: 16, readOnly: false, group: 'guest' },
  { name: 'host_es_selector', sdm: 'HOST_ES_SELECTOR', encoding: 0x0c00, width: 16, readOnly: false, group: 'host' },
  { name: 'host_cs_selector', sdm: 'HOST_CS_SELECTOR', encoding: 0x0c02, width: 16, readOnly: false, group: 'host' },
  { name: 'host_ss_selector', sdm: 'HOST_SS_SELECTOR', encoding: 0x0c04, width: 16, readOnly: false, group: 'host' },
  { name: 'host_ds_selector', sdm: 'HOST_DS_SELECTOR', encoding: 0x0c06, width: 16, readOnly: false, group: 'host' },
  { name: 'host_fs_selector', sdm: 'HOST_FS_SELECTOR', encoding: 0x0c08, width: 16, readOnly: false, group: 'host' },
  { name: 'host_gs_selector', sdm: 'HOST_GS_SELECTOR', encoding: 0x0c0a, width: 16, readOnly: false, group: 'host' },
  { name: 'host_tr_selector', sdm: 'HOST_TR_SELECTOR', encoding: 0x0c0c, width: 16, readOnly: false, group: 'host' },
  // 64-bit fields (width 1): SDM App. B.2; each also answers to its *_HIGH encoding (enc + 1)
  { name: 'io_bitmap_a', sdm: 'IO_BITMAP_A', encoding: 0x2000, width: 64, readOnly: false, group: 'control' },
  { name: 'io_bitmap_b', sdm: 'IO_BITMAP_B', encoding: 0x2002, width: 64, readOnly: false, group: 'control' },
  { name: 'msr_bitmap', sdm: 'MSR_BITMAP', encoding: 0x2004, width: 64, readOnly: false, group: 'control' },
  { name: 'vm_exit_msr_store_addr', sdm: 'VM_EXIT_MSR_STORE_ADDR', encoding: 0x2006, width: 64, readOnly: false, group: 'control' },
  { name: 'vm_exit_msr_load_addr', sdm: 'VM_EXIT_MSR_LOAD_ADDR', encoding: 0x2008, width: 64, readOnly: false, group: 'control' },
  { name: 'vm_entry_msr_load_addr', sdm: 'VM_ENTRY_MSR_LOAD_ADDR', encoding: 0x200a, width: 64, readOnly: false, group: 'control' },
  { name: 'pml_address', sdm: 'PML_ADDRESS', encoding: 0x200e, width: 64, readOnly: false, group: 'control' },
  { name: 'tsc_offset', sdm: 'TSC_OFFSET', encoding: 0x2010, width: 64, readOnly: false, group: 'control' },
  { name: 'virtual_apic_page_addr', sdm: 'VIRTUAL_APIC_PAGE_ADDR', encoding: 0x2012, width: 64, readOnly: false, group: 'control' },
  { name: 'apic_access_addr', sdm: 'APIC_ACCESS_ADDR', encoding: 0x2014, width: 64, readOnly: false, group: 'control' },
  { name: 'posted_intr_desc_addr', sdm: 'POSTED_INTR_DESC_ADDR', encoding: 0x2016, width: 64, readOnly: false, group: 'control' },
  { name: 'vm_function_control', sdm: 'VM_FUNCTION_CONTROL', encoding: 0x2018, width: 64, readOnly: false, group: 'control' },
  { name: 'ept_pointer', sdm: 'EPT_POINTER', encoding: 0x201a, width: 64, readOnly: false, group: 'control' },
  { name: 'eoi_exit_bitmap0', sdm: 'EOI_EXIT_BITMAP0', encoding: 0x201c, width: 64, readOnly: false, group: 'control' },
  { name: 'eoi_exit_bitmap1', sdm: 'EOI_EXIT_BITMAP1', encoding: 0x201e, width: 64, readOnly: false, group: 'control' },
  { name: 'eoi_exit_bitmap2', sdm: 'EOI_EXIT_BITMAP2', encoding: 0x2020, width: 64, readOnly: false, group: 'control' },
  { name: 'eoi_exit_bitmap3', sdm: 'EOI_EXIT_BITMAP3', encoding: 0x2022, width: 64, readOnly: false, group: 'control' },
  { name: 'eptp_list_address', sdm: 'EPTP_LIST_ADDRESS', encoding: 0x2024, width: 64, readOnly: false, group: 'control' },
  { name: 'vmread_bitmap', sdm: 'VMREAD_BITMAP', encoding: 0x2026, width: 64, readOnly: false, group: 'control' },
  { name: 'vmwrite_bitmap', sdm: 'VMWRITE_BITMAP', encoding: 0x2028, width: 64, readOnly: false, group: 'control' },
  // 0x202a VE_INFORMATION_ADDRESS: not in KVM's vmcs12 table
  { name: 'xss_exit_bitmap', sdm: 'XSS_EXIT_BITMAP', encoding: 0x202c, width: 64, readOnly: false, group: 'control' },
  { name: 'encls_exiting_bitmap', sdm: 'ENCLS_EXITING_BITMAP', encoding: 0x202e, width: 64, readOnly: false, group: 'control' },
  { name: 'tsc_multiplier', sdm: 'TSC_MULTIPLIER', encoding: 0x2032, width: 64, readOnly: false, group: 'control' },
  { name: 'guest_physical_address', sdm: 'GUEST_PHYSICAL_ADDRESS', encoding: 0x2400, width: 64, readOnly: true, group: 'exit-info' },
  { name: 'vmcs_link_pointer', sdm: 'VMCS_LINK_POINTER', encoding: 0x2800, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_ia32_debugctl', sdm: 'GUEST_IA32_DEBUGCTL', encoding: 0x2802, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_ia32_pat', sdm: 'GUEST_IA32_PAT', encoding: 0x2804, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_ia32_efer', sdm: 'GUEST_IA32_EFER', encoding: 0x2806, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_ia32_perf_global_ctrl', sdm: 'GUEST_IA32_PERF_GLOBAL_CTRL', encoding: 0x2808, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_pdptr0', sdm: 'GUEST_PDPTR0', encoding: 0x280a, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_pdptr1', sdm: 'GUEST_PDPTR1', encoding: 0x280c, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_pdptr2', sdm: 'GUEST_PDPTR2', encoding: 0x280e, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_pdptr3', sdm: 'GUEST_PDPTR3', encoding: 0x2810, width: 64, readOnly: false, group: 'guest' },
  { name: 'guest_bndcfgs', sdm: 'GUEST_BNDCFGS', encoding: 0x2812, width: 64, readOnly: false, group: 'guest' },
  { name: 'host_ia32_pat', sdm: 'HOST_IA32_PAT', encoding: 0x2c00, width: 64, readOnly: false, group: 'host' },
  { name: 'host_ia32_efer', sdm: 'HOST_IA32_EFER', encoding: 0x2c02, width: 64, readOnly: false, group: 'host' },
  { name: 'host_ia32_perf_global_ctrl', sdm: 'HOST_IA32_PERF_GLOBAL_CTRL', encoding: 0x2c04, width: 64, readOnly: false, group: 'host' },
  // 32-bit fields (width 2): SDM App. B.3
  { name: 'pin_based_vm_exec_control', sdm: 'PIN_BASED_VM_EXEC_CONTROL', encoding: 0x4000, width: 32, readOnly: false, group: 'control' },
  { name: 'cpu_based_vm_exec_control', sdm: 'CPU_BASED_VM_EXEC_CONTROL', encoding: 0x4002, width: 32, readOnly: false, group: 'control' },
  { name: 'exception_bitmap', sdm: 'EXCEPTION_BITMAP', encoding: 0x4004, width: 32, readOnly: false, group: 'control' },
  { name: 'page_fault_error_code_mask', sdm: 'PAGE_FAULT_ERROR_CODE_MASK', encoding: 0x4006, width: 32, readOnly: false, group: 'control' },
  { name: 'page_fault_error_code_match', sdm: 'PAGE_FAULT_ERROR_CODE_MATCH', encoding: 0x4008, width: 32, readOnly: false, group: 'control' },
  { name: 'cr3_target_count', sdm: 'CR3_TARGET_COUNT', encoding: 0x400a, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_exit_controls', sdm: 'VM_EXIT_CONTROLS', encoding: 0x400c, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_exit_msr_store_count', sdm: 'VM_EXIT_MSR_STORE_COUNT', encoding: 0x400e, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_exit_msr_load_count', sdm: 'VM_EXIT_MSR_LOAD_COUNT', encoding: 0x4010, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_entry_controls', sdm: 'VM_ENTRY_CONTROLS', encoding: 0x4012, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_entry_msr_load_count', sdm: 'VM_ENTRY_MSR_LOAD_COUNT', encoding: 0x4014, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_entry_intr_info_field', sdm: 'VM_ENTRY_INTR_INFO_FIELD', encoding: 0x4016, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_entry_exception_error_code', sdm: 'VM_ENTRY_EXCEPTION_ERROR_CODE', encoding: 0x4018, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_entry_instruction_len', sdm: 'VM_ENTRY_INSTRUCTION_LEN', encoding: 0x401a, width: 32, readOnly: false, group: 'control' },
  { name: 'tpr_threshold', sdm: 'TPR_THRESHOLD', encoding: 0x401c, width: 32, readOnly: false, group: 'control' },
  { name: 'secondary_vm_exec_control', sdm: 'SECONDARY_VM_EXEC_CONTROL', encoding: 0x401e, width: 32, readOnly: false, group: 'control' },
  { name: 'vm_instruction_error', sdm: 'VM_INSTRUCTION_ERROR', encoding: 0x4400, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'vm_exit_reason', sdm: 'VM_EXIT_REASON', encoding: 0x4402, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'vm_exit_intr_info', sdm: 'VM_EXIT_INTR_INFO', encoding: 0x4404, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'vm_exit_intr_error_code', sdm: 'VM_EXIT_INTR_ERROR_CODE', encoding: 0x4406, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'idt_vectoring_info_field', sdm: 'IDT_VECTORING_INFO_FIELD', encoding: 0x4408, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'idt_vectoring_error_code', sdm: 'IDT_VECTORING_ERROR_CODE', encoding: 0x440a, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'vm_exit_instruction_len', sdm: 'VM_EXIT_INSTRUCTION_LEN', encoding: 0x440c, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'vmx_instruction_info', sdm: 'VMX_INSTRUCTION_INFO', encoding: 0x440e, width: 32, readOnly: true, group: 'exit-info' },
  { name: 'guest_es_limit', sdm: 'GUEST_ES_LIMIT', encoding: 0x4800, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_cs_limit', sdm: 'GUEST_CS_LIMIT', encoding: 0x4802, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ss_limit', sdm: 'GUEST_SS_LIMIT', encoding: 0x4804, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ds_limit', sdm: 'GUEST_DS_LIMIT', encoding: 0x4806, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_fs_limit', sdm: 'GUEST_FS_LIMIT', encoding: 0x4808, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_gs_limit', sdm: 'GUEST_GS_LIMIT', encoding: 0x480a, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ldtr_limit', sdm: 'GUEST_LDTR_LIMIT', encoding: 0x480c, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_tr_limit', sdm: 'GUEST_TR_LIMIT', encoding: 0x480e, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_gdtr_limit', sdm: 'GUEST_GDTR_LIMIT', encoding: 0x4810, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_idtr_limit', sdm: 'GUEST_IDTR_LIMIT', encoding: 0x4812, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_es_ar_bytes', sdm: 'GUEST_ES_AR_BYTES', encoding: 0x4814, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_cs_ar_bytes', sdm: 'GUEST_CS_AR_BYTES', encoding: 0x4816, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ss_ar_bytes', sdm: 'GUEST_SS_AR_BYTES', encoding: 0x4818, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ds_ar_bytes', sdm: 'GUEST_DS_AR_BYTES', encoding: 0x481a, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_fs_ar_bytes', sdm: 'GUEST_FS_AR_BYTES', encoding: 0x481c, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_gs_ar_bytes', sdm: 'GUEST_GS_AR_BYTES', encoding: 0x481e, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_ldtr_ar_bytes', sdm: 'GUEST_LDTR_AR_BYTES', encoding: 0x4820, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_tr_ar_bytes', sdm: 'GUEST_TR_AR_BYTES', encoding: 0x4822, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_interruptibility_info', sdm: 'GUEST_INTERRUPTIBILITY_INFO', encoding: 0x4824, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_activity_state', sdm: 'GUEST_ACTIVITY_STATE', encoding: 0x4826, width: 32, readOnly: false, group: 'guest' },
  { name: 'guest_sysenter_cs', sdm: 'GUEST_SYSENTER_CS', encoding: 0x482a, width: 32, readOnly: false, group: 'guest' },
  { name: 'vmx_preemption_timer_value', sdm: 'VMX_PREEMPTION_TIMER_VALUE', encoding: 0x482e, width: 32, readOnly: false, group: 'guest' },
  { name: 'host_ia32_sysenter_cs', sdm: 'HOST_IA32_SYSENTER_CS', encoding: 0x4c00, width: 32, readOnly: false, group: 'host' },
  // natural-width fields (width 3): SDM App. B.4; stored as u64 (vmcs12.h natural_width)
  { name: 'cr0_guest_host_mask', sdm: 'CR0_GUEST_HOST_MASK', encoding: 0x6000, width: 'natural', readOnly: false, group: 'control' },
  { name: 'cr4_guest_host_mask', sdm: 'CR4_GUEST_HOST_MASK', encoding: 0x6002, width: 'natural', readOnly: false, group: 'control' },
  { name: 'cr0_read_shadow', sdm: 'CR0_READ_SHADOW', encoding: 0x6004, width: 'natural', readOnly: false, group: 'control' },
  { name: 'cr4_read_shadow', sdm: 'CR4_READ_SHADOW', encoding: 0x6006, width: 'natural', readOnly: false, group: 'control' },
  { name: 'exit_qualification', sdm: 'EXIT_QUALIFICATION', encoding: 0x6400, width: 'natural', readOnly: true, group: 'exit-info' },
  { name: 'guest_linear_address', sdm: 'GUEST_LINEAR_ADDRESS', encoding: 0x640a, width: 'natural', readOnly: true, group: 'exit-info' },
  { name: 'guest_cr0', sdm: 'GUEST_CR0', encoding: 0x6800, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_cr3', sdm: 'GUEST_CR3', encoding: 0x6802, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_cr4', sdm: 'GUEST_CR4', encoding: 0x6804, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_es_base', sdm: 'GUEST_ES_BASE', encoding: 0x6806, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_cs_base', sdm: 'GUEST_CS_BASE', encoding: 0x6808, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_ss_base', sdm: 'GUEST_SS_BASE', encoding: 0x680a, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_ds_base', sdm: 'GUEST_DS_BASE', encoding: 0x680c, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_fs_base', sdm: 'GUEST_FS_BASE', encoding: 0x680e, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_gs_base', sdm: 'GUEST_GS_BASE', encoding: 0x6810, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_ldtr_base', sdm: 'GUEST_LDTR_BASE', encoding: 0x6812, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_tr_base', sdm: 'GUEST_TR_BASE', encoding: 0x6814, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_gdtr_base', sdm: 'GUEST_GDTR_BASE', encoding: 0x6816, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_idtr_base', sdm: 'GUEST_IDTR_BASE', encoding: 0x6818, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_dr7', sdm: 'GUEST_DR7', encoding: 0x681a, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_rsp', sdm: 'GUEST_RSP', encoding: 0x681c, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_rip', sdm: 'GUEST_RIP', encoding: 0x681e, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_rflags', sdm: 'GUEST_RFLAGS', encoding: 0x6820, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_pending_dbg_exceptions', sdm: 'GUEST_PENDING_DBG_EXCEPTIONS', encoding: 0x6822, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_sysenter_esp', sdm: 'GUEST_SYSENTER_ESP', encoding: 0x6824, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_sysenter_eip', sdm: 'GUEST_SYSENTER_EIP', encoding: 0x6826, width: 'natural', readOnly: false, group: 'guest' },
  // CET guest state (NEW kvm-x86; KVM member guest_ssp_tbl for GUEST_INTR_SSP_TABLE)
  { name: 'guest_s_cet', sdm: 'GUEST_S_CET', encoding: 0x6828, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_ssp', sdm: 'GUEST_SSP', encoding: 0x682a, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'guest_ssp_tbl', sdm: 'GUEST_INTR_SSP_TABLE', encoding: 0x682c, width: 'natural', readOnly: false, group: 'guest' },
  { name: 'host_cr0', sdm: 'HOST_CR0', encoding: 0x6c00, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_cr3', sdm: 'HOST_CR3', encoding: 0x6c02, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_cr4', sdm: 'HOST_CR4', encoding: 0x6c04, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_fs_base', sdm: 'HOST_FS_BASE', encoding: 0x6c06, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_gs_base', sdm: 'HOST_GS_BASE', encoding: 0x6c08, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_tr_base', sdm: 'HOST_TR_BASE', encoding: 0x6c0a, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_gdtr_base', sdm: 'HOST_GDTR_BASE', encoding: 0x6c0c, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_idtr_base', sdm: 'HOST_IDTR_BASE', encoding: 0x6c0e, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_ia32_sysenter_esp', sdm: 'HOST_IA32_SYSENTER_ESP', encoding: 0x6c10, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_ia32_sysenter_eip', sdm: 'HOST_IA32_SYSENTER_EIP', encoding: 0x6c12, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_rsp', sdm: 'HOST_RSP', encoding: 0x6c14, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_rip', sdm: 'HOST_RIP', encoding: 0x6c16, width: 'natural', readOnly: false, group: 'host' },
  // CET host state (NEW kvm-x86; KVM member host_ssp_tbl for HOST_INTR_SSP_TABLE)
  { name: 'host_s_cet', sdm: 'HOST_S_CET', encoding: 0x6c18, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_ssp', sdm: 'HOST_SSP', encoding: 0x6c1a, width: 'natural', readOnly: false, group: 'host' },
  { name: 'host_ssp_tbl', sdm: 'HOST_INTR_SSP_TABLE', encoding: 0x6c1c, width: 'natural', readOnly: false, group: 'host' },
] as const satisfies readonly Vmcs12FieldDef[];

type Row = (typeof VMCS12_FIELDS)[number];
/** 'guest_rip' | 'cpu_based_vm_exec_control' | ... */
export type Vmcs12FieldName = Row['name'];
/** 'GUEST_RIP' | 'CPU_BASED_VM_EXEC_CONTROL' | ... */
export type VmcsFieldConstName = Row['sdm'];

/** A row of VMCS12_FIELDS, with its name types narrowed. */
export interface Vmcs12Field extends Vmcs12FieldDef {
  readonly name: Vmcs12FieldName;
  readonly sdm: VmcsFieldConstName;
}

/** SDM-style encoding constants of every vmcs12 field: `VMCS.GUEST_RIP === 0x681e`. */
export const VMCS = Object.freeze(Object.fromEntries(VMCS12_FIELDS.map((f) => [f.sdm, f.encoding]))) as {
  readonly [R in Row as R['sdm']]: R['encoding'];
};

/**
 * Encodings the SDM (or asm/vmx.h) defines but KVM's vmcs12 table does not hold, so VMREAD/VMWRITE
 * of them fail with VMfailValid(12) UNSUPPORTED_VMCS_COMPONENT (spec §1.3). Note, cr3_target_value0..3
 * are members of struct vmcs12 but absent from vmcs12_field_offsets[] (CR3-target count 0).
 */
export const VMCS12_UNSUPPORTED_FIELDS = [
  { sdm: 'LAST_PID_POINTER_INDEX', encoding: 0x0008 },
  { sdm: 'VE_INFORMATION_ADDRESS', encoding: 0x202a },
  { sdm: 'TERTIARY_VM_EXEC_CONTROL', encoding: 0x2034 },
  { sdm: 'ENCLV_EXITING_BITMAP', encoding: 0x2036 },
  { sdm: 'PID_POINTER_TABLE', encoding: 0x2042 },
  { sdm: 'SECONDARY_VM_EXIT_CONTROLS', encoding: 0x2044 },
  { sdm: 'GUEST_IA32_RTIT_CTL', encoding: 0x2814 },
  { sdm: 'PLE_GAP', encoding: 0x4020 },
  { sdm: 'PLE_WINDOW', encoding: 0x4022 },
  { sdm: 'NOTIFY_WINDOW', encoding: 0x4024 },
  { sdm: 'CR3_TARGET_VALUE0', encoding: 0x6008 },
  { sdm: 'CR3_TARGET_VALUE1', encoding: 0x600a },
  { sdm: 'CR3_TARGET_VALUE2', encoding: 0x600c },
  { sdm: 'CR3_TARGET_VALUE3', encoding: 0x600e },
] as const;

const BY_NAME: ReadonlyMap<string, Vmcs12Field> = new Map(VMCS12_FIELDS.map((f) => [f.name, f]));
const BY_ENCODING: ReadonlyMap<number, Vmcs12Field> = new Map(VMCS12_FIELDS.map((f) => [f.encoding, f]));

/** The row for a KVM member name, or undefined. */
export function fieldByName(name: string): Vmcs12Field | undefined {
  return BY_NAME.get(name);
}

/** A field as addressed by an encoding: the whole field, or bits 63:32 of a 64-bit one. */
export interface Vmcs12FieldRef {
  field: Vmcs12Field;
  access: VmcsFieldAccess;
}

/**
 * The vmcs12 field an encoding names, as KVM's get_vmcs12_field_offset does: the full encoding
 * of any row, or the *_HIGH encoding (enc + 1) of a 64-bit row (FIELD64). Anything else,
 * including a high access to a 16/32-bit or natural-width field and any value with bits 63:15
 * set, is undefined: VMREAD/VMWRITE fail with VMfailValid(12).
 */
export function fieldByEncoding(enc: number): Vmcs12FieldRef | undefined {
  if (!Number.isInteger(enc) || enc < 0 || enc > 0x7fff) return undefined;
  const field = BY_ENCODING.get(fullEncoding(enc));
  if (field === undefined) return undefined;
  if (!isHighAccess(enc)) return { field, access: 'full' };
  return fieldWidth(enc) === 64 && field.width === 64 ? { field, access: 'high' } : undefined;
}

/** The KVM member name for an encoding (full or high access), or undefined when KVM has no such field. */
export function fieldNameOf(enc: number): Vmcs12FieldName | undefined {
  return fieldByEncoding(enc)?.field.name;
}

/** The rows of one group, in encoding order. */
export function fieldsOfGroup(group: VmcsFieldGroup): readonly Vmcs12Field[] {
  return VMCS12_FIELDS.filter((f) => f.group === group);
}

/** Highest index (bits 9:1) over the table: 0x19, TSC_MULTIPLIER. */
export const VMCS12_MAX_FIELD_INDEX: number = Math.max(...VMCS12_FIELDS.map((f) => fieldIndex(f.encoding)));

/**
 * Nested IA32_VMX_VMCS_ENUM as KVM computes it (nested.c nested_vmx_calc_vmcs_enum_msr): the
 * highest index over the table, in bits 9:1. 0x32 with TSC_MULTIPLIER present (spec §1.1).
 */
export const VMCS12_VMCS_ENUM: number = VMCS12_MAX_FIELD_INDEX << 1;

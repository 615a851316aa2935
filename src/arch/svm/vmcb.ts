// The VMCB as data: field names follow KVM's struct vmcb_control_area / vmcb_save_area
// (arch/x86/include/asm/svm.h) so a reviewer can grep both trees. Byte offsets live in layout.ts.
// Widths: u64 fields are bigint; u32-and-narrower fields are number (unsigned, 0..2^32-1).

export interface VmcbSeg {
  selector: number; // u16
  attrib: number; // u16: type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, DB 10, G 11
  limit: number; // u32
  base: bigint; // u64
}

export interface VmcbControl {
  /** intercepts[0..5], u32 words: CR, DR, EXCEPTION, WORD3, WORD4, WORD5 (APM 15.9, KVM enum INTERCEPT_*). */
  intercepts: number[];
  pause_filter_thresh: number;
  pause_filter_count: number;
  iopm_base_pa: bigint;
  msrpm_base_pa: bigint;
  tsc_offset: bigint;
  asid: number;
  tlb_ctl: number; // u8
  erap_ctl: number; // u8
  int_ctl: number;
  int_vector: number;
  int_state: number;
  /** One u64 since the svm_is_vmrun_failure series; older trees split it into exit_code/exit_code_hi. */
  exit_code: bigint;
  exit_info_1: bigint;
  exit_info_2: bigint;
  exit_int_info: number;
  exit_int_info_err: number;
  /** Old name nested_ctl. */
  misc_ctl: bigint;
  avic_vapic_bar: bigint;
  ghcb_gpa: bigint;
  event_inj: number;
  event_inj_err: number;
  nested_cr3: bigint;
  /** Old names virt_ext / lbr_ctl. */
  misc_ctl2: bigint;
  clean: number;
  next_rip: bigint;
  insn_len: number; // u8
  insn_bytes: number[]; // 15 bytes
  avic_backing_page: bigint;
  avic_logical_id: bigint;
  avic_physical_id: bigint;
  vmsa_pa: bigint;
  bus_lock_counter: number; // u16
  allowed_sev_features: bigint;
  guest_sev_features: bigint;
}

export interface VmcbSave {
  es: VmcbSeg;
  cs: VmcbSeg;
  ss: VmcbSeg;
  ds: VmcbSeg;
  fs: VmcbSeg;
  gs: VmcbSeg;
  gdtr: VmcbSeg;
  ldtr: VmcbSeg;
  idtr: VmcbSeg;
  tr: VmcbSeg;
  vmpl: number; // u8
  cpl: number; // u8
  efer: bigint;
  cr4: bigint;
  cr3: bigint;
  cr0: bigint;
  dr7: bigint;
  dr6: bigint;
  rflags: bigint;
  rip: bigint;
  rsp: bigint;
  s_cet: bigint;
  ssp: bigint;
  isst_addr: bigint;
  rax: bigint;
  star: bigint;
  lstar: bigint;
  cstar: bigint;
  sfmask: bigint;
  kernel_gs_base: bigint;
  sysenter_cs: bigint;
  sysenter_esp: bigint;
  sysenter_eip: bigint;
  cr2: bigint;
  g_pat: bigint;
  dbgctl: bigint;
  br_from: bigint;
  br_to: bigint;
  last_excp_from: bigint;
  last_excp_to: bigint;
  spec_ctrl: bigint;
}

export interface Vmcb {
  control: VmcbControl;
  save: VmcbSave;
}

export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'gdtr', 'ldtr', 'idtr', 'tr'] as const;
export type SegName = (typeof SEG_NAMES)[number];

export function zeroSeg(): VmcbSeg {
  return { selector: 0, attrib: 0, limit: 0, base: 0n };
}

export function zeroControl(): VmcbControl {
  return {
    intercepts: [0, 0, 0, 0, 0, 0],
    pause_filter_thresh: 0,
    pause_filter_count: 0,
    iopm_base_pa: 0n,
    msrpm_base_pa: 0n,
    tsc_offset: 0n,
    asid: 0,
    tlb_ctl: 0,
    erap_ctl: 0,
    int_ctl: 0,
    int_vector: 0,
    int_state: 0,
    exit_code: 0n,
    exit_info_1: 0n,
    exit_info_2: 0n,
    exit_int_info: 0,
    exit_int_info_err: 0,
    misc_ctl: 0n,
    avic_vapic_bar: 0n,
    ghcb_gpa: 0n,
    event_inj: 0,
    event_inj_err: 0,
    nested_cr3: 0n,
    misc_ctl2: 0n,
    clean: 0,
    next_rip: 0n,
    insn_len: 0,
    insn_bytes: new Array(15).fill(0),
    avic_backing_page: 0n,
    avic_logical_id: 0n,
    avic_physical_id: 0n,
    vmsa_pa: 0n,
    bus_lock_counter: 0,
    allowed_sev_features: 0n,
    guest_sev_features: 0n,
  };
}

export function zeroSave(): VmcbSave {
  return {
    es: zeroSeg(), cs: zeroSeg(), ss: zeroSeg(), ds: zeroSeg(), fs: zeroSeg(),
    gs: zeroSeg(), gdtr: zeroSeg(), ldtr: zeroSeg(), idtr: zeroSeg(), tr: zeroSeg(),
    vmpl: 0, cpl: 0,
    efer: 0n, cr4: 0n, cr3: 0n, cr0: 0n, dr7: 0n, dr6: 0n, rflags: 0n, rip: 0n, rsp: 0n,
    s_cet: 0n, ssp: 0n, isst_addr: 0n, rax: 0n,
    star: 0n, lstar: 0n, cstar: 0n, sfmask: 0n, kernel_gs_base: 0n,
    sysenter_cs: 0n, sysenter_esp: 0n, sysenter_eip: 0n, cr2: 0n,
    g_pat: 0n, dbgctl: 0n, br_from: 0n, br_to: 0n, last_excp_from: 0n, last_excp_to: 0n,
    spec_ctrl: 0n,
  };
}

export function zeroVmcb(): Vmcb {
  return { control: zeroControl(), save: zeroSave() };
}

export function cloneSeg(s: VmcbSeg): VmcbSeg {
  return { selector: s.selector, attrib: s.attrib, limit: s.limit, base: s.base };
}

// Explicit field-by-field copies: object literals of a fixed shape keep V8 on its fast path in the
// engine's hot loop (a spread of 40 keys is several times slower).
export function cloneControl(c: VmcbControl): VmcbControl {
  return {
    intercepts: c.intercepts.slice(),
    pause_filter_thresh: c.pause_filter_thresh,
    pause_filter_count: c.pause_filter_count,
    iopm_base_pa: c.iopm_base_pa,
    msrpm_base_pa: c.msrpm_base_pa,
    tsc_offset: c.tsc_offset,
    asid: c.asid,
    tlb_ctl: c.tlb_ctl,
    erap_ctl: c.erap_ctl,
    int_ctl: c.int_ctl,
    int_vector: c.int_vector,
    int_state: c.int_state,
    exit_code: c.exit_code,
    exit_info_1: c.exit_info_1,
    exit_info_2: c.exit_info_2,
    exit_int_info: c.exit_int_info,
    exit_int_info_err: c.exit_int_info_err,
    misc_ctl: c.misc_ctl,
    avic_vapic_bar: c.avic_vapic_bar,
    ghcb_gpa: c.ghcb_gpa,
    event_inj: c.event_inj,
    event_inj_err: c.event_inj_err,
    nested_cr3: c.nested_cr3,
    misc_ctl2: c.misc_ctl2,
    clean: c.clean,
    next_rip: c.next_rip,
    insn_len: c.insn_len,
    insn_bytes: c.insn_bytes.slice(),
    avic_backing_page: c.avic_backing_page,
    avic_logical_id: c.avic_logical_id,
    avic_physical_id: c.avic_physical_id,
    vmsa_pa: c.vmsa_pa,
    bus_lock_counter: c.bus_lock_counter,
    allowed_sev_features: c.allowed_sev_features,
    guest_sev_features: c.guest_sev_features,
  };
}

export function cloneSave(s: VmcbSave): VmcbSave {
  return {
    es: cloneSeg(s.es), cs: cloneSeg(s.cs), ss: cloneSeg(s.ss), ds: cloneSeg(s.ds),
    fs: cloneSeg(s.fs), gs: cloneSeg(s.gs), gdtr: cloneSeg(s.gdtr), ldtr: cloneSeg(s.ldtr),
    idtr: cloneSeg(s.idtr), tr: cloneSeg(s.tr),
    vmpl: s.vmpl, cpl: s.cpl,
    efer: s.efer, cr4: s.cr4, cr3: s.cr3, cr0: s.cr0, dr7: s.dr7, dr6: s.dr6, rflags: s.rflags,
    rip: s.rip, rsp: s.rsp, s_cet: s.s_cet, ssp: s.ssp, isst_addr: s.isst_addr, rax: s.rax,
    star: s.star, lstar: s.lstar, cstar: s.cstar, sfmask: s.sfmask, kernel_gs_base: s.kernel_gs_base,
    sysenter_cs: s.sysenter_cs, sysenter_esp: s.sysenter_esp, sysenter_eip: s.sysenter_eip, cr2: s.cr2,
    g_pat: s.g_pat, dbgctl: s.dbgctl, br_from: s.br_from, br_to: s.br_to,
    last_excp_from: s.last_excp_from, last_excp_to: s.last_excp_to, spec_ctrl: s.spec_ctrl,
  };
}

export function cloneVmcb(v: Vmcb): Vmcb {
  return { control: cloneControl(v.control), save: cloneSave(v.save) };
}

// Test helpers: a VMCB whose every field holds a distinct, width-filling value.
import type { Vmcb, VmcbSeg } from '../../../src/arch/svm/vmcb.ts';

/** Hand-written (not derived from layout.ts) so the codec tests check the table too. */
export function distinctVmcb(): Vmcb {
  let k = 0;
  const u64 = (): bigint => { k++; return (BigInt(k) << 56n) | 0x00a1b2c3d4e5f600n | BigInt(k); };
  const u32 = (): number => { k++; return ((k << 24) | 0x00c3d400 | k) >>> 0; };
  const u16 = (): number => { k++; return ((k << 8) | 0x80 | k) & 0xffff; };
  const u8 = (): number => { k++; return (0x80 | k) & 0xff; };
  const seg = (): VmcbSeg => ({ selector: u16(), attrib: u16(), limit: u32(), base: u64() });
  return {
    control: {
      intercepts: [u32(), u32(), u32(), u32(), u32(), u32()],
      pause_filter_thresh: u16(), pause_filter_count: u16(),
      iopm_base_pa: u64(), msrpm_base_pa: u64(), tsc_offset: u64(),
      asid: u32(), tlb_ctl: u8(), erap_ctl: u8(),
      int_ctl: u32(), int_vector: u32(), int_state: u32(),
      exit_code: u64(), exit_info_1: u64(), exit_info_2: u64(),
      exit_int_info: u32(), exit_int_info_err: u32(),
      misc_ctl: u64(), avic_vapic_bar: u64(), ghcb_gpa: u64(),
      event_inj: u32(), event_inj_err: u32(),
      nested_cr3: u64(), misc_ctl2: u64(), clean: u32(), next_rip: u64(),
      insn_len: u8(), insn_bytes: Array.from({ length: 15 }, () => u8()),
      avic_backing_page: u64(), avic_logical_id: u64(), avic_physical_id: u64(), vmsa_pa: u64(),
      bus_lock_counter: u16(), allowed_sev_features: u64(), guest_sev_features: u64(),
    },
    save: {
      es: seg(), cs: seg(), ss: seg(), ds: seg(), fs: seg(), gs: seg(),
      gdtr: seg(), ldtr: seg(), idtr: seg(), tr: seg(),
      vmpl: u8(), cpl: u8(),
      efer: u64(), cr4: u64(), cr3: u64(), cr0: u64(), dr7: u64(), dr6: u64(), rflags: u64(), rip: u64(),
      rsp: u64(), s_cet: u64(), ssp: u64(), isst_addr: u64(), rax: u64(),
      star: u64(), lstar: u64(), cstar: u64(), sfmask: u64(), kernel_gs_base: u64(),
      sysenter_cs: u64(), sysenter_esp: u64(), sysenter_eip: u64(), cr2: u64(),
      g_pat: u64(), dbgctl: u64(), br_from: u64(), br_to: u64(), last_excp_from: u64(), last_excp_to: u64(),
      spec_ctrl: u64(),
    },
  };
}

/** Little-endian integer of `width` bytes at `off`. */
export function readLE(page: Uint8Array, off: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(page[off + i]);
  return v;
}

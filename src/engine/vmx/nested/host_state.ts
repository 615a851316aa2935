// load_vmcs12_host_state (SDM §28.5 "Loading Host State", KVM vmx/nested.c): what L1 runs with after
// any VM exit from L2 and after a failed VM entry (exit 33/34): vmcs12's host fields, the fixed values
// the SDM gives (RFLAGS = 2, DR7 = 0x400, DEBUGCTL = 0, flat segments, GDTR/IDTR limit 0xffff, TR
// limit 0x67, LDTR unusable), then the VM-exit MSR-load list. A failure there is a VMX abort, which
// KVM turns into a triple fault (nested_vmx_abort).

import { EFER } from '../../../arch/svm/defs.ts';
import { VM_EXIT } from '../../../arch/vmx/controls.ts';
import type { VmxMachine } from '../machine.ts';
import { nested_vmx_load_cr3 } from './vmcs02.ts';
import { nested_vmx_load_msr } from './msr_list.ts';
import type { VmxSegment } from '../scenario.ts';

/** VMX-abort indicators (SDM §28.7; KVM VMX_ABORT_*). */
export const VMX_ABORT = { SAVE_GUEST_MSR_FAIL: 1, LOAD_HOST_PDPTE_FAIL: 2, LOAD_HOST_MSR_FAIL: 4 } as const;

/** nested_vmx_abort: KVM does not model the VMX-abort state; it requests a triple fault. */
export function nested_vmx_abort(m: VmxMachine, indicator: number): void {
  m.t.emit('nested_vmx_abort', { indicator });
  m.triple_fault = true;
}

const SEG_FLAT_LIMIT = 0xffffffff;
/** Access rights SDM §28.5.2 gives: code type 11, data type 3, S = 1, P = 1, G = 1; L or D/B by host address-space size. */
const AR_CODE64 = 0xa09b;
const AR_CODE32 = 0xc09b;
const AR_DATA = 0xc093;
const AR_TSS_BUSY = 0x008b;
const AR_UNUSABLE = 0x10000;

const flat = (selector: number, ar: number, base = 0n): VmxSegment => ({ selector: selector & 0xffff, base, limit: SEG_FLAT_LIMIT, ar });

export function load_vmcs12_host_state(m: VmxMachine): void {
  const v = m.vmcs12;
  const l1 = m.l1;
  const host64 = (v.vm_exit_controls & VM_EXIT.HOST_ADDR_SPACE_SIZE) !== 0;

  // §28.5.1: IA32_EFER from the field with "load IA32_EFER", else LMA/LME follow the host address-space size.
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_EFER) !== 0) l1.efer = BigInt.asUintN(64, v.host_ia32_efer);
  else if (host64) l1.efer |= EFER.LMA | EFER.LME;
  else l1.efer &= ~(EFER.LMA | EFER.LME);

  // §28.5.3: RSP and RIP from the host fields, RFLAGS cleared except bit 1; no interrupt shadow.
  l1.rsp = BigInt.asUintN(64, v.host_rsp);
  l1.rip = BigInt.asUintN(64, v.host_rip);
  l1.rflags = 0x2n;
  l1.interruptibility = 0;
  l1.cpl = 0;

  l1.cr0 = BigInt.asUintN(64, v.host_cr0);
  l1.cr4 = BigInt.asUintN(64, v.host_cr4);
  // nested_vmx_load_cr3(host_cr3, !nested_ept, reload_pdptrs): a PAE host whose PDPTEs are bad is a VMX abort.
  const bad = nested_vmx_load_cr3(m, BigInt.asUintN(64, v.host_cr3), false, true, { cr0: l1.cr0, cr4: l1.cr4, efer: l1.efer });
  if (bad !== null) nested_vmx_abort(m, VMX_ABORT.LOAD_HOST_PDPTE_FAIL);
  l1.cr3 = BigInt.asUintN(64, v.host_cr3);

  l1.sysenter_cs = v.host_ia32_sysenter_cs >>> 0;
  l1.sysenter_esp = BigInt.asUintN(64, v.host_ia32_sysenter_esp);
  l1.sysenter_eip = BigInt.asUintN(64, v.host_ia32_sysenter_eip);
  l1.idtr = { base: BigInt.asUintN(64, v.host_idtr_base), limit: 0xffff };
  l1.gdtr = { base: BigInt.asUintN(64, v.host_gdtr_base), limit: 0xffff };

  if ((v.vm_exit_controls & VM_EXIT.CLEAR_BNDCFGS) !== 0) l1.bndcfgs = 0n;
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_PAT) !== 0) l1.pat = BigInt.asUintN(64, v.host_ia32_pat);
  if ((v.vm_exit_controls & VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL) !== 0) l1.perf_global_ctrl = BigInt.asUintN(64, v.host_ia32_perf_global_ctrl);
  if ((v.vm_exit_controls & VM_EXIT.LOAD_CET_STATE) !== 0) {
    l1.s_cet = BigInt.asUintN(64, v.host_s_cet);
    l1.ssp = BigInt.asUintN(64, v.host_ssp);
    l1.ssp_tbl = BigInt.asUintN(64, v.host_ssp_tbl);
  }

  // §28.5.2. Note, KVM loads DS/ES/FS/GS/SS as usable even for a null selector (the SDM makes them unusable).
  l1.seg = {
    cs: flat(v.host_cs_selector, host64 ? AR_CODE64 : AR_CODE32),
    ss: flat(v.host_ss_selector, AR_DATA),
    ds: flat(v.host_ds_selector, AR_DATA),
    es: flat(v.host_es_selector, AR_DATA),
    fs: flat(v.host_fs_selector, AR_DATA, BigInt.asUintN(64, v.host_fs_base)),
    gs: flat(v.host_gs_selector, AR_DATA, BigInt.asUintN(64, v.host_gs_base)),
    tr: { selector: v.host_tr_selector & 0xffff, base: BigInt.asUintN(64, v.host_tr_base), limit: 0x67, ar: AR_TSS_BUSY },
    ldtr: { selector: 0, base: 0n, limit: 0, ar: AR_UNUSABLE },
  };

  // §28.5.1: DR7 ← 400H and IA32_DEBUGCTL ← 0.
  l1.dr7 = 0x400n;
  l1.debugctl = 0n;

  // §28.6: the VM-exit MSR-load list; a failure is a VMX abort (indicator 4).
  if (nested_vmx_load_msr(m, BigInt.asUintN(64, v.vm_exit_msr_load_addr), v.vm_exit_msr_load_count, 'exit-msr-load') !== 0) {
    nested_vmx_abort(m, VMX_ABORT.LOAD_HOST_MSR_FAIL);
  }
}

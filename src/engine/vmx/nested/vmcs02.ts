// Building vmcs02 from vmcs12 (prepare_vmcs02_early / prepare_vmcs02, nested_vmx_prepare_msr_bitmap,
// nested_vmx_load_cr3): the effective CR0/CR4/EFER KVM gives the CPU, the merged MSR bitmap's x2APIC
// pass-throughs, and the two failures prepare_vmcs02 can report as exit 33 (DEFAULT or PDPTE).

import { CR0, CR4, EFER } from '../../../arch/svm/defs.ts';
import { CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY } from '../../../arch/vmx/controls.ts';
import { ENTRY_FAIL } from '../../../arch/vmx/errors.ts';
import { guestSegment, type GuestSegName } from '../../../arch/vmx/guest_segments.ts';
import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { nested_cpu_has2 } from './checks_controls.ts';
import { kvm_vcpu_is_legal_cr3 } from '../../x86.ts';
import type { VmxMachine } from '../machine.ts';
import type { Vmcs02State } from '../result.ts';
import type { VmxL0 } from '../scenario.ts';
import { INVALID_GPA } from '../vcpu.ts';

const U64 = 0xffffffffffffffffn;


/** is_unrestricted_guest() while L2 runs: L0's module parameter and vmcs12's control. */
export function l2_unrestricted(l0: VmxL0, v: Vmcs12): boolean {
  return l0.enable_unrestricted_guest && nested_cpu_has2(v, SECONDARY.UNRESTRICTED_GUEST);
}

/**
 * nested_vmx_calc_efer: LOAD_IA32_EFER ⇒ vmcs12's guest EFER; otherwise L1's EFER with LMA and LME
 * set or cleared by the IA-32e-mode-guest entry control (SDM §27.3.2.1 "Loading Guest Control Registers, Debug Registers, and MSRs").
 */
export function nested_vmx_calc_efer(l1_efer: bigint, v: Vmcs12): bigint {
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_IA32_EFER) !== 0) return BigInt.asUintN(64, v.guest_ia32_efer);
  if ((v.vm_entry_controls & VM_ENTRY.IA32E_MODE) !== 0) return l1_efer | EFER.LMA | EFER.LME;
  return l1_efer & ~(EFER.LMA | EFER.LME);
}

/**
 * vmx_set_cr0's hardware CR0: CD and NW never reach the CPU (KVM_VM_CR0_ALWAYS_OFF); NE always, and
 * without unrestricted guest also PE and PG (KVM_VM_CR0_ALWAYS_ON): KVM runs such a guest paged and
 * protected whatever L1 wrote.
 */
export function vmcs02_cr0(l0: VmxL0, v: Vmcs12): bigint {
  const cr0 = BigInt.asUintN(64, v.guest_cr0) & ~(CR0.CD | CR0.NW);
  return cr0 | CR0.NE | (l2_unrestricted(l0, v) ? 0n : CR0.PE | CR0.PG);
}

/**
 * vmx_set_cr4's hardware CR4: VMXE always; without unrestricted guest PAE too (KVM_PMODE_VM_CR4_ALWAYS_ON),
 * which with EPT is dropped again when the guest is not paging or paging without PAE. Without EPT
 * (shadow paging) PAE stays forced: the CPU cannot see an IA-32e guest that lacks PAE (CVE-2023-30456).
 */
export function vmcs02_cr4(l0: VmxL0, v: Vmcs12): bigint {
  const cr4 = BigInt.asUintN(64, v.guest_cr4);
  if (l2_unrestricted(l0, v)) return cr4 | CR4.VMXE;
  let hw = cr4 | CR4.PAE | CR4.VMXE;
  if (l0.enable_ept) {
    const paging = (BigInt.asUintN(64, v.guest_cr0) & CR0.PG) !== 0n;
    if (!paging) hw = (hw & ~CR4.PAE) | CR4.PSE;
    else if ((cr4 & CR4.PAE) === 0n) hw &= ~CR4.PAE;
    if (!paging) hw &= ~(CR4.SMEP | CR4.SMAP | CR4.PKE);
  }
  return hw;
}

const X2APIC_TPR = 0x808;
const X2APIC_EOI = 0x80b;
const X2APIC_SELF_IPI = 0x83f;

/** L1's MSR bitmap says "exit" for this access (SDM §25.6.9: read-low at 0x000, write-low at 0x800). */
function l1Intercepts(m: VmxMachine, msr: number, write: boolean): boolean {
  const bit = m.mem.bit(m.vmcs12.msr_bitmap, (write ? 0x800 * 8 : 0) + msr);
  return bit !== false;
}

/**
 * nested_vmx_prepare_msr_bitmap, x2APIC range only: every x2APIC MSR is intercepted in vmcs02 unless
 * vmcs12 virtualizes x2APIC mode (then the CPU serves them from the virtual-APIC page) and L1's own
 * bitmap passes the access: reads of all of them with APIC-register virtualization, TPR read/write,
 * and with virtual-interrupt delivery EOI and SELF_IPI writes. Returns the pass-throughs as "r:0x808".
 * Without the CVE-2019-3887 fix the block was not guarded by virtualize-x2APIC-mode, so L2 could reach
 * L0's x2APIC MSRs whenever vmcs12 enabled APIC-register virtualization alone.
 */
export function nested_vmx_prepare_msr_bitmap(m: VmxMachine): string[] {
  const v = m.vmcs12;
  if ((v.cpu_based_vm_exec_control & CPU_BASED.USE_MSR_BITMAPS) === 0) return [];
  // kvm_vcpu_map of L1's bitmap fails outside a memslot: vmcs02 then intercepts every MSR.
  if (!m.mem.readable(BigInt.asUintN(64, v.msr_bitmap), 0x1000)) return [];
  const guarded = has(m.p, 'vmx-x2apic-msr-bitmap-guard');
  if (guarded && !nested_cpu_has2(v, SECONDARY.VIRTUALIZE_X2APIC_MODE)) return [];
  const pass = new Set<string>();
  const hex = (n: number): string => '0x' + n.toString(16);
  if (nested_cpu_has2(v, SECONDARY.APIC_REGISTER_VIRT)) {
    for (let msr = 0x800; msr <= 0x8ff; msr++) if (!l1Intercepts(m, msr, false)) pass.add(`r:${hex(msr)}`);
  }
  if (!l1Intercepts(m, X2APIC_TPR, false)) pass.add(`r:${hex(X2APIC_TPR)}`);
  if (!l1Intercepts(m, X2APIC_TPR, true)) pass.add(`w:${hex(X2APIC_TPR)}`);
  if (nested_cpu_has2(v, SECONDARY.VIRTUAL_INTR_DELIVERY)) {
    if (!l1Intercepts(m, X2APIC_EOI, true)) pass.add(`w:${hex(X2APIC_EOI)}`);
    if (!l1Intercepts(m, X2APIC_SELF_IPI, true)) pass.add(`w:${hex(X2APIC_SELF_IPI)}`);
  }
  return [...pass].sort();
}

/**
 * prepare_vmcs02_early (controls) and the register part of prepare_vmcs02: what the CPU gets. The
 * virtual-APIC address is INVALID_GPA when L1's page cannot be mapped (nested_get_vmcs12_pages).
 */
export function build_vmcs02(m: VmxMachine, l2_efer: bigint): Vmcs02State {
  const v = m.vmcs12;
  const l0 = m.s.l0;
  let secondary = (v.cpu_based_vm_exec_control & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0 ? v.secondary_vm_exec_control : 0;
  // PML and VMCS shadowing are emulated for L2, never enabled in hardware.
  secondary &= ~(SECONDARY.ENABLE_PML | SECONDARY.SHADOW_VMCS);
  if (l0.enable_ept) secondary |= SECONDARY.ENABLE_EPT;
  let proc = v.cpu_based_vm_exec_control >>> 0;
  let vapic = BigInt.asUintN(64, v.virtual_apic_page_addr);
  // nested_get_vmcs12_pages: an unmappable virtual-APIC page drops TPR shadowing when L1 exits on
  // every CR8 access anyway (and does not virtualize APIC accesses); otherwise vmcs02 gets
  // INVALID_GPA so that the CPU's own control check fails the entry.
  if ((proc & CPU_BASED.TPR_SHADOW) !== 0 && !m.mem.readable(vapic, 0x1000)) {
    const cr8 = CPU_BASED.CR8_LOAD_EXITING | CPU_BASED.CR8_STORE_EXITING;
    if ((proc & cr8) === cr8 && !nested_cpu_has2(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES)) proc = (proc & ~CPU_BASED.TPR_SHADOW) >>> 0;
    else vapic = INVALID_GPA;
  }
  return {
    cr0: vmcs02_cr0(l0, v),
    cr3: BigInt.asUintN(64, v.guest_cr3),
    cr4: vmcs02_cr4(l0, v),
    efer: l2_efer,
    ia32e: (l2_efer & EFER.LMA) !== 0n,
    pin: (v.pin_based_vm_exec_control | PIN_BASED.EXT_INTR_MASK | PIN_BASED.NMI_EXITING) >>> 0,
    proc,
    secondary: secondary >>> 0,
    entry: v.vm_entry_controls >>> 0,
    exit: v.vm_exit_controls >>> 0,
    virtual_apic_page_addr: vapic,
    x2apic_passthrough: nested_vmx_prepare_msr_bitmap(m),
  };
}

// ---- vmx_guest_state_valid (vmx.c): the state a CPU without unrestricted guest can run ----------

interface Seg {
  sel: number;
  base: bigint;
  limit: number;
  ar: number;
}

function seg(v: Vmcs12, n: GuestSegName): Seg {
  const g = guestSegment(v, n);
  return { sel: g.selector & 0xffff, base: BigInt.asUintN(64, g.base), limit: g.limit >>> 0, ar: g.ar_bytes >>> 0 };
}

const AR = { type: (a: number) => a & 0xf, s: (a: number) => (a >>> 4) & 1, dpl: (a: number) => (a >>> 5) & 3, p: (a: number) => (a >>> 7) & 1, unusable: (a: number) => (a >>> 16) & 1 };

/** rmode_segment_valid: base = selector << 4, limit 0xffff, and access rights 0xf3 once DPL 3 (and CS type 3) are forced. */
function rmode_segment_valid(s: Seg, isCs: boolean): boolean {
  let ar = (s.ar & ~0x60) | 0x60;
  if (isCs) ar = (ar & ~0xf) | 0x3;
  return s.base === BigInt(s.sel) << 4n && s.limit === 0xffff && (ar & 0x1f0ff) === 0xf3;
}

function code_segment_valid(cs: Seg): boolean {
  const type = AR.type(cs.ar);
  if (AR.unusable(cs.ar) || (type & 0x9) !== 0x9 || !AR.s(cs.ar) || !AR.p(cs.ar)) return false;
  const rpl = cs.sel & 3;
  // Conforming code (type bit 2) may have DPL ≤ RPL; other code needs DPL == RPL.
  return (type & 0x4) !== 0 ? AR.dpl(cs.ar) <= rpl : AR.dpl(cs.ar) === rpl;
}

function stack_segment_valid(ss: Seg): boolean {
  if (AR.unusable(ss.ar)) return true;
  const type = AR.type(ss.ar);
  return (type === 3 || type === 7) && AR.s(ss.ar) === 1 && AR.dpl(ss.ar) === (ss.sel & 3) && AR.p(ss.ar) === 1;
}

function data_segment_valid(s: Seg): boolean {
  if (AR.unusable(s.ar)) return true;
  const type = AR.type(s.ar);
  if (!AR.s(s.ar) || !AR.p(s.ar) || (type & 0x1) === 0) return false;
  if ((type & 0x8) !== 0 && (type & 0x2) === 0) return false;
  return type >= 0xc || AR.dpl(s.ar) >= (s.sel & 3);
}

function tr_valid(tr: Seg): boolean {
  const type = AR.type(tr.ar);
  return !AR.unusable(tr.ar) && (tr.sel & 0x4) === 0 && (type === 3 || type === 11) && AR.p(tr.ar) === 1;
}

function ldtr_valid(l: Seg): boolean {
  if (AR.unusable(l.ar)) return true;
  return (l.sel & 0x4) === 0 && AR.type(l.ar) === 2 && AR.p(l.ar) === 1;
}

/**
 * vmx_guest_state_valid without unrestricted guest: real mode needs vm86-compatible segments, protected
 * mode needs CS.RPL == SS.RPL and valid code/stack/data segments, TR and LDTR (vmx.c __vmx_guest_state_valid).
 */
export function vmx_guest_state_valid(v: Vmcs12): boolean {
  const cr0 = BigInt.asUintN(64, v.guest_cr0);
  const names = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
  if ((cr0 & CR0.PE) === 0n) return names.every((n) => rmode_segment_valid(seg(v, n), n === 'cs'));
  const cs = seg(v, 'cs');
  const ss = seg(v, 'ss');
  if ((cs.sel & 3) !== (ss.sel & 3)) return false;
  if (!code_segment_valid(cs) || !stack_segment_valid(ss)) return false;
  if (!(['ds', 'es', 'fs', 'gs'] as const).every((n) => data_segment_valid(seg(v, n)))) return false;
  return tr_valid(seg(v, 'tr')) && ldtr_valid(seg(v, 'ldtr'));
}

// ---- nested_vmx_load_cr3 ----------------------------------------------------------------------

/** load_pdptrs: the four PDPTEs at CR3[31:5] must be readable and have no reserved bit set when present. */
function load_pdptrs(m: VmxMachine, cr3: bigint): boolean {
  const base = cr3 & 0xffffffe0n;
  const rsvd = ((U64 >> BigInt(m.s.guest.maxphyaddr)) << BigInt(m.s.guest.maxphyaddr)) | 0x1e6n; // bits ≥ MAXPHYADDR, 8:5, 2:1
  for (let i = 0n; i < 4n; i++) {
    const pdpte = m.mem.read64(base + i * 8n);
    if (pdpte === null) return false;
    if ((pdpte & 1n) !== 0n && (pdpte & rsvd) !== 0n) return false;
  }
  return true;
}

/**
 * nested_vmx_load_cr3: an illegal CR3 fails with ENTRY_FAIL_DEFAULT; PAE paging without nested EPT
 * reloads the PDPTEs from L1 memory and fails with ENTRY_FAIL_PDPTE (SDM §27.3.1.6 via KVM's
 * software walk); with nested EPT the CPU takes the PDPTEs from vmcs12 instead.
 */
export function nested_vmx_load_cr3(m: VmxMachine, cr3: bigint, nested_ept: boolean, reload_pdptrs: boolean, l2: { cr0: bigint; cr4: bigint; efer: bigint }): number | null {
  if (cc(m.t, 'load-cr3-illegal', !kvm_vcpu_is_legal_cr3(cr3, m.s.guest.maxphyaddr, m.s.guest.cpuid))) return ENTRY_FAIL.DEFAULT;
  const paePaging = (l2.cr0 & CR0.PG) !== 0n && (l2.cr4 & CR4.PAE) !== 0n && (l2.efer & EFER.LMA) === 0n;
  if (reload_pdptrs && !nested_ept && paePaging && cc(m.t, 'load-cr3-pdptes-invalid', !load_pdptrs(m, cr3))) return ENTRY_FAIL.PDPTE;
  return null;
}

/**
 * prepare_vmcs02's failures: without unrestricted guest a state vmx_guest_state_valid refuses
 * (DEFAULT), then nested_vmx_load_cr3. Returns the entry-failure code, or null.
 */
export function prepare_vmcs02(m: VmxMachine, from_vmentry: boolean, l2_efer: bigint): number | null {
  const v = m.vmcs12;
  if (from_vmentry && !l2_unrestricted(m.s.l0, v) && cc(m.t, 'prepare-vmcs02-guest-state-invalid', !vmx_guest_state_valid(v))) return ENTRY_FAIL.DEFAULT;
  const l2 = { cr0: BigInt.asUintN(64, v.guest_cr0), cr4: BigInt.asUintN(64, v.guest_cr4), efer: l2_efer };
  return nested_vmx_load_cr3(m, BigInt.asUintN(64, v.guest_cr3), nested_cpu_has2(v, SECONDARY.ENABLE_EPT), from_vmentry, l2);
}

export const VMX_PREPARE_CHECK_IDS: readonly string[] = ['prepare-vmcs02-guest-state-invalid', 'load-cr3-illegal', 'load-cr3-pdptes-invalid'];

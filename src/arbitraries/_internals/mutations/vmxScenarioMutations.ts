// Scenario-level boundary mutations of a valid nested-VMX scenario, one entry per rule: the
// nested_vmx_run gates before the vmcs12 checks (permission, mode #UDs, current VMCS, MOV-SS
// blocking, launch state, address-space size), MSR-list contents and reachability, the VMCS link
// pointer's page, PAE PDPTEs, KVM-reserved CR4 bits, and KVM_SET_NESTED_STATE. The vmcs12-only table
// (vmxMutations.ts) can't express these because they live in L1 state, L1 memory or the path.
// `apply(s, k)` edits a scenario in place, depends only on (s, k), never throws; k = 0 is the plainest
// variant.

import { CR0, CR4, EFER, RFLAGS } from '../../../arch/svm/defs.ts';
import { type NestedVmxMsrs, EPT_CAP } from '../../../arch/vmx/caps.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY } from '../../../arch/vmx/controls.ts';
import { EPTP } from '../../../arch/vmx/eptp.ts';
import { INTR_INFO, INTR_TYPE } from '../../../arch/vmx/intr_info.ts';
import { VMCS12_HDR_SHADOW_VMCS, VMCS12_REVISION } from '../../../arch/vmx/vmcs12.ts';
import { memKey, type VmxScenario } from '../../../engine/vmx/scenario.ts';
import { capsForL0 } from '../../../engine/vmx/scenario_base.ts';
import { VMCS12_BASE_GPA } from '../../../engine/vmx/nested/vmcs12_base.ts';
import { proc, sec } from '../helpers/controlBits.ts';
import { MSR_IDX, nestedEptOn, toPae32, VMX_SCN_GPA, writeMsrEntry, type MsrListEntry } from '../builders/baseVmxScenario.ts';

export interface VmxScenarioMutation {
  id: string;
  /** The check (spec §2 / KVM function) or SDM rule this mutation targets. */
  rule: string;
  apply: (s: VmxScenario, k: number) => void;
}

/** k as a non-negative integer (a non-finite k is 0), so every variant lookup is in range. */
const nk = (k: number): number => (Number.isFinite(k) ? Math.abs(Math.trunc(k)) : 0);
const pick = <T>(xs: readonly T[], k: number): T => xs[nk(k) % xs.length];

const INVALID_GPA = 0xffffffffffffffffn;
/** VMX access-rights bits: DPL 6:5, L 13, D/B 14. */
const AR_DPL = 0x60;
const AR_L = 0x2000;
const AR_DB = 0x4000;

// ---- MSR lists

type MsrArea = 'entry' | 'exit-load' | 'exit-store';
const AREAS: readonly MsrArea[] = ['entry', 'exit-load', 'exit-store'];
const AREA_FIELDS = {
  entry: ['vm_entry_msr_load_count', 'vm_entry_msr_load_addr', VMX_SCN_GPA.entryMsrLoad],
  'exit-load': ['vm_exit_msr_load_count', 'vm_exit_msr_load_addr', VMX_SCN_GPA.exitMsrLoad],
  'exit-store': ['vm_exit_msr_store_count', 'vm_exit_msr_store_addr', VMX_SCN_GPA.exitMsrStore],
} as const;
const FILLER: MsrListEntry = { index: MSR_IDX.SYSENTER_CS, value: 0n };

/**
 * The list of `area`, made to exist: a list with count 0 (or one outside 1..16 entries) becomes a
 * one-entry valid list at the builder's GPA. Returns its address and count.
 */
function ensureList(s: VmxScenario, area: MsrArea): { addr: bigint; count: number } {
  const [countF, addrF, gpa] = AREA_FIELDS[area];
  const v = s.vmcs12;
  const count = v[countF] >>> 0;
  if (count >= 1 && count <= 16 && (v[addrF] & 0xfn) === 0n && v[addrF] + BigInt(count) * 16n <= s.ram_top) {
    return { addr: v[addrF], count };
  }
  v[countF] = 1;
  v[addrF] = gpa;
  writeMsrEntry(s, gpa, FILLER);
  return { addr: gpa, count: 1 };
}

/** The entry slot a variant corrupts: k's high bits pick one of the list's entries. */
function slot(s: VmxScenario, area: MsrArea, k: number): bigint {
  const { addr, count } = ensureList(s, area);
  return addr + BigInt((nk(k) >> 2) % count) * 16n;
}

const FORBIDDEN_ENTRY_MSRS = [0xc0000100 /* FS_BASE */, 0xc0000101 /* GS_BASE */, 0x9b /* SMM_MONITOR_CTL */, 0x79 /* UCODE_WRITE */, 0x8b /* UCODE_REV */] as const;
const X2APIC_LIST_MSRS = [0x808, 0x800, 0x802, 0x80b, 0x830, 0x83f, 0x8ff] as const;
const UNKNOWN_MSRS = [0x12345678, 0xc0010000, 0x4b564d00, 0x3a, 0xffffffff] as const;
const NON_CANONICAL = [1n << 47n, 0x0000800000000000n | 0xfffn, 1n << 63n, 0x00ff000000000000n] as const;
const BAD_PAT = [0x0007040600070402n, 0x0007040600070403n, 0x0007040600070408n, 0xff07040600070406n] as const;

// ---- segments of L1

function setL1Cpl(s: VmxScenario, cpl: number): void {
  s.l1.cpl = cpl;
  for (const n of ['cs', 'ss'] as const) {
    const g = s.l1.seg[n];
    g.selector = (g.selector & ~3) | cpl;
    g.ar = (g.ar & ~AR_DPL) | (cpl << 5);
  }
}

/** L1 in legacy (non-IA-32e) protected mode with paging: EFER LME/LMA clear, 32-bit CS. */
function l1Legacy(s: VmxScenario): void {
  s.l1.efer &= ~(EFER.LME | EFER.LMA);
  s.l1.seg.cs.ar = (s.l1.seg.cs.ar & ~AR_L) | AR_DB;
  s.l1.rip &= 0xffffffffn;
  s.l1.rsp &= 0xffffffffn;
}

// ---- VMCS link pointer

function linkHeader(s: VmxScenario, gpa: bigint, revision: number): void {
  s.mem[memKey(gpa)] = BigInt(revision >>> 0);
}

// ---- PAE PDPTEs

/** Reserved PAE-PDPTE bits: 2:1, 8:5, MAXPHYADDR..51, 63 (with no NX), all ≥ bit 52 outside XD. */
function pdpteReservedBit(s: VmxScenario, k: number): bigint {
  const mpa = Math.min(52, Math.max(32, s.guest.maxphyaddr | 0));
  return pick([1n << 1n, 1n << 2n, 1n << 5n, 1n << 6n, 1n << 7n, 1n << 8n, 1n << BigInt(mpa), 1n << 51n, 1n << 63n], k);
}

// ---- hardware rules, caps and addresses

/** Switch to KVM_SET_NESTED_STATE (guest mode; `runPending` = KVM_STATE_NESTED_RUN_PENDING). */
function toSetNestedState(s: VmxScenario, runPending: boolean): void {
  if (s.path !== 'set-nested-state') s.path = 'set-nested-state';
  s.nested_state = { guest_mode: true, run_pending: runPending };
}

/** The guest MAXPHYADDR, clamped to 32..52 (a scenario can hold anything). */
const mpaOf = (s: VmxScenario): number => {
  const m = s.guest.maxphyaddr;
  return Number.isFinite(m) ? Math.min(52, Math.max(32, Math.trunc(m))) : 46;
};

/** A page-aligned GPA at or above ram_top and below 2^MAXPHYADDR (legal, but backed by no memslot). */
function beyondRam(s: VmxScenario, k: number): bigint {
  const limit = 1n << BigInt(mpaOf(s));
  const top = (BigInt.asUintN(64, s.ram_top) + 0xfffn) & ~0xfffn;
  const gpa = top + BigInt((nk(k) >> 2) % 16) * 0x1000n;
  return gpa < limit ? gpa : limit - 0x1000n;
}

const pageInRam = (s: VmxScenario, gpa: bigint): boolean => (gpa & 0xfffn) === 0n && gpa + 0x1000n <= s.ram_top;

/** Replace the caps with a copy (caps are shared read-only between runs and cache per object). */
function setCaps(s: VmxScenario, over: Partial<NestedVmxMsrs>): void {
  s.caps = { ...s.caps, ...over };
}

/** vmcs12 uses nested EPT (the caps this entry narrows are then checked). */
function useEpt(s: VmxScenario): void {
  const v = s.vmcs12;
  v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control | CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
  sec(v, SECONDARY.ENABLE_EPT);
}

const setEptp = (v: VmxScenario['vmcs12'], mask: bigint, value: bigint): void => { v.ept_pointer = BigInt.asUintN(64, (v.ept_pointer & ~mask) | value); };

const MSR_SWITCH_FIELDS = {
  'exit-msr-load': ['vm_exit_msr_load_count', 'vm_exit_msr_load_addr'],
  'exit-msr-store': ['vm_exit_msr_store_count', 'vm_exit_msr_store_addr'],
  'entry-msr-load': ['vm_entry_msr_load_count', 'vm_entry_msr_load_addr'],
} as const;

export const VMX_SCENARIO_MUTATIONS: readonly VmxScenarioMutation[] = [
  // ---- nested_vmx_run: permission and mode (spec §2.2 step 1, §6 #5)
  {
    id: 'l1-cpl3', rule: 'nested_vmx_check_permission: CPL > 0 ⇒ #GP(0)',
    apply: (s, k) => setL1Cpl(s, pick([3, 1, 2], k)),
  },
  {
    id: 'l1-not-vmxon', rule: 'nested_vmx_check_permission: !vmxon ⇒ #UD',
    apply: (s, k) => { s.l1.vmxon = false; if (nk(k) % 2) s.l1.cr4 &= ~CR4.VMXE; },
  },
  {
    id: 'l1-cr0-pe-clear', rule: 'SDM VMLAUNCH: real mode (CR0.PE = 0) ⇒ #UD',
    apply: (s) => { s.l1.cr0 &= ~(CR0.PE | CR0.PG); s.l1.efer &= ~EFER.LMA; s.l1.seg.cs.ar &= ~AR_L; },
  },
  {
    id: 'l1-rflags-vm', rule: 'SDM VMLAUNCH: virtual-8086 mode (RFLAGS.VM) ⇒ #UD',
    apply: (s, k) => { s.l1.rflags |= RFLAGS.VM; if (nk(k) % 2) l1Legacy(s); },
  },
  {
    id: 'l1-compat-mode', rule: 'SDM VMLAUNCH: compatibility mode (EFER.LMA, CS.L = 0) ⇒ #UD',
    apply: (s, k) => { const cs = s.l1.seg.cs; cs.ar = (cs.ar & ~AR_L & ~AR_DB) | (nk(k) % 2 ? 0 : AR_DB); },
  },
  {
    id: 'l1-smm', rule: 'vmx_enter_smm: VMX operation is left in SMM ⇒ VMX instructions #UD',
    apply: (s) => { s.l1.smm = true; },
  },
  // ---- current VMCS (spec §2.2 steps 4–8)
  {
    id: 'no-current-vmcs', rule: 'nested_vmx_run: current_vmptr == INVALID_GPA ⇒ VMfailInvalid',
    apply: (s) => { s.current_vmptr = INVALID_GPA; },
  },
  {
    id: 'current-vmcs-shadow', rule: 'nested_vmx_run: vmcs12 hdr.shadow_vmcs ⇒ VMfailInvalid',
    apply: (s) => { s.vmcs12_shadow = true; },
  },
  {
    id: 'mov-ss-blocking', rule: 'nested_vmx_run: interruptibility MOV_SS ⇒ VMfailValid(26)',
    apply: (s, k) => { s.l1.interruptibility = pick([2, 3], k); },
  },
  {
    id: 'launch-state-flipped', rule: 'nested_vmx_run: launch_state == launch ⇒ VMfailValid(4 / 5)',
    apply: (s) => { s.launch_state = s.launch_state === 'clear' ? 'launched' : 'clear'; },
  },
  {
    id: 'l1-rflags-tf', rule: 'SDM single-step (RFLAGS.TF) over VMLAUNCH/VMRESUME: #DB only after a VMfail (skip_emulated_instruction)',
    apply: (s) => { s.l1.rflags |= RFLAGS.TF; },
  },
  {
    id: 'l1-efer-lma-clear', rule: 'nested_vmx_check_address_space_size: HOST_ADDR_SPACE_SIZE != L1 EFER.LMA ⇒ VMfailValid(8)',
    apply: (s) => l1Legacy(s),
  },
  {
    id: 'l1-x2apic', rule: 'nested_vmx_load_msr_check: x2APIC MSRs (index >> 8 == 8) refused with x2APIC on',
    apply: (s) => { s.l1.x2apic = true; },
  },
  // ---- MSR-load / store lists (spec §2.3, §2.7; nested_vmx_load_msr / nested_vmx_store_msr)
  {
    id: 'msr-entry-reserved', rule: 'nested_vmx_msr_check_common: reserved dword != 0 ⇒ load/store fails at that index',
    apply: (s, k) => {
      const at = slot(s, pick(AREAS, k), k);
      const w = s.mem[memKey(at)] ?? 0n;
      s.mem[memKey(at)] = (w & 0xffffffffn) | (BigInt((1 << ((nk(k) >> 4) % 32)) >>> 0) << 32n);
    },
  },
  {
    id: 'msr-entry-forbidden-index', rule: 'nested_vmx_load_msr_check: FS_BASE, GS_BASE, SMM_MONITOR_CTL, UCODE_WRITE/REV refused (entry/exit load)',
    apply: (s, k) => { const at = slot(s, nk(k) % 2 ? 'exit-load' : 'entry', k); writeMsrEntry(s, at, { index: pick(FORBIDDEN_ENTRY_MSRS, nk(k) >> 4), value: 0n }); },
  },
  {
    id: 'msr-store-smbase', rule: 'nested_vmx_store_msr_check: SMBASE and UCODE_WRITE refused in the exit store list',
    apply: (s, k) => { const at = slot(s, 'exit-store', k); writeMsrEntry(s, at, { index: pick([0x9e, 0x79], k), value: 0n }); },
  },
  {
    id: 'msr-entry-x2apic', rule: 'nested_vmx_msr_check_common: x2APIC MSR with L1 in x2APIC mode',
    apply: (s, k) => { s.l1.x2apic = true; const at = slot(s, pick(AREAS, k), k); writeMsrEntry(s, at, { index: pick(X2APIC_LIST_MSRS, nk(k) >> 4), value: 0n }); },
  },
  {
    id: 'msr-entry-unknown-index', rule: 'kvm_emulate_msr_write/read: MSR unknown to KVM ⇒ list entry fails',
    apply: (s, k) => { const at = slot(s, pick(AREAS, k), k); writeMsrEntry(s, at, { index: pick(UNKNOWN_MSRS, nk(k) >> 4), value: 0n }); },
  },
  {
    id: 'msr-entry-lstar-noncanonical', rule: '__kvm_set_msr: LSTAR must be canonical ⇒ entry load fails',
    apply: (s, k) => { const at = slot(s, nk(k) % 2 ? 'exit-load' : 'entry', k); writeMsrEntry(s, at, { index: MSR_IDX.LSTAR, value: pick(NON_CANONICAL, nk(k) >> 4) }); },
  },
  {
    id: 'msr-entry-pat-invalid', rule: 'kvm_pat_valid: PAT memory types 2, 3, ≥ 8 refused ⇒ entry load fails',
    apply: (s, k) => { const at = slot(s, nk(k) % 2 ? 'exit-load' : 'entry', k); writeMsrEntry(s, at, { index: MSR_IDX.PAT, value: pick(BAD_PAT, nk(k) >> 4) }); },
  },
  {
    id: 'msr-list-beyond-ram', rule: 'kvm_vcpu_read_guest of an MSR entry outside every memslot ⇒ load/store fails at that index',
    apply: (s, k) => {
      const area = pick(AREAS, k >> 1);
      const [countF, addrF] = AREA_FIELDS[area];
      const v = s.vmcs12;
      if (nk(k) % 2 === 0) {
        v[addrF] = s.ram_top;
        if ((v[countF] >>> 0) === 0 || (v[countF] >>> 0) > 16) v[countF] = 1;
      } else {
        // The first entry is in RAM (valid), the second starts at ram_top.
        const addr = s.ram_top - 16n;
        writeMsrEntry(s, addr, FILLER);
        v[addrF] = addr;
        v[countF] = 2;
      }
    },
  },
  {
    id: 'msr-list-count-513', rule: 'nested_vmx_check_msr_switch: count > (MISC[27:25]+1)*512 ⇒ VMfailValid(7) (spec §6 #22)',
    apply: (s, k) => {
      const area = pick(AREAS, k);
      const [countF, addrF, gpa] = AREA_FIELDS[area];
      s.vmcs12[countF] = 513 + ((nk(k) >> 2) % 4);
      s.vmcs12[addrF] = gpa;
    },
  },
  // ---- VMCS link pointer (spec §2.6 step 5, §2.8)
  {
    id: 'link-ptr-bad-header', rule: 'nested_vmx_check_vmcs_link_ptr: revision != VMCS12_REVISION or shadow flag mismatch ⇒ exit 33 qual 4',
    apply: (s, k) => {
      s.vmcs12.vmcs_link_pointer = VMX_SCN_GPA.linkPage;
      linkHeader(s, VMX_SCN_GPA.linkPage, pick([0, (VMCS12_REVISION ^ 1) >>> 0, (VMCS12_REVISION | VMCS12_HDR_SHADOW_VMCS) >>> 0, 0x7fffffff], k));
    },
  },
  {
    id: 'link-ptr-self', rule: 'SDM/Bochs: VMCS link pointer == current VMCS or VMXON pointer ⇒ entry fails (KVM does not check)',
    apply: (s, k) => {
      const gpa = nk(k) % 2 ? s.l1.vmxon_ptr : s.current_vmptr;
      s.vmcs12.vmcs_link_pointer = gpa;
      // k = 0, 1: L1 wrote the VMCS revision into the page (so KVM's header check passes).
      if ((nk(k) >> 1) % 2 === 0 && gpa !== INVALID_GPA) linkHeader(s, gpa, VMCS12_REVISION);
    },
  },
  // ---- PAE PDPTEs (nested_vmx_load_cr3 / hardware PDPTR check ⇒ exit 33 qual 2)
  {
    id: 'pae-pdpte-reserved', rule: 'nested_vmx_load_cr3: PAE PDPTE reserved bits ⇒ exit 33 qual PDPTE(2) (hardware-checked with nested EPT)',
    apply: (s, k) => {
      const v = s.vmcs12;
      const pae = (v.vm_entry_controls & VM_ENTRY.IA32E_MODE) === 0 && (v.guest_cr0 & (CR0.PE | CR0.PG)) === (CR0.PE | CR0.PG) && (v.guest_cr4 & CR4.PAE) !== 0n;
      if (!pae) toPae32(s);
      const i = (nk(k) >> 4) % 4;
      const bit = pdpteReservedBit(s, k);
      if (nestedEptOn(v)) {
        const f = `guest_pdptr${i as 0 | 1 | 2 | 3}` as const;
        v[f] = (v[f] | 1n | bit);
      } else {
        const key = memKey((v.guest_cr3 & ~0x1fn) + BigInt(i) * 8n);
        s.mem[key] = BigInt.asUintN(64, (s.mem[key] ?? 0n) | 1n | bit);
      }
    },
  },
  // ---- KVM-reserved CR4 bits (spec §6 #4: CR4_FIXED1 allows them, guest CPUID does not)
  {
    id: 'guest-cr4-cpuid-absent', rule: 'nested_guest_cr4_valid: __kvm_is_valid_cr4 (PKE/LA57/LAM_SUP without CPUID) ⇒ exit 33',
    apply: (s, k) => {
      const i = nk(k) % 3;
      s.guest.cpuid = { ...s.guest.cpuid, ...(i === 0 ? { pku: false } : i === 1 ? { la57: false } : { lam: false }) };
      s.vmcs12.guest_cr4 |= [CR4.PKE, CR4.LA57, CR4.LAM_SUP][i];
    },
  },
  {
    id: 'host-cr4-cpuid-absent', rule: 'nested_vmx_check_host_state: __kvm_is_valid_cr4 (PKE/LA57/LAM_SUP without CPUID) ⇒ VMfailValid(8)',
    apply: (s, k) => {
      const i = nk(k) % 3;
      s.guest.cpuid = { ...s.guest.cpuid, ...(i === 0 ? { pku: false } : i === 1 ? { la57: false } : { lam: false }) };
      s.vmcs12.host_cr4 |= [CR4.PKE, CR4.LA57, CR4.LAM_SUP][i];
    },
  },
  // ---- KVM_SET_NESTED_STATE
  {
    id: 'vmcs12-revision-wrong', rule: 'vmx_set_nested_state: vmcs12 hdr.revision_id != VMCS12_REVISION ⇒ -EINVAL',
    apply: (s, k) => {
      s.vmcs12_revision = pick([(VMCS12_REVISION ^ 1) >>> 0, 0, (VMCS12_REVISION + 1) >>> 0, 0x7fffffff], k);
      if (s.path !== 'set-nested-state') { s.path = 'set-nested-state'; s.nested_state = { guest_mode: true, run_pending: false }; }
    },
  },
  {
    id: 'run-pending-toggle', rule: 'vmx_set_nested_state: KVM_STATE_NESTED_RUN_PENDING (guest EFER checked only with run pending)',
    apply: (s) => {
      // A VMLAUNCH in flight is "run pending"; its toggle is the restored state without it.
      if (s.path !== 'set-nested-state') { s.path = 'set-nested-state'; s.nested_state = { guest_mode: true, run_pending: false }; }
      else s.nested_state = { ...s.nested_state, run_pending: !s.nested_state.run_pending };
    },
  },
  // ---- the CPU's own VM-entry checks of vmcs02 that need more than vmcs12 (engine hardware.ts; the
  // vmcs12-only ones are in vmxMutations.ts)
  {
    id: 'hw-guest-ss-rpl-cs-rpl', rule: 'SDM §27.3.1.2: not virtual-8086, no unrestricted guest ⇒ SS.RPL == CS.RPL (KVM_SET_NESTED_STATE skips vmx_guest_state_valid, so only the CPU sees it)',
    apply: (s, k) => {
      const v = s.vmcs12;
      toSetNestedState(s, nk(k) % 2 === 1);
      sec(v, 0, SECONDARY.UNRESTRICTED_GUEST);
      if ((v.guest_cr0 & CR0.PE) === 0n) toPae32(s);
      // SS.RPL 3 (DPL stays 0): the rule is checked before the DPL rules.
      v.guest_ss_selector = (v.guest_ss_selector & ~3) | pick([3, 1, 2], nk(k) >> 1);
    },
  },
  {
    id: 'hw-guest-vmcs-link-ptr-current', rule: 'SDM §27.3.1.5: VMCS link pointer ≠ ~0 ⇒ not the current-VMCS pointer (KVM checks only the header)',
    apply: (s) => {
      s.vmcs12.vmcs_link_pointer = s.current_vmptr;
      if (s.current_vmptr !== INVALID_GPA) linkHeader(s, s.current_vmptr, VMCS12_REVISION);
    },
  },
  {
    id: 'hw-guest-pdpte-reserved', rule: 'SDM §27.3.1.6: enable EPT, PAE paging, not IA-32e ⇒ vmcs12 guest PDPTE reserved bits clear (KVM leaves them to the CPU with nested EPT)',
    apply: (s, k) => {
      const v = s.vmcs12;
      if (!nestedEptOn(v) && (s.caps.secondaryCtlsHigh & SECONDARY.ENABLE_EPT) !== 0) {
        v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control | CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
        sec(v, SECONDARY.ENABLE_EPT);
      }
      toPae32(s);
      const f = `guest_pdptr${(nk(k) >> 4) % 4 as 0 | 1 | 2 | 3}` as const;
      v[f] = BigInt.asUintN(64, v[f] | 1n | pdpteReservedBit(s, k));
    },
  },
  {
    id: 'hw-ctl-tpr-threshold-above-vtpr', rule: 'SDM §27.2.1.1: TPR shadow without virtualize-APIC-accesses / virtual-interrupt delivery ⇒ TPR threshold[3:0] ≤ VTPR[7:4] (KVM leaves it to the CPU)',
    // A hardware-owned late VMfail runs nested_vmx_restore_host_state, which writes the VM-exit
    // MSR-load values of the MSRs the VM-entry list names (also after KVM_SET_NESTED_STATE, where the
    // entry list was never loaded) and VMX-aborts when one cannot be written; vmfail-no-side-effects
    // excuses only entry-list writes, so it reports both (e.g. with msr-entry-lstar-noncanonical).
    apply: (s, k) => {
      const v = s.vmcs12;
      proc(v, CPU_BASED.TPR_SHADOW);
      sec(v, 0, SECONDARY.VIRTUALIZE_APIC_ACCESSES | SECONDARY.VIRTUAL_INTR_DELIVERY | SECONDARY.VIRTUALIZE_X2APIC_MODE);
      if (!pageInRam(s, v.virtual_apic_page_addr)) v.virtual_apic_page_addr = VMCS12_BASE_GPA.virtual_apic_page;
      // VTPR (byte 0x80 of the virtual-APIC page) 0, or (k ≥ 1) a class below the threshold.
      const vtpr = BigInt(pick([0, 0x10, 0x70], k));
      const key = memKey(v.virtual_apic_page_addr + 0x80n);
      s.mem[key] = ((s.mem[key] ?? 0n) & ~0xffn) | vtpr;
      v.tpr_threshold = pick([0xf, 0x2, 0x8], k);
    },
  },
  {
    id: 'hw-ctl-virtual-apic-page', rule: 'SDM §27.2.1.1: TPR shadow ⇒ virtual-APIC address valid; nested_get_vmcs12_pages writes INVALID_GPA for an unmappable page unless CR8 load and store exiting are both set',
    // The address in vmcs12 is architecturally valid (the SDM model enters); the late VMfail is KVM's own
    // choice for a page it cannot map, and properties/vmx/_sdm/deviations.ts does not list it.
    apply: (s, k) => {
      const v = s.vmcs12;
      const cr8 = CPU_BASED.CR8_LOAD_EXITING | CPU_BASED.CR8_STORE_EXITING;
      proc(v, CPU_BASED.TPR_SHADOW, pick([cr8, CPU_BASED.CR8_LOAD_EXITING, CPU_BASED.CR8_STORE_EXITING], k));
      v.virtual_apic_page_addr = beyondRam(s, k);
      v.tpr_threshold = 0;
    },
  },
  // ---- nested_check_vm_execution_controls with KVM-advertised caps narrowed (nested_vmx_check_eptp, entry controls)
  {
    id: 'eptp-memtype-wb-unsupported', rule: 'nested_vmx_check_eptp: EPTP memory type WB without VMX_EPT_WB_BIT in IA32_VMX_EPT_VPID_CAP (SDM §27.2.1.1)',
    apply: (s) => { useEpt(s); setCaps(s, { eptCaps: (s.caps.eptCaps & ~EPT_CAP.WB) >>> 0 }); setEptp(s.vmcs12, EPTP.MT_MASK, EPTP.MT_WB); },
  },
  {
    id: 'eptp-pwl4-unsupported', rule: 'nested_vmx_check_eptp: 4-level EPTP without VMX_EPT_PAGE_WALK_4_BIT (SDM §27.2.1.1)',
    apply: (s) => { useEpt(s); setCaps(s, { eptCaps: (s.caps.eptCaps & ~EPT_CAP.PAGE_WALK_4) >>> 0 }); setEptp(s.vmcs12, EPTP.PWL_MASK, EPTP.PWL_4); },
  },
  {
    id: 'eptp-pwl5-unsupported', rule: 'nested_vmx_check_eptp: 5-level EPTP without VMX_EPT_PAGE_WALK_5_BIT (SDM §27.2.1.1)',
    apply: (s) => { useEpt(s); setCaps(s, { eptCaps: (s.caps.eptCaps & ~EPT_CAP.PAGE_WALK_5) >>> 0 }); setEptp(s.vmcs12, EPTP.PWL_MASK, EPTP.PWL_5); },
  },
  {
    id: 'eptp-ad-unsupported', rule: 'nested_vmx_check_eptp: EPTP A/D enable (bit 6) without VMX_EPT_AD_BIT (SDM §27.2.1.1)',
    apply: (s) => { useEpt(s); setCaps(s, { eptCaps: (s.caps.eptCaps & ~EPT_CAP.AD) >>> 0 }); setEptp(s.vmcs12, EPTP.AD_ENABLE, EPTP.AD_ENABLE); },
  },
  {
    id: 'entry-intr-type-other-without-mtf', rule: 'nested_check_vm_entry_controls: injection type 7 (other event) needs MONITOR_TRAP_FLAG in IA32_VMX_PROCBASED_CTLS high (SDM §27.2.1.3)',
    apply: (s) => {
      setCaps(s, { procbasedCtlsHigh: (s.caps.procbasedCtlsHigh & ~CPU_BASED.MONITOR_TRAP_FLAG) >>> 0 });
      proc(s.vmcs12, 0, CPU_BASED.MONITOR_TRAP_FLAG);
      s.vmcs12.vm_entry_intr_info_field = (INTR_INFO.VALID | (INTR_TYPE.OTHER_EVENT << INTR_INFO.TYPE_SHIFT)) >>> 0;
    },
  },
  // ---- nested_vmx_check_msr_switch: the area's last byte (addr + count * 16 - 1) beyond MAXPHYADDR
  ...(['exit-msr-load', 'exit-msr-store', 'entry-msr-load'] as const).map((p): VmxScenarioMutation => ({
    id: `${p}-end-illegal`, rule: 'nested_vmx_check_msr_switch: last byte of the MSR area (addr + count * 16 - 1) beyond MAXPHYADDR (SDM §27.2.1.2 / §27.2.1.3)',
    apply: (s, k) => {
      const [countF, addrF] = MSR_SWITCH_FIELDS[p];
      const count = pick([2, 16, 512], k);
      // The first entries end just below 2^MAXPHYADDR: the address itself is legal and aligned.
      s.vmcs12[addrF] = (1n << BigInt(mpaOf(s))) - 16n * BigInt(Math.max(1, (nk(k) >> 2) % count));
      s.vmcs12[countF] = count;
    },
  })),
  // ---- the VMCS link pointer's page outside every memslot
  {
    id: 'guest-vmcs-link-ptr-unreadable', rule: 'nested_vmx_check_vmcs_link_ptr: kvm_gfn_to_hva_cache_init / kvm_read_guest of a legal link pointer outside RAM fails ⇒ exit 33 qual 4',
    apply: (s, k) => { s.vmcs12.vmcs_link_pointer = beyondRam(s, k); },
  },
  // ---- prepare_vmcs02 (vmx_guest_state_valid without unrestricted guest)
  {
    id: 'prepare-vmcs02-guest-state-invalid', rule: 'prepare_vmcs02: !vmx_guest_state_valid (L0 without unrestricted guest: SS.RPL != CS.RPL) ⇒ exit 33',
    apply: (s, k) => {
      const v = s.vmcs12;
      s.l0 = { ...s.l0, enable_unrestricted_guest: false };
      s.caps = capsForL0(s.l0);
      sec(v, 0, SECONDARY.UNRESTRICTED_GUEST);
      if ((v.guest_cr0 & CR0.PE) === 0n) toPae32(s);
      if (s.path === 'set-nested-state') { s.path = 'vmlaunch'; s.launch_state = 'clear'; }
      v.guest_ss_selector = (v.guest_ss_selector & ~3) | pick([3, 1, 2], k);
    },
  },
  // ---- nested_get_vmcs12_pages
  {
    id: 'get-vmcs12-pages-apic-access-unmappable', rule: 'nested_get_vmcs12_pages: APIC-access page (legal address) outside every memslot ⇒ KVM_EXIT_INTERNAL_ERROR',
    // KVM_EXIT_INTERNAL_ERROR has no SDM counterpart (the CPU would enter), and no listed deviation in
    // properties/vmx/_sdm/deviations.ts covers it: vmlaunch-verdict-matches-sdm reports every such case.
    apply: (s, k) => {
      const v = s.vmcs12;
      v.cpu_based_vm_exec_control = (v.cpu_based_vm_exec_control | CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) >>> 0;
      sec(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES, SECONDARY.VIRTUALIZE_X2APIC_MODE);
      v.apic_access_addr = beyondRam(s, k);
      if (s.path === 'set-nested-state') { s.path = 'vmlaunch'; s.launch_state = 'clear'; }
    },
  },
  // ---- KVM_SET_NESTED_STATE header checks
  {
    id: 'set-nested-state-no-vmx-cpuid', rule: 'vmx_set_nested_state: !guest_cpu_cap_has(X86_FEATURE_VMX) ⇒ -EINVAL',
    apply: (s, k) => { toSetNestedState(s, nk(k) % 2 === 1); s.guest = { ...s.guest, cpuid: { ...s.guest.cpuid, vmx: false } }; },
  },
  {
    id: 'set-nested-state-vmcs12-pa-invalid', rule: 'vmx_set_nested_state: vmcs12_pa == vmxon_pa or !page_address_valid(vmcs12_pa) ⇒ -EINVAL',
    apply: (s, k) => {
      toSetNestedState(s, false);
      s.current_vmptr = pick([s.l1.vmxon_ptr, s.current_vmptr | 0x800n, s.current_vmptr | (1n << 52n)], k);
    },
  },
];

const BY_ID = new Map(VMX_SCENARIO_MUTATIONS.map((m) => [m.id, m]));

export const VMX_SCN_MUTATION_IDS: readonly string[] = VMX_SCENARIO_MUTATIONS.map((m) => m.id);


export function getVmxScenarioMutation(id: string): VmxScenarioMutation | undefined {
  return BY_ID.get(id);
}

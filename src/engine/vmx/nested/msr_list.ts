// The VM-entry MSR-load, VM-exit MSR-load and VM-exit MSR-store lists (SDM §27.4 "Loading MSRs",
// §28.4 "Saving MSRs", §28.6 "Loading Host MSRs"), after KVM's nested_vmx_load_msr /
// nested_vmx_store_msr and their entry checks (nested_vmx_msr_check_common, _load_msr_check,
// _store_msr_check). Entries are 16 bytes: u32 index, u32 reserved, u64 value (SDM Table 25-15).
// Processing is sequential; a load failure reports the 1-based index of the failing entry.

import { nestedMisc } from '../../../arch/vmx/caps.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import type { VmxMachine } from '../machine.ts';
import { kvm_emulate_msr_read, kvm_emulate_msr_write, MSR } from '../msrs.ts';

const ENTRY_BYTES = 16n;

/** nested_vmx_max_atomic_switch_msrs: (IA32_VMX_MISC[27:25] + 1) * 512. */
export function nested_vmx_max_atomic_switch_msrs(m: VmxMachine): number {
  return nestedMisc(m.s.caps).maxMsrListSize;
}

interface MsrEntry {
  index: number;
  reserved: number;
  value: bigint;
}

function readEntry(m: VmxMachine, gpa: bigint, i: number, withValue: boolean): MsrEntry | null {
  const at = gpa + BigInt(i) * ENTRY_BYTES;
  const w0 = m.mem.read64(at);
  if (w0 === null) return null;
  const value = withValue ? m.mem.read64(at + 8n) : 0n;
  if (value === null) return null;
  return { index: Number(w0 & 0xffffffffn), reserved: Number(w0 >> 32n), value };
}

/** nested_vmx_msr_check_common: x2APIC MSRs while x2APIC is on, microcode MSRs, a non-zero reserved dword. */
function nested_vmx_msr_check_common(m: VmxMachine, e: MsrEntry, prefix: string): boolean {
  const t = m.t;
  // SDM §27.4: "bits 31:8 of the MSR index are 000008H (x2APIC MSRs) while the logical processor is in x2APIC mode" fail.
  if (cc(t, `${prefix}-x2apic-msr`, m.l1.x2apic && e.index >>> 8 === 0x8)) return false;
  // SDM Table 35-2 footnote: IA32_BIOS_UPDT_TRIG (0x79) and IA32_BIOS_SIGN_ID (0x8b) may not be in a list.
  if (cc(t, `${prefix}-ucode-msr`, e.index === MSR.UCODE_WRITE || e.index === MSR.UCODE_REV)) return false;
  if (cc(t, `${prefix}-reserved-nonzero`, e.reserved !== 0)) return false;
  return true;
}

/** nested_vmx_load_msr_check: FS_BASE / GS_BASE (loaded from the segment fields) and IA32_SMM_MONITOR_CTL fail too. */
function nested_vmx_load_msr_check(m: VmxMachine, e: MsrEntry, prefix: string): boolean {
  if (cc(m.t, `${prefix}-fs-gs-base`, e.index === MSR.FS_BASE || e.index === MSR.GS_BASE)) return false;
  if (cc(m.t, `${prefix}-smm-monitor-ctl`, e.index === MSR.SMM_MONITOR_CTL)) return false;
  return nested_vmx_msr_check_common(m, e, prefix);
}

/**
 * nested_vmx_load_msr: 0 on success, else the 1-based index of the failing entry (the caller turns
 * an entry-list failure into exit 34 with that index as qualification, an exit-list failure into a
 * VMX abort). `list` names the ids: 'entry-msr-load' or 'exit-msr-load'.
 */
export function nested_vmx_load_msr(m: VmxMachine, gpa: bigint, count: number, list: 'entry-msr-load' | 'exit-msr-load'): number {
  const max = nested_vmx_max_atomic_switch_msrs(m);
  const n = count >>> 0;
  for (let i = 0; i < n; i++) {
    // nested_vmx_load_msr: "WARN_ON_ONCE(i >= max_msr_list_size)": the consistency check on the count
    // (vmx-check-msr-list-count) makes this unreachable; before it, i == max simply failed here.
    if (i >= max) {
      if (has(m.p, 'vmx-check-msr-list-count')) m.t.warn('nested_vmx_load_msr-count-above-max', { list, count: n });
      return i + 1;
    }
    const e = readEntry(m, gpa, i, true);
    if (cc(m.t, `${list}-entry-unreadable`, e === null) || e === null) return i + 1;
    if (!nested_vmx_load_msr_check(m, e, list)) return i + 1;
    if (cc(m.t, `${list}-wrmsr-failed`, !kvm_emulate_msr_write(m.l1, m.msrEnv, e.index, e.value))) return i + 1;
    m.msr_writes.push({ list: list === 'entry-msr-load' ? 'entry-load' : 'exit-load', index: e.index, value: e.value });
  }
  return 0;
}

/**
 * nested_vmx_store_msr (VM-exit MSR-store list, SDM §28.4): each entry's value word is written with
 * the MSR's current value; false on the first failure (the caller aborts the VM exit).
 */
export function nested_vmx_store_msr(m: VmxMachine, gpa: bigint, count: number): boolean {
  const max = nested_vmx_max_atomic_switch_msrs(m);
  const n = count >>> 0;
  for (let i = 0; i < n; i++) {
    if (i >= max) {
      if (has(m.p, 'vmx-check-msr-list-count')) m.t.warn('nested_vmx_store_msr-count-above-max', { count: n });
      return false;
    }
    const e = readEntry(m, gpa, i, false);
    if (cc(m.t, 'exit-msr-store-entry-unreadable', e === null) || e === null) return false;
    // nested_vmx_store_msr_check: IA32_SMBASE cannot be stored (SMM is not supported).
    if (cc(m.t, 'exit-msr-store-smbase', e.index === MSR.SMBASE)) return false;
    if (!nested_vmx_msr_check_common(m, e, 'exit-msr-store')) return false;
    const data = kvm_emulate_msr_read(m.l1, m.msrEnv, e.index);
    if (cc(m.t, 'exit-msr-store-rdmsr-failed', data === null) || data === null) return false;
    if (!m.mem.write64(gpa + BigInt(i) * ENTRY_BYTES + 8n, data)) return false;
  }
  return true;
}

/** Every check id this module records (template ids expanded), for coverage. */
export const VMX_MSR_LIST_CHECK_IDS: readonly string[] = [
  ...['entry-msr-load', 'exit-msr-load'].flatMap((p) => [
    `${p}-entry-unreadable`, `${p}-fs-gs-base`, `${p}-smm-monitor-ctl`, `${p}-x2apic-msr`, `${p}-ucode-msr`, `${p}-reserved-nonzero`, `${p}-wrmsr-failed`,
  ]),
  'exit-msr-store-entry-unreadable', 'exit-msr-store-smbase', 'exit-msr-store-x2apic-msr', 'exit-msr-store-ucode-msr', 'exit-msr-store-reserved-nonzero', 'exit-msr-store-rdmsr-failed',
];

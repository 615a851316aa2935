// A nested-VMX corpus counterexample, projected onto the VMX harness (harness/vmx.asm): a VMCS only
// runs on a CPU if its addresses point at what the harness built and its controls fit the CPU, so
// the projection starts from the harness's valid base for that CPU (builders/oracleVmxBase.ts) and
// carries over what the counterexample changed from its own valid base (validVmcs12 for its caps):
//   - bit-vector fields (controls, CR0/CR4, EFER, RFLAGS, DR7, access rights, ...): the bits that
//     changed are flipped in the harness's value, so a cleared PAE or a set reserved bit stays;
//   - addresses, selectors and limits: the same, so low misalignment bits, bits beyond MAXPHYADDR
//     and non-canonical bits stay while the rest points at the harness's own structures;
//   - any other field (counts, VPID, activity state, event injection, PAT, ...): the
//     counterexample's value;
//   - a field the counterexample cleared stays 0 (flipping bits would not clear it);
//   - the VM-exit MSR-store, VM-exit MSR-load and VM-entry MSR-load lists (SDM 25.7.2, 25.8.2) move
//     with their entries to a slot of their own in memory the harness leaves free, keeping the
//     address bits a CPU checks (3:0 and those above MAXPHYADDR, SDM 26.2.1.2).
// L1 is the harness, entered by VMLAUNCH from a clear VMCS with L2 at the harness's CPUID or HLT;
// L1's own state, L1 memory other than the MSR lists (bitmaps, the link pointer's VMCS),
// KVM_SET_NESTED_STATE and what happens after L2's first exit are not carried over: when the bug lives there, both profiles give the projected
// state the same verdict and the exporter says the projection loses it.

import { buildOracleVmxCase, type OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import type { OracleVmxSnippet } from '../../arbitraries/_internals/builders/oracleVmxBase.ts';
import { CPU_BASED, SECONDARY } from '../../arch/vmx/controls.ts';
import { VMCS12_FIELDS, type Vmcs12Field } from '../../arch/vmx/fields.ts';
import { vmcs12FieldValue, vmcs12Set, type Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import { validVmcs12 } from '../../engine/vmx/nested/vmcs12_base.ts';
import { memKey, type VmxScenario } from '../../engine/vmx/scenario.ts';
import type { Segment } from '../image.ts';
import type { OracleVmxCpu } from './cpu.ts';

const BITS = /(_control|_controls|^(guest|host)_cr[04]|_efer|_rflags|_dr7|_ar_bytes|^exception_bitmap|_interruptibility_info|_pending_dbg_exceptions|_debugctl|_guest_host_mask|_read_shadow)$/;
const ADDRESS = /(_addr|_address|_bitmap|_bitmap_[ab]|_base|_cr3|_rip|_rsp|_pointer|_selector|_limit)$/;

/** How a field's change carries over: flip the changed bits in the harness's value, or take the value. */
export function projectionRule(f: Pick<Vmcs12Field, 'name'>): 'flip' | 'value' {
  return BITS.test(f.name) || ADDRESS.test(f.name) ? 'flip' : 'value';
}

/** The writable fields whose values differ between `v` and `base`: [field, value in v, value in base]. */
export function changedFields(v: Vmcs12, base: Vmcs12): [Vmcs12Field, bigint, bigint][] {
  return VMCS12_FIELDS.filter((f) => !f.readOnly)
    .map((f): [Vmcs12Field, bigint, bigint] => [f, vmcs12FieldValue(v, f), vmcs12FieldValue(base, f)])
    .filter(([, x, y]) => x !== y);
}

function projectVmcs12(harness: Vmcs12, corpus: Vmcs12, base: Vmcs12): string[] {
  const changed = changedFields(corpus, base);
  for (const [f, c, b] of changed) {
    const value = c === 0n || projectionRule(f) === 'value' ? c : vmcs12FieldValue(harness, f) ^ (c ^ b);
    vmcs12Set(harness, f.encoding, value);
  }
  return changed.map(([f]) => f.name);
}

/**
 * Where the MSR lists go: 64 KiB slots from 4 MiB, memory harness/layout.inc leaves free (between
 * the VMCS region and the IOPM) and the identity EPT maps; a slot holds 4096 entries.
 */
export const VMX_MSR_LIST_SLOTS = 0x400000n;
const SLOT_BYTES = 0x10000n;
/** SDM 25.7.2 / 25.8.2: 16 bytes per entry (u32 index, u32 reserved, u64 data). */
const MSR_ENTRY_BYTES = 16n;

const MSR_LISTS = [
  ['vm_exit_msr_store_count', 'vm_exit_msr_store_addr'],
  ['vm_exit_msr_load_count', 'vm_exit_msr_load_addr'],
  ['vm_entry_msr_load_count', 'vm_entry_msr_load_addr'],
] as const;

/** A range of L1 memory the projected state uses: the image must hold the scenario's words there, zeros elsewhere. */
export interface VmxMemoryRange {
  gpa: bigint;
  bytes: bigint;
}

/**
 * Moves each MSR list the counterexample uses to its slot: the address keeps the bits a CPU checks
 * (bits 3:0, SDM 26.2.1.2; bits at or above the harness CPU's MAXPHYADDR) and the entries move
 * with it. Lists whose slot would not hold them keep the flipped address and no memory.
 */
function moveMsrLists(t: Vmcs12, corpus: VmxScenario, maxphyaddr: number, mem: Record<string, bigint>): VmxMemoryRange[] {
  const ranges: VmxMemoryRange[] = [];
  const high = ~((1n << BigInt(maxphyaddr)) - 1n) & 0xffffffffffffffffn;
  MSR_LISTS.forEach(([countField, addrField], k) => {
    const count = BigInt(corpus.vmcs12[countField]);
    const bytes = count * MSR_ENTRY_BYTES;
    if (count === 0n || bytes > SLOT_BYTES) return;
    const from = corpus.vmcs12[addrField];
    const slot = VMX_MSR_LIST_SLOTS + BigInt(k) * SLOT_BYTES;
    t[addrField] = slot | (from & 0xfn) | (from & high);
    const base = from & ~0xfn & ~high;
    for (let off = 0n; off < bytes; off += 8n) {
      const w = corpus.mem[memKey(base + off)];
      if (w !== undefined) mem[memKey(slot + off)] = w;
    }
    ranges.push({ gpa: slot, bytes });
  });
  return ranges;
}

/**
 * The L1 memory a state reads beyond the harness's image: the words of its scenario in the MSR-list
 * slots (a projected counterexample's lists; a generated state has none), one segment per slot up
 * to its last word, as the engine reads them (absent words are 0).
 */
export function projectedMemory(c: OracleVmxCase): Segment[] {
  const ends = new Map<bigint, bigint>();
  for (const key of Object.keys(c.scenario.mem)) {
    const gpa = BigInt(key);
    if (gpa < VMX_MSR_LIST_SLOTS || gpa >= VMX_MSR_LIST_SLOTS + BigInt(MSR_LISTS.length) * SLOT_BYTES) continue;
    const slot = VMX_MSR_LIST_SLOTS + ((gpa - VMX_MSR_LIST_SLOTS) / SLOT_BYTES) * SLOT_BYTES;
    const end = gpa - slot + 8n;
    if (end > (ends.get(slot) ?? 0n)) ends.set(slot, end);
  }
  return [...ends].sort(([a], [b]) => (a < b ? -1 : 1)).map(([slot, end]) => memorySegment(c.scenario.mem, slot, end));
}

/** `bytes` of L1 memory from `gpa` as an image segment: the scenario's words, 0 where it has none (as the engine reads them). */
export function memorySegment(mem: Readonly<Record<string, bigint>>, gpa: bigint, bytes: bigint): Segment {
  const out = new Uint8Array(Number(bytes));
  const dv = new DataView(out.buffer);
  for (let off = 0; off + 8 <= out.length; off += 8) dv.setBigUint64(off, mem[memKey(gpa + BigInt(off))] ?? 0n, true);
  return { gpa: Number(gpa), bytes: out };
}

export interface VmxProjection {
  c: OracleVmxCase;
  /** The vmcs12 fields the counterexample changed from its valid base, carried over. */
  changed: string[];
  /** L1 memory the state uses (the MSR lists): the scenario's words there, zeros around them. */
  memory: VmxMemoryRange[];
}

export function projectVmxScenario(cpu: OracleVmxCpu, s: VmxScenario): VmxProjection {
  const v = s.vmcs12;
  const snippet: OracleVmxSnippet = s.l2.kind === 'hlt' ? 'hlt' : 'cpuid';
  const ept = (v.cpu_based_vm_exec_control & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0 && (v.secondary_vm_exec_control & SECONDARY.ENABLE_EPT) !== 0;
  const c = buildOracleVmxCase(cpu, { snippet, ept }, []);
  const changed = projectVmcs12(c.scenario.vmcs12, v, validVmcs12(s.caps));
  const memory = moveMsrLists(c.scenario.vmcs12, s, cpu.maxphyaddr, c.scenario.mem);
  // KVM's module parameters are the counterexample's: they model the KVM under test, not the CPU.
  c.scenario.l0 = { ...s.l0 };
  return { c: { ...c, mutations: ['projected-from-corpus:0'] }, changed, memory };
}

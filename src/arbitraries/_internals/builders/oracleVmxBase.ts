// The bochs-vmx harness's valid base as an engine scenario (oracle.md §6 "Base state"): a 64-bit
// L2 mirroring the harness's host (CR0/CR3/CR4/EFER, flat segments, the host GDT with its TSS),
// entering at one of the harness's L2 snippets. Controls are `(wanted | allowed0) & allowed1`
// from the dumped capability MSRs (SDM A.3), so the base is valid on whatever model was dumped.
// The host-state fields equal the harness's own defaults (harness/vmx.asm host_defaults), so the
// engine checks the host the CPU will load. Fields left at 0 are 0 in the harness's VMCS too: it
// zeroes the region before VMCLEAR.

import { CR0 } from '../../../arch/svm/defs.ts';
import { CPU_BASED, SECONDARY, VM_ENTRY, VM_EXIT } from '../../../arch/vmx/controls.ts';
import { EPT_CAP } from '../../../arch/vmx/caps.ts';
import { EPTP } from '../../../arch/vmx/eptp.ts';
import { VMCS12_REVISION, zeroVmcs12, type Vmcs12 } from '../../../arch/vmx/vmcs12.ts';
import { DEFAULT_VMX_L0, validVmxL1 } from '../../../engine/vmx/scenario_base.ts';
import type { VmxL2Action, VmxScenario } from '../../../engine/vmx/scenario.ts';
import { snippetIdt, snippetRip } from '../../../oracle/image.ts';
import { LAYOUT, RAM_BYTES_GPA_TOP } from '../../../oracle/layout.ts';
import type { OracleVmxCpu } from '../../../oracle/vmx/cpu.ts';

/** The snippets a VMX state may start L2 at: CPUID exits unconditionally (reason 10), HLT with HLT exiting (12). */
export const ORACLE_VMX_SNIPPETS = ['cpuid', 'hlt'] as const;
export type OracleVmxSnippet = (typeof ORACLE_VMX_SNIPPETS)[number];

export interface OracleVmxChoice {
  snippet: OracleVmxSnippet;
  /** EPT (+ VPID) with the host tables as an identity EPT, when the model offers it. */
  ept: boolean;
}

export const DEFAULT_ORACLE_VMX_CHOICE: Readonly<OracleVmxChoice> = { snippet: 'cpuid', ept: true };

const SEL = { code64: 0x08, data: 0x10 } as const;
const AR = { code64: 0xa09b, data: 0xc093, tss64Busy: 0x8b, unusable: 0x10000 } as const;
const HOST_GDT_LIMIT = 0x27;

/** (wanted | allowed0) & allowed1 (SDM A.3: allowed0 = low dword, allowed1 = high dword). */
const ctl = (wanted: number, low: number, high: number): number => ((wanted | low) & high) >>> 0;

/** The base vmcs12 for `cpu` (see the file comment). */
export function oracleVmxVmcs12(cpu: OracleVmxCpu, choice: OracleVmxChoice): Vmcs12 {
  const c = cpu.caps;
  const v = zeroVmcs12();
  const eptOk = choice.ept && (c.procbasedCtlsHigh & CPU_BASED.ACTIVATE_SECONDARY_CONTROLS) !== 0
    && (c.secondaryCtlsHigh & SECONDARY.ENABLE_EPT) !== 0 && (c.eptCaps & EPT_CAP.PAGE_WALK_4) !== 0;
  v.pin_based_vm_exec_control = ctl(0, c.pinbasedCtlsLow, c.pinbasedCtlsHigh);
  v.cpu_based_vm_exec_control = ctl(CPU_BASED.HLT_EXITING | (eptOk ? CPU_BASED.ACTIVATE_SECONDARY_CONTROLS : 0), c.procbasedCtlsLow, c.procbasedCtlsHigh);
  if (eptOk) {
    v.secondary_vm_exec_control = ctl(SECONDARY.ENABLE_EPT | SECONDARY.ENABLE_VPID, c.secondaryCtlsLow, c.secondaryCtlsHigh);
    // image.ts eptIdentity: the first 4 GiB identity-mapped, WB leaves.
    const mt = (c.eptCaps & EPT_CAP.WB) !== 0 ? EPTP.MT_WB : EPTP.MT_UC;
    v.ept_pointer = BigInt(LAYOUT.EPT_PML4) | EPTP.PWL_4 | mt;
    if ((v.secondary_vm_exec_control & SECONDARY.ENABLE_VPID) !== 0) v.virtual_processor_id = 1;
  }
  v.vm_exit_controls = ctl(VM_EXIT.HOST_ADDR_SPACE_SIZE | VM_EXIT.LOAD_IA32_EFER, c.exitCtlsLow, c.exitCtlsHigh);
  v.vm_entry_controls = ctl(VM_ENTRY.IA32E_MODE | VM_ENTRY.LOAD_IA32_EFER, c.entryCtlsLow, c.entryCtlsHigh);
  // Every guest exception exits (reason 0) instead of reaching L2's IDT or triple-faulting, which
  // resets Bochs (oracle.md §7).
  v.exception_bitmap = 0xffffffff;

  // ---- host state: harness/vmx.asm host_defaults
  v.host_cr0 = BigInt(LAYOUT.HOST_CR0_VMX);
  v.host_cr3 = BigInt(LAYOUT.HOST_PML4);
  v.host_cr4 = BigInt(LAYOUT.HOST_CR4_VMX);
  v.host_ia32_efer = BigInt(LAYOUT.HOST_EFER_VMX);
  v.host_cs_selector = SEL.code64;
  for (const s of ['es', 'ss', 'ds', 'fs', 'gs'] as const) v[`host_${s}_selector`] = SEL.data;
  v.host_tr_selector = LAYOUT.HOST_TR_SEL;
  v.host_tr_base = BigInt(LAYOUT.HOST_TSS);
  v.host_gdtr_base = BigInt(LAYOUT.HOST_GDT);
  v.host_idtr_base = BigInt(LAYOUT.HOST_IDT);
  v.host_rsp = BigInt(LAYOUT.STACK_TOP);
  v.host_rip = BigInt(LAYOUT.VMX_HOST_RIP);

  // ---- guest state: the host mirrored, at the snippet
  v.guest_cr0 = BigInt(LAYOUT.HOST_CR0_VMX) | CR0.NE;
  v.guest_cr3 = BigInt(LAYOUT.HOST_PML4);
  v.guest_cr4 = BigInt(LAYOUT.HOST_CR4_VMX);
  v.guest_ia32_efer = BigInt(LAYOUT.HOST_EFER_VMX);
  v.guest_dr7 = 0x400n;
  v.guest_rflags = 0x2n;
  v.guest_rip = BigInt(snippetRip(choice.snippet));
  v.guest_rsp = BigInt(LAYOUT.GUEST_STACK);
  v.vmcs_link_pointer = 0xffffffffffffffffn;
  v.guest_cs_selector = SEL.code64;
  v.guest_cs_ar_bytes = AR.code64;
  v.guest_cs_limit = 0xffffffff;
  for (const s of ['ss', 'ds', 'es', 'fs', 'gs'] as const) {
    v[`guest_${s}_selector`] = SEL.data;
    v[`guest_${s}_ar_bytes`] = AR.data;
    v[`guest_${s}_limit`] = 0xffffffff;
  }
  v.guest_tr_selector = LAYOUT.HOST_TR_SEL;
  v.guest_tr_ar_bytes = AR.tss64Busy;
  v.guest_tr_limit = 0x67;
  v.guest_tr_base = BigInt(LAYOUT.HOST_TSS);
  v.guest_ldtr_ar_bytes = AR.unusable;
  v.guest_gdtr_base = BigInt(LAYOUT.HOST_GDT);
  v.guest_gdtr_limit = HOST_GDT_LIMIT;
  v.guest_idtr_base = BigInt(snippetIdt(choice.snippet, true));
  v.guest_idtr_limit = 0xfff;
  return v;
}

/** The whole engine scenario: L1 is the harness (64-bit, CPL 0, in VMX operation), VMLAUNCH. */
export function oracleVmxBase(cpu: OracleVmxCpu, choice: OracleVmxChoice): VmxScenario {
  const l1 = validVmxL1();
  l1.cr0 = BigInt(LAYOUT.HOST_CR0_VMX);
  l1.cr3 = BigInt(LAYOUT.HOST_PML4);
  l1.cr4 = BigInt(LAYOUT.HOST_CR4_VMX);
  l1.efer = BigInt(LAYOUT.HOST_EFER_VMX);
  l1.rip = BigInt(LAYOUT.VMX_HOST_RIP);
  l1.rsp = BigInt(LAYOUT.STACK_TOP);
  l1.seg.tr = { selector: LAYOUT.HOST_TR_SEL, base: BigInt(LAYOUT.HOST_TSS), limit: 0x67, ar: AR.tss64Busy };
  l1.gdtr = { base: BigInt(LAYOUT.HOST_GDT), limit: HOST_GDT_LIMIT };
  l1.idtr = { base: BigInt(LAYOUT.HOST_IDT), limit: 32 * 16 - 1 };
  l1.vmxon_ptr = BigInt(LAYOUT.HSAVE_PA);
  const l2: VmxL2Action = choice.snippet === 'hlt' ? { kind: 'hlt' } : { kind: 'cpuid' };
  return {
    arch: 'vmx',
    l0: { ...DEFAULT_VMX_L0 },
    caps: cpu.caps,
    guest: cpu.guest,
    l1,
    current_vmptr: BigInt(LAYOUT.VMCS_PA),
    vmcs12_revision: VMCS12_REVISION,
    vmcs12_shadow: false,
    launch_state: 'clear',
    vmcs12: oracleVmxVmcs12(cpu, choice),
    mem: {},
    ram_top: RAM_BYTES_GPA_TOP,
    path: 'vmlaunch',
    nested_state: { guest_mode: true, run_pending: true },
    l2,
    after: 'none',
  };
}

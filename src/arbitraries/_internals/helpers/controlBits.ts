// Edit one VMX control word of a vmcs12: set the `on` bits, clear the `off` bits (u32 arithmetic).
// Shared by the VMX mutation table and the directed tests that build states by hand.

import type { Vmcs12 } from '../../../arch/vmx/vmcs12.ts';

const u32 = (x: number): number => x >>> 0;

export const pin = (v: Vmcs12, on: number, off = 0): void => { v.pin_based_vm_exec_control = u32((v.pin_based_vm_exec_control | on) & ~off); };
export const proc = (v: Vmcs12, on: number, off = 0): void => { v.cpu_based_vm_exec_control = u32((v.cpu_based_vm_exec_control | on) & ~off); };
export const sec = (v: Vmcs12, on: number, off = 0): void => { v.secondary_vm_exec_control = u32((v.secondary_vm_exec_control | on) & ~off); };
export const exit = (v: Vmcs12, on: number, off = 0): void => { v.vm_exit_controls = u32((v.vm_exit_controls | on) & ~off); };
export const entry = (v: Vmcs12, on: number, off = 0): void => { v.vm_entry_controls = u32((v.vm_entry_controls | on) & ~off); };

// The default field namer for dumpVmcs12 / diffVmcs12: control words by bit name, interruption
// information by type and vector, the exit reason and VM-instruction error by SDM name, the EPTP
// by its parts — the same decoders serve replay, shrink logs and reports.

import { describeControls, type ControlGroup } from './controls.ts';
import type { Vmcs12Namer } from './dump.ts';
import { decodeEptp } from './eptp.ts';
import { vmxErrorName } from './errors.ts';
import { describeExitReason } from './exit_reasons.ts';
import type { Vmcs12FieldName } from './fields.ts';
import { describeIntrInfo } from './intr_info.ts';

const CONTROL_FIELDS: Partial<Record<Vmcs12FieldName, ControlGroup>> = {
  pin_based_vm_exec_control: 'pin',
  cpu_based_vm_exec_control: 'cpu',
  secondary_vm_exec_control: 'secondary',
  vm_exit_controls: 'exit',
  vm_entry_controls: 'entry',
};

const INTR_INFO_FIELDS: ReadonlySet<string> = new Set(['vm_entry_intr_info_field', 'vm_exit_intr_info', 'idt_vectoring_info_field']);

export const vmcs12Namer: Vmcs12Namer = (field, value) => {
  const group = CONTROL_FIELDS[field.name];
  if (group) {
    const names = describeControls(group, Number(value) >>> 0);
    return names.length ? names.join(' ') : undefined;
  }
  if (INTR_INFO_FIELDS.has(field.name)) return Number(value) ? describeIntrInfo(Number(value) >>> 0) : undefined;
  if (field.name === 'vm_exit_reason') return Number(value) ? describeExitReason(Number(value) >>> 0) : undefined;
  if (field.name === 'vm_instruction_error') return Number(value) ? vmxErrorName(Number(value)) : undefined;
  if (field.name === 'ept_pointer' && BigInt(value) !== 0n) {
    const e = decodeEptp(BigInt(value));
    return Object.entries(e).map(([k, v]) => `${k}=${typeof v === 'bigint' ? `0x${v.toString(16)}` : String(v)}`).join(' ');
  }
  return undefined;
};

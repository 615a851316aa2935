import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VMCS12_DUMP_SECTIONS, dumpVmcs12, vmcs12FieldHex, type Vmcs12Namer } from '../../../src/arch/vmx/dump.ts';
import { VMCS12_FIELDS, fieldByName } from '../../../src/arch/vmx/fields.ts';
import { zeroVmcs12 } from '../../../src/arch/vmx/vmcs12.ts';
import { distinctVmcs12, junkVmcs12Arb } from './helpers.ts';

const HEADINGS = ['*** Control State ***', '*** Guest State ***', '*** Host State ***', '*** Exit Information ***'];

describe('dump', () => {
  describe('vmcs12FieldHex', () => {
    it('should pad to the field width: 4, 8 or 16 digits (natural-width is 64-bit)', () => {
      expect(vmcs12FieldHex(fieldByName('guest_cs_selector')!, 0x10)).toBe('0010');
      expect(vmcs12FieldHex(fieldByName('vm_exit_reason')!, 0x21)).toBe('00000021');
      expect(vmcs12FieldHex(fieldByName('ept_pointer')!, 0x5en)).toBe('000000000000005e');
      expect(vmcs12FieldHex(fieldByName('guest_rip')!, 0xfff0n)).toBe('000000000000fff0');
      expect(vmcs12FieldHex(fieldByName('guest_cs_selector')!, 0x12345)).toBe('2345');
    });
  });

  describe('dumpVmcs12', () => {
    it('should print the four sections in order, every field once under its own section', () => {
      const lines = dumpVmcs12(zeroVmcs12()).split('\n');
      expect(lines.length).toBe(VMCS12_FIELDS.length + 4);
      expect(lines.filter((l) => l.startsWith('***'))).toEqual(HEADINGS);
      expect(VMCS12_DUMP_SECTIONS.map((s) => s.title)).toEqual(HEADINGS);
      let section = '';
      const seen = new Map<string, string>();
      for (const l of lines) {
        if (l.startsWith('***')) section = l;
        else seen.set(l.split(' ')[1].replace(/:$/, ''), section);
      }
      for (const f of VMCS12_FIELDS) {
        const want = VMCS12_DUMP_SECTIONS.find((s) => s.group === f.group)!.title;
        expect(seen.get(f.name), f.name).toBe(want);
      }
    });

    it('should print `<encoding> <member>: <hex>` aligned, with the value at the field width', () => {
      const v = zeroVmcs12();
      v.guest_rip = 0xfff0n;
      v.guest_cs_selector = 0xf000;
      v.vm_exit_reason = 0x80000021;
      const lines = dumpVmcs12(v, { title: 'vmcs12 after VMLAUNCH' }).split('\n');
      expect(lines[0]).toBe('vmcs12 after VMLAUNCH');
      const rip = lines.find((l) => l.includes(' guest_rip:'))!;
      expect(rip).toMatch(/^0x681e guest_rip: +000000000000fff0$/);
      expect(lines.find((l) => l.includes(' guest_cs_selector:'))).toMatch(/^0x0802 guest_cs_selector: +f000$/);
      expect(lines.find((l) => l.includes(' vm_exit_reason:'))).toMatch(/^0x4402 vm_exit_reason: +80000021$/);
      const cols = lines.filter((l) => l.startsWith('0x')).map((l) => l.search(/[0-9a-f]+$/));
      expect(new Set(cols).size).toBe(1);
    });

    it('should append what the names hook says, in brackets', () => {
      const v = zeroVmcs12();
      v.pin_based_vm_exec_control = 0x9;
      const names: Vmcs12Namer = (f, x) => (f.name === 'pin_based_vm_exec_control' ? `raw=${x.toString(16)}` : undefined);
      const out = dumpVmcs12(v, { names });
      expect(out).toMatch(/^0x4000 pin_based_vm_exec_control: +00000009 \[raw=9\]$/m);
      expect(out.match(/\[/g)?.length).toBe(1);
    });

    it('should never throw, whatever the member values', () => {
      fc.assert(
        fc.property(junkVmcs12Arb(), (v) => {
          expect(dumpVmcs12(v).split('\n').length).toBe(VMCS12_FIELDS.length + 4);
        }),
      );
      expect(() => dumpVmcs12(distinctVmcs12())).not.toThrow();
    });
  });
});

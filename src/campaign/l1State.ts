// `check --l1 state.json`: L1 overrides on top of defaultL1(). Registers take hex strings ("0x1f")
// or JSON numbers; host/guest/quirks are merged field by field; memory entries are merged by GPA
// (so the default PAE PDPT stays unless overwritten); memslots replace the default list.
// Anything unknown or mistyped is a one-line NESTFUZZ_BAD_INPUT error naming the field.

import { defaultL1 } from '../arbitraries/_internals/builders/defaultL1.ts';
import type { L1State } from '../engine/svm/scenario.ts';
import { bad, bool, int, isObject, u64 } from './jsonInput.ts';

const U64_FIELDS = ['efer', 'cr0', 'cr3', 'cr4', 'cr2', 'rflags', 'rip', 'rsp', 'rax', 'dr6', 'dr7', 'vm_hsave_pa', 'pat'] as const;
const OTHER_FIELDS = ['cs_attrib', 'gif', 'cpl', 'maxphyaddr', 'smm', 'host', 'guest', 'quirks', 'memslots', 'memory'] as const;
export const L1_STATE_FIELDS: readonly string[] = [...U64_FIELDS, ...OTHER_FIELDS];

/** Merge `{flag: boolean}` overrides into a record of booleans with a fixed key set. */
function flags<T extends object>(source: string, field: string, base: T, v: unknown): T {
  if (!isObject(v)) throw bad(source, `${field} must be an object of booleans`, `write ${field} as {"name": true, ...}`);
  const out = { ...base } as Record<string, boolean>;
  for (const [k, x] of Object.entries(v)) {
    if (!(k in out)) throw bad(source, `unknown field ${field}.${k}`, `${field} fields are: ${Object.keys(base).join(', ')}`);
    out[k] = bool(source, `${field}.${k}`, x);
  }
  return out as T;
}

function hexBytes(source: string, field: string, v: unknown): string {
  const clean = typeof v === 'string' ? v.replace(/^0x/, '').replace(/[\s_]/g, '') : null;
  if (clean === null || !/^(?:[0-9a-fA-F]{2})*$/.test(clean)) {
    throw bad(source, `${field} is not a string of hex bytes`, 'write memory contents as hex bytes like "0100000000000000"');
  }
  return clean.toLowerCase();
}

/** defaultL1() with the overrides in `json` (the parsed state.json) applied. */
export function l1FromState(json: unknown, source = 'state.json'): L1State {
  const l1 = defaultL1();
  if (!isObject(json)) throw bad(source, 'top level must be a JSON object', 'write {"cr0": "0x80050033", ...}');
  for (const [k, v] of Object.entries(json)) {
    if ((U64_FIELDS as readonly string[]).includes(k)) {
      l1[k as (typeof U64_FIELDS)[number]] = u64(source, k, v);
      continue;
    }
    switch (k) {
      case 'cs_attrib': l1.cs_attrib = int(source, k, v, 0, 0xffff); break;
      case 'gif': l1.gif = typeof v === 'boolean' ? Number(v) : int(source, k, v, 0, 1); break;
      case 'cpl': l1.cpl = int(source, k, v, 0, 3); break;
      case 'maxphyaddr': l1.maxphyaddr = int(source, k, v, 1, 64); break;
      case 'smm': l1.smm = bool(source, k, v); break;
      case 'host': l1.host = flags(source, k, l1.host, v); break;
      case 'guest': l1.guest = flags(source, k, l1.guest, v); break;
      case 'quirks': l1.quirks = flags(source, k, l1.quirks, v); break;
      case 'memslots': {
        if (!Array.isArray(v)) throw bad(source, 'memslots must be an array of {base, size}', 'write memslots as [{"base": "0x0", "size": "0x100000000"}]');
        l1.memslots = v.map((m, i) => {
          if (!isObject(m)) throw bad(source, `memslots[${i}] must be {base, size}`, 'write memslots as [{"base": "0x0", "size": "0x100000000"}]');
          for (const key of Object.keys(m)) if (key !== 'base' && key !== 'size') throw bad(source, `unknown field memslots[${i}].${key}`, 'a memslot has only base and size');
          return { base: u64(source, `memslots[${i}].base`, m.base), size: u64(source, `memslots[${i}].size`, m.size) };
        });
        break;
      }
      case 'memory': {
        if (!isObject(v)) throw bad(source, 'memory must be an object {gpa: hexbytes}', 'write memory as {"0x400000": "0100000000000000"}');
        const mem = { ...l1.memory };
        for (const [gpa, bytes] of Object.entries(v)) {
          const addr = u64(source, `memory key ${JSON.stringify(gpa)}`, gpa);
          mem[`0x${addr.toString(16)}`] = hexBytes(source, `memory[${JSON.stringify(gpa)}]`, bytes);
        }
        l1.memory = mem;
        break;
      }
      default:
        throw bad(source, `unknown field ${JSON.stringify(k)}`, `L1 fields are: ${L1_STATE_FIELDS.join(', ')}`);
    }
  }
  return l1;
}

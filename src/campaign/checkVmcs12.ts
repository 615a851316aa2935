// `check --vmcs12 <state.json|dir>`: one nested-VMX state through the engine, as L1 executes
// VMLAUNCH (or VMRESUME, or userspace KVM_SET_NESTED_STATE) with it. A state file overrides
// validVmxScenario() piecewise, every key optional:
//
//   {"l1":     {"cpl": 0, "cr4": "0x26a0", "launch_state": "clear", "path": "vmlaunch", ...},
//    "caps":   {"IA32_VMX_CR4_FIXED1": "0x...", "maxphyaddr": 46, "pku": true, ...},
//    "memory": {"0x1b000": "7401000000000000...", ...},
//    "vmcs12": {"virtual_processor_id": "0x0", "guest_activity_state": 2, ...}}
//
// vmcs12 keys are KVM's struct vmcs12 member names; caps keys are SDM MSR names, guest facts and
// CPUID feature names; memory bytes are little-endian. The verdict vocabulary is the engine's
// VmxOutcome, so the same state can be compared against other implementations line by line.
// Anything unknown or mistyped is a one-line NESTFUZZ_BAD_INPUT error naming it.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { NestedVmxMsrs } from '../arch/vmx/caps.ts';
import { fieldByName } from '../arch/vmx/fields.ts';
import { fieldStoredValue } from '../arch/vmx/vmcs12.ts';
import type { Profile } from '../engine/profiles.ts';
import type { VmxOutcome } from '../engine/vmx/result.ts';
import { runVmx } from '../engine/vmx/run.ts';
import { memKey, VMX_SEGMENTS, type VmxEntryPath, type VmxL1, type VmxScenario } from '../engine/vmx/scenario.ts';
import { validVmxScenario } from '../engine/vmx/scenario_base.ts';
import { NestfuzzError, oneLine } from './errors.ts';
import { bad, bool, int, isObject, u64 } from './jsonInput.ts';

export interface Vmcs12Verdict {
  outcome: VmxOutcome;
  /** VM-instruction error of a VMfailValid, else null. */
  vm_instruction_error: number | null;
  /**
   * entry-failure: the exit reason L1 reads (bit 31 set, 0x80000021/0x80000022); entered: L2's
   * first exit reason to L1 (null if L2 did not exit to L1); otherwise null. Hex, "0x…".
   */
  exit_reason: string | null;
  /** The exit qualification belonging to exit_reason, or null. Hex. */
  exit_qualification: string | null;
  /** Ids of the consistency checks that failed, in evaluation order. */
  failed_checks: string[];
}

export const STATE_SECTIONS = ['l1', 'caps', 'memory', 'vmcs12'] as const;

function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
}

function section(source: string, name: string, v: unknown, example: string): Record<string, unknown> {
  if (!isObject(v)) throw bad(source, `${name} must be a JSON object`, `write it like "${name}": ${example}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// vmcs12

function applyVmcs12(source: string, s: VmxScenario, json: Record<string, unknown>): void {
  const rec = s.vmcs12 as Record<string, bigint | number>;
  for (const [name, v] of Object.entries(json)) {
    const f = fieldByName(name);
    if (f === undefined) {
      throw bad(source, `unknown vmcs12 field ${JSON.stringify(name)}`, 'use KVM struct vmcs12 member names like "guest_rip" or "virtual_processor_id"');
    }
    rec[f.name] = fieldStoredValue(f, u64(source, `vmcs12.${name}`, v));
  }
}

// ---------------------------------------------------------------------------------------------
// l1

/** Keys of `l1` beyond VmxL1's registers. */
const L1_EXTRA = ['launch_state', 'current_vmptr', 'path'] as const;
const PATHS: readonly VmxEntryPath[] = ['vmlaunch', 'vmresume', 'set-nested-state'];

function segmentLike(source: string, field: string, base: Record<string, bigint | number>, v: unknown): Record<string, bigint | number> {
  const o = section(source, field, v, '{"selector": "0x10", "base": "0x0", "limit": "0xffffffff", "ar": "0xc093"}');
  const out = { ...base };
  for (const [k, x] of Object.entries(o)) {
    if (!(k in base)) throw bad(source, `unknown field ${field}.${k}`, `${field} fields are: ${Object.keys(base).join(', ')}`);
    out[k] = typeof base[k] === 'bigint' ? u64(source, `${field}.${k}`, x) : int(source, `${field}.${k}`, x, 0, 0xffffffff);
  }
  return out;
}

function applyL1(source: string, s: VmxScenario, json: Record<string, unknown>): void {
  const l1 = s.l1 as unknown as Record<string, unknown>;
  const names = [...Object.keys(s.l1), ...L1_EXTRA];
  for (const [k, v] of Object.entries(json)) {
    const field = `l1.${k}`;
    switch (k) {
      case 'launch_state':
        if (v !== 'clear' && v !== 'launched') throw bad(source, `${field} is ${JSON.stringify(v)}`, 'set it to "clear" or "launched"');
        s.launch_state = v;
        continue;
      case 'current_vmptr':
        s.current_vmptr = u64(source, field, v);
        continue;
      case 'path':
        if (!PATHS.includes(v as VmxEntryPath)) throw bad(source, `${field} is ${JSON.stringify(v)}`, `set it to one of ${PATHS.map((p) => `"${p}"`).join(', ')}`);
        s.path = v as VmxEntryPath;
        continue;
      case 'cpl':
        s.l1.cpl = int(source, field, v, 0, 3);
        continue;
      case 'seg': {
        const o = section(source, field, v, '{"cs": {"selector": "0x8", "ar": "0xa09b"}}');
        for (const [n, x] of Object.entries(o)) {
          if (!(VMX_SEGMENTS as readonly string[]).includes(n)) throw bad(source, `unknown segment ${field}.${n}`, `segments are: ${VMX_SEGMENTS.join(', ')}`);
          const seg = n as (typeof VMX_SEGMENTS)[number];
          s.l1.seg[seg] = segmentLike(source, `${field}.${n}`, { ...s.l1.seg[seg] }, x) as unknown as VmxL1['seg'][typeof seg];
        }
        continue;
      }
      case 'gdtr':
      case 'idtr':
        s.l1[k] = segmentLike(source, field, { ...s.l1[k] }, v) as unknown as VmxL1['gdtr'];
        continue;
      case 'msrs': {
        const o = section(source, field, v, '{"0xc0000080": "0xd01"}');
        for (const [idx, x] of Object.entries(o)) {
          const i = u64(source, `${field} key ${JSON.stringify(idx)}`, idx);
          if (i > 0xffffffffn) throw bad(source, `${field} key ${JSON.stringify(idx)} is not a 32-bit MSR index`, 'key MSRs by their index, like "0xc0000080"');
          s.l1.msrs[hex(i)] = u64(source, `${field}.${idx}`, x);
        }
        continue;
      }
      default:
        break;
    }
    if (!Object.prototype.hasOwnProperty.call(l1, k)) throw bad(source, `unknown field ${JSON.stringify(field)}`, `l1 fields are: ${names.join(', ')}`);
    const cur = l1[k];
    if (typeof cur === 'bigint') l1[k] = u64(source, field, v);
    else if (typeof cur === 'number') l1[k] = int(source, field, v, 0, 0xffffffff);
    else if (typeof cur === 'boolean') l1[k] = bool(source, field, v);
    else throw bad(source, `${field} cannot be overridden`, `l1 fields are: ${names.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// caps

type ControlPair = readonly [keyof NestedVmxMsrs, keyof NestedVmxMsrs];

/** Control MSRs: low dword = allowed-0 settings, high dword = allowed-1 settings. */
const CAP_PAIRS: Readonly<Record<string, ControlPair>> = {
  IA32_VMX_TRUE_PINBASED_CTLS: ['pinbasedCtlsLow', 'pinbasedCtlsHigh'],
  IA32_VMX_TRUE_PROCBASED_CTLS: ['procbasedCtlsLow', 'procbasedCtlsHigh'],
  IA32_VMX_PROCBASED_CTLS2: ['secondaryCtlsLow', 'secondaryCtlsHigh'],
  IA32_VMX_TRUE_EXIT_CTLS: ['exitCtlsLow', 'exitCtlsHigh'],
  IA32_VMX_TRUE_ENTRY_CTLS: ['entryCtlsLow', 'entryCtlsHigh'],
  IA32_VMX_MISC: ['miscLow', 'miscHigh'],
  /** Low dword: EPT capabilities; high dword: VPID capabilities. */
  IA32_VMX_EPT_VPID_CAP: ['eptCaps', 'vpidCaps'],
};

/** 64-bit capability MSRs stored whole. */
const CAP_WHOLE: Readonly<Record<string, keyof NestedVmxMsrs>> = {
  IA32_VMX_BASIC: 'basic',
  IA32_VMX_CR0_FIXED0: 'cr0Fixed0',
  IA32_VMX_CR0_FIXED1: 'cr0Fixed1',
  IA32_VMX_CR4_FIXED0: 'cr4Fixed0',
  IA32_VMX_CR4_FIXED1: 'cr4Fixed1',
  IA32_VMX_VMCS_ENUM: 'vmcsEnum',
  IA32_VMX_VMFUNC: 'vmfuncControls',
};

const GUEST_INTS: Readonly<Record<string, readonly [number, number]>> = {
  maxphyaddr: [1, 52],
  pmu_gp_counters: [0, 32],
  pmu_fixed_counters: [0, 16],
};

const GUEST_BOOLS = ['mpx', 'quirk_allow_freeze_in_smm'] as const;

function applyCaps(source: string, s: VmxScenario, json: Record<string, unknown>): void {
  const caps = s.caps as unknown as Record<string, bigint | number>;
  const cpuid = s.guest.cpuid as unknown as Record<string, boolean>;
  const known = (): string => [...Object.keys(CAP_WHOLE), ...Object.keys(CAP_PAIRS), ...Object.keys(GUEST_INTS), ...GUEST_BOOLS, ...Object.keys(cpuid)].join(', ');
  for (const [k, v] of Object.entries(json)) {
    const field = `caps.${k}`;
    const pair = CAP_PAIRS[k];
    const whole = CAP_WHOLE[k];
    const range = GUEST_INTS[k];
    if (pair !== undefined) {
      const x = u64(source, field, v);
      caps[pair[0]] = Number(x & 0xffffffffn);
      caps[pair[1]] = Number(x >> 32n);
    } else if (whole !== undefined) {
      caps[whole] = u64(source, field, v);
    } else if (range !== undefined) {
      (s.guest as unknown as Record<string, number>)[k] = int(source, field, v, range[0], range[1]);
    } else if ((GUEST_BOOLS as readonly string[]).includes(k)) {
      (s.guest as unknown as Record<string, boolean>)[k] = bool(source, field, v);
    } else if (Object.prototype.hasOwnProperty.call(cpuid, k)) {
      cpuid[k] = bool(source, field, v);
    } else {
      throw bad(source, `unknown field ${JSON.stringify(field)}`, `caps fields are: ${known()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// memory

function applyMemory(source: string, s: VmxScenario, json: Record<string, unknown>): void {
  for (const [gpaText, bytesText] of Object.entries(json)) {
    const gpa = u64(source, `memory key ${JSON.stringify(gpaText)}`, gpaText);
    const clean = typeof bytesText === 'string' ? bytesText.replace(/^0x/, '').replace(/[\s_]/g, '') : null;
    if (clean === null || !/^(?:[0-9a-fA-F]{2})*$/.test(clean)) {
      throw bad(source, `memory[${JSON.stringify(gpaText)}] is not a string of hex bytes`, 'write memory as little-endian hex bytes like "7401000000000000"');
    }
    for (let i = 0; i < clean.length / 2; i++) {
      const addr = gpa + BigInt(i);
      if (addr >= 1n << 64n) throw bad(source, `memory[${JSON.stringify(gpaText)}] runs past the top of the address space`, 'shorten the bytes or lower the GPA');
      const key = memKey(addr);
      const shift = (addr & 7n) * 8n;
      const byte = BigInt(parseInt(clean.slice(2 * i, 2 * i + 2), 16));
      s.mem[key] = ((s.mem[key] ?? 0n) & ~(0xffn << shift)) | (byte << shift);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** validVmxScenario() with the overrides of a parsed state.json applied. */
export function vmxScenarioFromState(json: unknown, source = 'state.json'): VmxScenario {
  if (!isObject(json)) throw bad(source, 'top level must be a JSON object', 'write {"vmcs12": {"guest_rip": "0x1000"}, ...}; every key is optional');
  for (const k of Object.keys(json)) {
    if (!(STATE_SECTIONS as readonly string[]).includes(k)) throw bad(source, `unknown top-level key ${JSON.stringify(k)}`, `a state has only ${STATE_SECTIONS.join(', ')}`);
  }
  const s = validVmxScenario();
  // caps first: nothing below depends on it, but an error in it is the likeliest to explain the rest.
  if (json.caps !== undefined) applyCaps(source, s, section(source, 'caps', json.caps, '{"IA32_VMX_CR4_FIXED1": "0x3727ff"}'));
  if (json.l1 !== undefined) applyL1(source, s, section(source, 'l1', json.l1, '{"cpl": 0}'));
  if (json.memory !== undefined) applyMemory(source, s, section(source, 'memory', json.memory, '{"0x1b000": "7401000000000000"}'));
  if (json.vmcs12 !== undefined) applyVmcs12(source, s, section(source, 'vmcs12', json.vmcs12, '{"guest_rip": "0x1000"}'));
  return s;
}

/** Run a VMX scenario and state the verdict in check's vocabulary. */
export function checkVmxScenario(s: VmxScenario, profile: Profile): Vmcs12Verdict {
  if (profile.arch === 'svm') {
    throw new NestfuzzError('NESTFUZZ_USAGE', `profile ${JSON.stringify(profile.name)} models a nested-SVM bug`, 'pass a kernel profile or a VMX bug profile to `check --vmcs12` (see `nestfuzz list`)');
  }
  const r = runVmx(s, profile);
  let reason: number | null = null;
  let qual: bigint | null = null;
  if (r.exit_reason !== null) {
    reason = r.exit_reason;
    qual = r.exit_qualification;
  } else if (r.outcome === 'entered' && r.l2_exit !== null) {
    reason = r.l2_exit.reason;
    qual = r.l2_exit.qualification;
  }
  return {
    outcome: r.outcome,
    vm_instruction_error: r.vm_instruction_error,
    exit_reason: reason === null ? null : hex(reason >>> 0),
    exit_qualification: reason === null ? null : hex(qual ?? 0n),
    failed_checks: r.trace.failedChecks(),
  };
}

/** Build the scenario of a parsed state.json and judge it. */
export function checkVmcs12State(json: unknown, profile: Profile, source = 'state.json'): Vmcs12Verdict {
  return checkVmxScenario(vmxScenarioFromState(json, source), profile);
}

/** One line for humans: `file: outcome [error n] [exit 0x… qual 0x…] failed: a, b`. */
export function formatVmcs12Verdict(v: Vmcs12Verdict, file?: string): string {
  const parts = [`${file === undefined ? '' : `${file}: `}${v.outcome}`];
  if (v.vm_instruction_error !== null) parts.push(`VM-instruction error ${v.vm_instruction_error}`);
  if (v.exit_reason !== null) parts.push(`${v.outcome === 'entered' ? 'L2 exit' : 'exit'} ${v.exit_reason} qual ${v.exit_qualification}`);
  parts.push(v.failed_checks.length === 0 ? 'no check failed' : `failed: ${v.failed_checks.join(', ')}`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// files

function readState(file: string, fix: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${file} (${oneLine(e)})`, fix);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} is not valid JSON (${oneLine(e)})`, 'fix the JSON syntax');
  }
}

export interface Vmcs12States {
  /** `target` was a directory (output lines then carry a "file" key). */
  directory: boolean;
  states: Array<{ file: string; path: string; json: unknown }>;
}

/** The states `--vmcs12` names: the file itself, or every *.json in the directory (sorted), each parsed. */
export function readVmcs12States(target: string): Vmcs12States {
  const fix = 'pass a state.json or a directory of *.json states';
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${target} (${oneLine(e)})`, fix);
  }
  if (!isDir) return { directory: false, states: [{ file: basename(target), path: target, json: readState(target, fix) }] };
  const names = readdirSync(target).filter((n) => n.endsWith('.json')).sort();
  if (names.length === 0) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${target} has no *.json files`, 'put state files named *.json in the directory');
  return { directory: true, states: names.map((n) => ({ file: n, path: join(target, n), json: readState(join(target, n), fix) })) };
}

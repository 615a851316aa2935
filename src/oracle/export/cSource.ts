// repro.c: the image's vmcb12 as C in the shape of kvm-unit-tests' SVM tests (x86/svm_tests.c):
// a prepare function assigning vmcb->control.<field> / vmcb->save.<field> for every field that is
// not zero, and a check function comparing the exit with the verdict expected on kvm-next. Field
// names are kvm-unit-tests' struct vmcb names (x86/svm.h), which follow the APM and KVM; fields that
// struct does not have are written at their APM offsets.

import { VMCB_CONTROL_FIELDS, VMCB_SAVE_FIELDS, VMCB_SEG_FIELDS } from '../../arch/svm/layout.ts';
import { interceptName } from '../../arch/svm/defs.ts';
import { svmExitName } from '../../arch/svm/exit_codes.ts';
import type { Vmcb } from '../../arch/svm/vmcb.ts';
import type { OracleCpu } from '../cpu.ts';
import { GUEST_SNIPPETS } from '../image.ts';
import { LAYOUT } from '../layout.ts';
import { definedFields, describeSvmVerdict, type SvmVerdict } from '../svm/verdict.ts';
import { reproCpuLine } from './cpu.ts';
import type { ReproSource } from './source.ts';

/** Our field name -> kvm-unit-tests' (x86/svm.h struct vmcb_control_area), where they differ. */
const KUT_CONTROL_NAME: Record<string, string> = { misc_ctl: 'nested_ctl', misc_ctl2: 'virt_ext' };
/** Fields kvm-unit-tests' struct vmcb does not declare (reserved bytes there). */
const NOT_IN_KUT = new Set([
  'erap_ctl', 'avic_vapic_bar', 'ghcb_gpa', 'avic_backing_page', 'avic_logical_id', 'avic_physical_id', 'vmsa_pa',
  'bus_lock_counter', 'allowed_sev_features', 'guest_sev_features', 'vmpl', 's_cet', 'ssp', 'isst_addr', 'spec_ctrl',
]);
/** kvm-unit-tests' enum INTERCEPT_* numbers the bits of its u64 `intercept` (vectors 3 and 4) up to MWAIT_COND. */
const KUT_LAST_INTERCEPT = 140 - 96;
/** Exit codes kvm-unit-tests names SVM_EXIT_<name> (x86/svm.h). */
const KUT_EXIT_RANGES: [number, number][] = [[0x060, 0x08c], [0x400, 0x400]];

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const lit = (v: bigint | number): string => (BigInt.asUintN(64, BigInt(v)) > 0xffffffffn ? `${hex(v)}ULL` : hex(v));
const C_TYPE: Record<number, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };

function raw(offset: number, width: number, value: bigint | number, what: string): string {
  return `*(${C_TYPE[width]} *)((u8 *)vmcb + 0x${offset.toString(16).padStart(3, '0')}) = ${lit(value)};\t/* ${what}: not in kvm-unit-tests' struct vmcb */`;
}

function interceptExpr(lo: number, hi: number): string {
  const v = BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n);
  const terms: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (((v >> BigInt(b)) & 1n) === 0n) continue;
    const name = interceptName(96 + b).replace(/^INTN$/, 'INTn');
    terms.push(b <= KUT_LAST_INTERCEPT ? `(1ULL << INTERCEPT_${name})` : `(1ULL << ${b}) /* ${name} */`);
  }
  return terms.join(' |\n\t\t\t\t  ');
}

function controlLines(v: Vmcb): string[] {
  const c = v.control;
  const out: string[] = [];
  const w = c.intercepts;
  const half = (x: number, top: boolean): number => (top ? x >>> 16 : x & 0xffff);
  if (half(w[0], false)) out.push(`vmcb->control.intercept_cr_read = ${hex(half(w[0], false))};`);
  if (half(w[0], true)) out.push(`vmcb->control.intercept_cr_write = ${hex(half(w[0], true))};`);
  if (half(w[1], false)) out.push(`vmcb->control.intercept_dr_read = ${hex(half(w[1], false))};`);
  if (half(w[1], true)) out.push(`vmcb->control.intercept_dr_write = ${hex(half(w[1], true))};`);
  if (w[2]) out.push(`vmcb->control.intercept_exceptions = ${hex(w[2] >>> 0)};`);
  if (w[3] || w[4]) out.push(`vmcb->control.intercept = ${interceptExpr(w[3], w[4])};`);
  if (w[5]) out.push(raw(0x014, 4, w[5] >>> 0, 'intercept vector 5'));
  for (const f of VMCB_CONTROL_FIELDS) {
    if (f.kind === 'array') {
      if (f.name === 'insn_bytes') c.insn_bytes.forEach((b, i) => b && out.push(`vmcb->control.insn_bytes[${i}] = ${hex(b)};`));
      continue;
    }
    const value = c[f.name];
    if (BigInt(value) === 0n) continue;
    if (NOT_IN_KUT.has(f.name)) out.push(raw(f.offset, f.width, value, `control.${f.name}`));
    else out.push(`vmcb->control.${KUT_CONTROL_NAME[f.name] ?? f.name} = ${lit(value)};`);
  }
  return out;
}

function saveLines(v: Vmcb): string[] {
  const s = v.save;
  const out: string[] = [];
  for (const f of VMCB_SAVE_FIELDS) {
    if (f.kind === 'seg') {
      const seg = s[f.name];
      for (const sf of VMCB_SEG_FIELDS) if (BigInt(seg[sf.name]) !== 0n) out.push(`vmcb->save.${f.name}.${sf.name} = ${lit(seg[sf.name])};`);
      continue;
    }
    const value = s[f.name];
    if (BigInt(value) === 0n) continue;
    if (NOT_IN_KUT.has(f.name)) out.push(raw(f.offset, f.width, value, `save.${f.name}`));
    else out.push(`vmcb->save.${f.name} = ${lit(value)};`);
  }
  return out;
}

/** The fields holding addresses of what the harness built, and what a test puts there instead. */
function harnessAddresses(src: ReproSource): string[] {
  const v = src.c.scenario.vmcb12;
  const mask = (1n << 32n) - 1n;
  const out: string[] = [];
  const at = (field: string, value: bigint, what: string): void => {
    out.push(`${field} = ${hex(value)}: ${what}`);
  };
  at('control.iopm_base_pa', v.control.iopm_base_pa, `the harness's IOPM at ${hex(LAYOUT.IOPM_PA)} (12 KiB of zeros: no port intercepted)`);
  at('control.msrpm_base_pa', v.control.msrpm_base_pa, `the harness's MSRPM at ${hex(LAYOUT.MSRPM_PA)} (8 KiB of zeros: no MSR intercepted)`);
  if (v.control.nested_cr3 !== 0n) {
    const identity = (v.control.nested_cr3 & mask & ~0xfffn) === BigInt(LAYOUT.HOST_PML4);
    at('control.nested_cr3', v.control.nested_cr3, identity
      ? `the harness's identity tables at ${hex(LAYOUT.HOST_PML4)} (4-level, 4 GiB in 2 MiB pages, every entry U=1)`
      : `one of the harness's nested page table sets at ${hex(LAYOUT.NPT_SETS)}+ (an identity map with one 4 KiB page changed)`);
  }
  if (v.save.cr3 !== 0n) {
    const low = v.save.cr3 & mask;
    at('save.cr3', v.save.cr3, low === BigInt(LAYOUT.GUEST_PD32) ? `L2's 32-bit page directory at ${hex(LAYOUT.GUEST_PD32)} (identity-maps 8..12 MiB)` : `L2's page tables (the harness's identity tables at ${hex(LAYOUT.HOST_PML4)})`);
  }
  const snippet = src.c.choice.snippet;
  const insns = snippet === 'nop' ? 'nop; vmmcall' : snippet === 'hlt' ? 'hlt' : `${snippet}; hlt`;
  at('save.rip', v.save.rip, `L2's code: ${insns} (bytes ${[...GUEST_SNIPPETS[snippet], 0xf4].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  at('save.rsp', v.save.rsp, "L2's stack top");
  at('save.gdtr.base', v.save.gdtr.base, "L2's GDT (0x08 64-bit code, 0x10 data, 0x18 32-bit code)");
  at('save.idtr.base', v.save.idtr.base, `L2's IDT, every vector pointing at the code at save.rip`);
  if (src.projected) out.push(`(bits above MAXPHYADDR ${src.c.scenario.l1.maxphyaddr} in these addresses are the counterexample's own and must stay)`);
  return out;
}

function exitConst(code: bigint): string {
  if (code === 0xffffffffffffffffn) return 'SVM_EXIT_ERR';
  const c = Number(code);
  if (code < 0x1000n && c >= 0x040 && c < 0x060) return `(SVM_EXIT_EXCP_BASE + ${c - 0x40})`;
  if (code < 0x1000n && KUT_EXIT_RANGES.some(([a, b]) => c >= a && c <= b)) return `SVM_EXIT_${svmExitName(code)}`;
  return lit(code);
}

function checkBody(v: SvmVerdict): string[] {
  switch (v.kind) {
    case 'invalid':
      return [`return vmcb->control.exit_code == ${v.exit_code === 0xffffffffffffffffn ? 'SVM_EXIT_ERR' : lit(v.exit_code)};`];
    case 'exit': {
      const terms = [`vmcb->control.exit_code == ${exitConst(v.exit_code)}`];
      for (const f of definedFields(v.exit_code)) terms.push(`vmcb->control.${f} == ${lit(v[f])}`);
      if (v.exit_int_info === 0n) terms.push('!(vmcb->control.exit_int_info & SVM_EXITINTINFO_VALID)');
      else terms.push(`vmcb->control.exit_int_info == ${hex(v.exit_int_info & 0xffffffffn)}`, `vmcb->control.exit_int_info_err == ${hex(v.exit_int_info >> 32n)}`);
      return [`return ${terms.join(' &&\n\t       ')};`];
    }
    case 'host-exception':
      return [`/* TODO: VMRUN itself raises vector ${v.vector} in L1: run it under the test's exception handler and check that vector. */`, 'return false;'];
    default:
      return [`/* ${v.kind}: ${v.detail}: no exit L1 could check. */`, 'return false;'];
  }
}

/**
 * prepare_<name> (`setup` lines, then every non-zero vmcb field) and check_<name> (each expected
 * verdict as a comment, then a check of the first: kvm-next's), as kvm-unit-tests' svm_tests.c has them.
 */
export function svmTestPair(name: string, v: Vmcb, setup: readonly string[], expected: readonly { label: string; verdict: SvmVerdict }[]): string[] {
  return [
    `static void prepare_${name}(struct svm_test *test)`,
    '{',
    ...setup,
    ...controlLines(v).map((l) => `\t${l}`),
    '',
    ...saveLines(v).map((l) => `\t${l}`),
    '}',
    '',
    `static bool check_${name}(struct svm_test *test)`,
    '{',
    ...expected.map((e) => `\t/* ${e.label}: ${describeSvmVerdict(e.verdict)} */`),
    ...checkBody(expected[0].verdict).map((l) => `\t${l}`),
    '}',
    '',
  ];
}

export function reproC(src: ReproSource, cpu: OracleCpu): string {
  const v = src.c.scenario.vmcb12;
  const name = `nestfuzz_${src.hash.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const comment = (lines: string[]): string => lines.map((l) => (l ? ` * ${l}` : ' *')).join('\n');
  const width = Math.max(...src.expected.map((e) => e.label.length));
  const head = [
    `nestfuzz reproducer ${src.hash}: ${src.title}.`,
    ...(src.property ? [`${src.property}: ${src.detail}`] : [src.detail]),
    ...(src.lost ? ['', `Note: ${src.lost}.`] : []),
    '',
    `After VMRUN of this vmcb from L1 (64-bit, EFER.SVME set, identity-mapped), L1 sees (nestfuzz's`,
    `reference engine, L1 CPU ${cpu.model}: ${reproCpuLine(cpu)}):`,
    ...src.expected.map((e) => `  ${`${e.label}:`.padEnd(width + 1)} ${describeSvmVerdict(e.verdict)}`),
    '',
    ...(src.projected ? [
      'The state is the counterexample\'s vmcb12 projected onto nestfuzz\'s oracle harness: its',
      'consistency-checked values are kept, its addresses are the harness\'s (repro.elf builds them).',
      '',
    ] : []),
    'Harness addresses a test must replace with its own:',
    ...harnessAddresses(src).map((l) => `  ${l}`),
    'Every field not assigned below is zero: start from a zeroed vmcb if the test\'s defaults set more.',
    '',
    `Register it in svm_tests[] with a guest that runs the code described at save.rip and`,
    `check_${name} as its success check.`,
  ];
  return [
    '/*',
    comment(head),
    ' */',
    ...svmTestPair(name, v, [], src.expected),
  ].join('\n');
}

// repro.c for a nested-VMX counterexample, in the shape of kvm-unit-tests' VMX tests (x86/vmx_tests.c,
// x86/vmx.h): a test function that starts from the VMCS init_vmcs() builds, applies the fields the
// counterexample changed with vmcs_write(), launches, and checks the verdict expected on kvm-next
// (test_vmx_vmlaunch for a VMfailValid, the exit reason and qualification otherwise); and the whole
// state repro.elf writes as a { field, value } table, for a test that builds its VMCS from scratch.
// Field names are kvm-unit-tests' enum Encoding where it has one, else the SDM encoding with
// asm/vmx.h's name in a comment.

import { buildOracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import { vmxErrorName } from '../../arch/vmx/errors.ts';
import { VMCS12_FIELDS } from '../../arch/vmx/fields.ts';
import { GUEST_SNIPPETS } from '../image.ts';
import { LAYOUT } from '../layout.ts';
import type { OracleVmxCpu } from '../vmx/cpu.ts';
import { changedFields, projectionRule } from '../vmx/project.ts';
import { describeVmxVerdict, type VmxVerdict } from '../vmx/verdict.ts';
import { vmcs12FieldList } from '../vmx/fieldList.ts';
import { BOCHS_VMX_ABSENT_FIELDS } from '../vmx/adapters.ts';
import { reproVmxCpuLine } from './vmxCpu.ts';
import type { VmxReproSource } from './vmxSource.ts';

/** kvm-unit-tests' x86/vmx.h enum Encoding names, by SDM encoding. */
const KUT_NAME: Readonly<Record<number, string>> = {
  0x0000: 'VPID', 0x0002: 'PINV', 0x0004: 'EPTP_IDX',
  0x0800: 'GUEST_SEL_ES', 0x0802: 'GUEST_SEL_CS', 0x0804: 'GUEST_SEL_SS', 0x0806: 'GUEST_SEL_DS', 0x0808: 'GUEST_SEL_FS',
  0x080a: 'GUEST_SEL_GS', 0x080c: 'GUEST_SEL_LDTR', 0x080e: 'GUEST_SEL_TR', 0x0810: 'GUEST_INT_STATUS',
  0x0c00: 'HOST_SEL_ES', 0x0c02: 'HOST_SEL_CS', 0x0c04: 'HOST_SEL_SS', 0x0c06: 'HOST_SEL_DS', 0x0c08: 'HOST_SEL_FS',
  0x0c0a: 'HOST_SEL_GS', 0x0c0c: 'HOST_SEL_TR',
  0x2000: 'IO_BITMAP_A', 0x2002: 'IO_BITMAP_B', 0x2004: 'MSR_BITMAP', 0x2006: 'EXIT_MSR_ST_ADDR', 0x2008: 'EXIT_MSR_LD_ADDR',
  0x200a: 'ENTER_MSR_LD_ADDR', 0x200c: 'VMCS_EXEC_PTR', 0x2010: 'TSC_OFFSET', 0x2012: 'APIC_VIRT_ADDR', 0x2014: 'APIC_ACCS_ADDR',
  0x201a: 'EPTP',
  0x2800: 'VMCS_LINK_PTR', 0x2802: 'GUEST_DEBUGCTL', 0x2804: 'GUEST_PAT', 0x2806: 'GUEST_EFER', 0x2808: 'GUEST_PERF_GLOBAL_CTRL',
  0x280a: 'GUEST_PDPTE',
  0x2c00: 'HOST_PAT', 0x2c02: 'HOST_EFER', 0x2c04: 'HOST_PERF_GLOBAL_CTRL',
  0x4000: 'PIN_CONTROLS', 0x4002: 'CPU_EXEC_CTRL0', 0x4004: 'EXC_BITMAP', 0x4006: 'PF_ERROR_MASK', 0x4008: 'PF_ERROR_MATCH',
  0x400a: 'CR3_TARGET_COUNT', 0x400c: 'EXI_CONTROLS', 0x400e: 'EXI_MSR_ST_CNT', 0x4010: 'EXI_MSR_LD_CNT', 0x4012: 'ENT_CONTROLS',
  0x4014: 'ENT_MSR_LD_CNT', 0x4016: 'ENT_INTR_INFO', 0x4018: 'ENT_INTR_ERROR', 0x401a: 'ENT_INST_LEN', 0x401c: 'TPR_THRESHOLD',
  0x401e: 'CPU_EXEC_CTRL1',
  0x4800: 'GUEST_LIMIT_ES', 0x4802: 'GUEST_LIMIT_CS', 0x4804: 'GUEST_LIMIT_SS', 0x4806: 'GUEST_LIMIT_DS', 0x4808: 'GUEST_LIMIT_FS',
  0x480a: 'GUEST_LIMIT_GS', 0x480c: 'GUEST_LIMIT_LDTR', 0x480e: 'GUEST_LIMIT_TR', 0x4810: 'GUEST_LIMIT_GDTR', 0x4812: 'GUEST_LIMIT_IDTR',
  0x4814: 'GUEST_AR_ES', 0x4816: 'GUEST_AR_CS', 0x4818: 'GUEST_AR_SS', 0x481a: 'GUEST_AR_DS', 0x481c: 'GUEST_AR_FS',
  0x481e: 'GUEST_AR_GS', 0x4820: 'GUEST_AR_LDTR', 0x4822: 'GUEST_AR_TR', 0x4824: 'GUEST_INTR_STATE', 0x4826: 'GUEST_ACTV_STATE',
  0x4828: 'GUEST_SMBASE', 0x482a: 'GUEST_SYSENTER_CS', 0x482e: 'PREEMPT_TIMER_VALUE', 0x4c00: 'HOST_SYSENTER_CS',
  0x6000: 'CR0_MASK', 0x6002: 'CR4_MASK', 0x6004: 'CR0_READ_SHADOW', 0x6006: 'CR4_READ_SHADOW', 0x6008: 'CR3_TARGET_0',
  0x600a: 'CR3_TARGET_1', 0x600c: 'CR3_TARGET_2', 0x600e: 'CR3_TARGET_3',
  0x6800: 'GUEST_CR0', 0x6802: 'GUEST_CR3', 0x6804: 'GUEST_CR4', 0x6806: 'GUEST_BASE_ES', 0x6808: 'GUEST_BASE_CS',
  0x680a: 'GUEST_BASE_SS', 0x680c: 'GUEST_BASE_DS', 0x680e: 'GUEST_BASE_FS', 0x6810: 'GUEST_BASE_GS', 0x6812: 'GUEST_BASE_LDTR',
  0x6814: 'GUEST_BASE_TR', 0x6816: 'GUEST_BASE_GDTR', 0x6818: 'GUEST_BASE_IDTR', 0x681a: 'GUEST_DR7', 0x681c: 'GUEST_RSP',
  0x681e: 'GUEST_RIP', 0x6820: 'GUEST_RFLAGS', 0x6822: 'GUEST_PENDING_DEBUG', 0x6824: 'GUEST_SYSENTER_ESP', 0x6826: 'GUEST_SYSENTER_EIP',
  0x6c00: 'HOST_CR0', 0x6c02: 'HOST_CR3', 0x6c04: 'HOST_CR4', 0x6c06: 'HOST_BASE_FS', 0x6c08: 'HOST_BASE_GS',
  0x6c0a: 'HOST_BASE_TR', 0x6c0c: 'HOST_BASE_GDTR', 0x6c0e: 'HOST_BASE_IDTR', 0x6c10: 'HOST_SYSENTER_ESP', 0x6c12: 'HOST_SYSENTER_EIP',
  0x6c14: 'HOST_RSP', 0x6c16: 'HOST_RIP',
};

/** kvm-unit-tests' enum Reason names for the exits a reproducer's L2 or entry produces. */
const KUT_REASON: Readonly<Record<number, string>> = { 0: 'VMX_EXC_NMI', 2: 'VMX_TRIPLE_FAULT', 10: 'VMX_CPUID', 12: 'VMX_HLT', 18: 'VMX_VMCALL', 33: 'VMX_FAIL_STATE', 34: 'VMX_FAIL_MSR' };

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const lit = (v: bigint | number): string => (BigInt.asUintN(64, BigInt(v)) > 0xffffffffn ? `${hex(v)}ULL` : hex(v));
const SDM_NAME = new Map<number, string>(VMCS12_FIELDS.map((f) => [f.encoding, f.sdm]));

function field(enc: number): string {
  return KUT_NAME[enc] ?? `0x${enc.toString(16).padStart(4, '0')} /* ${SDM_NAME.get(enc) ?? '?'} */`;
}

function reasonExpr(reason: number): string {
  const basic = reason & 0xffff;
  const name = KUT_REASON[basic] ?? `${basic}`;
  return (reason & 0x80000000) !== 0 ? `(VMX_ENTRY_FAILURE | ${name})` : name;
}

/** The vmcs_write()s that turn the harness's valid base into the image's state, one per field the counterexample changed. */
function changeLines(src: VmxReproSource, cpu: OracleVmxCpu): string[] {
  const base = buildOracleVmxCase(cpu, src.c.choice, []).scenario.vmcs12;
  return changedFields(src.c.scenario.vmcs12, base).map(([f, p, h]) => {
    const set = p & ~h;
    const clear = h & ~p;
    if (p === 0n || h === 0n || projectionRule(f) === 'value') return `vmcs_write(${field(f.encoding)}, ${lit(p)});\t/* ${f.name} */`;
    return `vmcs_write(${field(f.encoding)}, (vmcs_read(${field(f.encoding)}) & ~${lit(clear)}) | ${lit(set)});\t/* ${f.name}: bits set ${hex(set)}, cleared ${hex(clear)} */`;
  });
}

function checkLines(v: VmxVerdict, name: string): string[] {
  switch (v.kind) {
    case 'vmfail-valid':
      return [`test_vmx_vmlaunch(VMXERR_${vmxErrorName(v.error)});`];
    case 'entry-failure':
      return [
        'enter_guest_with_invalid_guest_state();',
        `report(vmcs_read(EXI_REASON) == ${reasonExpr(v.reason)} && vmcs_read(EXI_QUALIFICATION) == ${lit(v.qualification)},`,
        `       "${name}: ${describeVmxVerdict(v)}");`,
      ];
    case 'exit':
      return ['enter_guest();', `assert_exit_reason(${reasonExpr(v.reason)});`];
    default:
      return [`/* TODO: ${describeVmxVerdict(v)}: run VMLAUNCH under the test's own handling and check it. */`, `report(false, "${name}: not checked");`];
  }
}

/** The fields that hold addresses of what the harness built, and what a from-scratch test puts there instead. */
function harnessAddresses(src: VmxReproSource, name: string): string[] {
  const v = src.c.scenario.vmcs12;
  const snippet = src.c.choice.snippet;
  const bytes = [...GUEST_SNIPPETS[snippet], 0xf4].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return [
    `host_rip = ${hex(v.host_rip)}, host_rsp = ${hex(v.host_rsp)}: the harness's VM-exit entry and stack`,
    `host_cr3 = ${hex(v.host_cr3)}, guest_cr3 = ${hex(v.guest_cr3)}: the harness's identity tables at ${hex(LAYOUT.HOST_PML4)} (4 GiB in 2 MiB pages)`,
    `host_gdtr_base = ${hex(v.host_gdtr_base)}, host_tr_base = ${hex(v.host_tr_base)}: the harness's GDT (0x08 code, 0x10 data, 0x20 64-bit TSS) and TSS`,
    `host_idtr_base = ${hex(v.host_idtr_base)}: the harness's IDT`,
    ...(v.ept_pointer !== 0n ? [`ept_pointer = ${hex(v.ept_pointer)}: an identity EPT of 4 GiB at ${hex(LAYOUT.EPT_PML4)} (2 MiB WB leaves, RWX)`] : []),
    `guest_rip = ${hex(v.guest_rip)}: L2's code: ${snippet}; hlt (bytes ${bytes})`,
    `guest_rsp = ${hex(v.guest_rsp)}, guest_idtr_base = ${hex(v.guest_idtr_base)}: L2's stack and an IDT whose every gate runs that code`,
    ...src.memory.map((r) => `${hex(r.gpa)}..${hex(r.gpa + r.bytes - 1n)}: an MSR list of the counterexample's (its words in ${name}_mem[], zeros elsewhere)`),
  ];
}

export function reproVmxC(src: VmxReproSource, cpu: OracleVmxCpu): string {
  const name = `nestfuzz_${src.hash.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const comment = (lines: string[]): string => lines.map((l) => (l ? ` * ${l}` : ' *')).join('\n');
  const width = Math.max(...src.expected.map((e) => e.label.length));
  const kvmNext = src.expected[0];
  const insn = src.c.choice.snippet === 'hlt' ? 'hlt' : 'cpuid';
  const head = [
    `nestfuzz reproducer ${src.hash}: ${src.title}.`,
    src.property === null ? src.detail : `${src.property}: ${src.detail}`,
    ...(src.lost ? ['', `Note: ${src.lost}.`] : []),
    '',
    'VMLAUNCH of this VMCS from L1 (64-bit, in VMX root operation, identity-mapped) gives (nestfuzz\'s',
    `reference engine, L1 CPU ${cpu.model}: ${reproVmxCpuLine(cpu)}):`,
    ...src.expected.map((e) => `  ${`${e.label}:`.padEnd(width + 1)} ${describeVmxVerdict(e.verdict)}`),
    '',
    src.projected
      ? 'The state is the counterexample\'s vmcs12 projected onto nestfuzz\'s VMX harness (the fields it'
      : 'The state is an oracle counterexample, run as found: the harness\'s valid VMCS with the fields its mutations',
    `changed: ${src.changed.join(', ') || 'none'}${src.projected ? ')' : ''}. ${name}() applies them to the VMCS init_vmcs()`,
    'builds and checks the kvm-next verdict; controls are fitted to the CPU by init_vmcs(), as repro.elf',
    `fits them at run time. ${name}_vmcs[] is the whole state repro.elf writes (every field it`,
    'does not leave 0), for a test that builds its VMCS from scratch; there, replace the harness',
    'addresses:',
    ...harnessAddresses(src, name).map((l) => `  ${l}`),
    ...(src.memory.length ? ['', `Either way, copy ${name}_mem[] (the counterexample's MSR-list entries) to its addresses first.`] : []),
  ];
  const words = Object.entries(src.c.scenario.mem).filter(([, w]) => w !== 0n).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const mem = words.length === 0 ? [] : [
    `static const struct { u64 gpa; u64 value; } ${name}_mem[] = {`,
    ...words.map(([k, w]) => `\t{ ${k}ULL, ${lit(w)} },`),
    '};',
    '',
  ];
  const table = vmcs12FieldList(src.c.scenario.vmcs12, BOCHS_VMX_ABSENT_FIELDS).map(([enc, value]) => `\t{ ${field(enc)}, ${lit(value)} },`);
  return [
    '/*',
    comment(head),
    ' */',
    ...mem,
    `static const struct { u64 field; u64 value; } ${name}_vmcs[] = {`,
    ...table,
    '};',
    '',
    `static void ${name}_guest(void)`,
    '{',
    `\tasm volatile("${insn}" ::: "rax", "rbx", "rcx", "rdx", "memory");`,
    '}',
    '',
    `static void ${name}(void)`,
    '{',
    `\ttest_set_guest(${name}_guest);`,
    ...changeLines(src, cpu).map((l) => `\t${l}`),
    '',
    ...src.expected.map((e) => `\t/* ${e.label}: ${describeVmxVerdict(e.verdict)} */`),
    ...checkLines(kvmNext.verdict, name).map((l) => `\t${l}`),
    '}',
    '',
  ].join('\n');
}

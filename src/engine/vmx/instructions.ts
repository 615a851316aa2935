// The VMX instructions L1 executes in VMX root operation, after KVM's handle_vmxon, handle_vmxoff,
// handle_vmclear, handle_vmptrld, handle_vmptrst, handle_vmread and handle_vmwrite (vmx/nested.c)
// and the SDM vol. 3C chapter 31.3 instruction reference. Spec §2.1 (VMfail helpers), §2.2.
//
// Each handler returns its outcome and updates the vCPU: RFLAGS per nested_vmx_succeed /
// nested_vmx_failInvalid / nested_vmx_failValid, VM_INSTRUCTION_ERROR in the current vmcs12 for
// VMfailValid, and RIP past the instruction for everything but a fault.
//
// Note, the mode #UDs (CR0.PE = 0, RFLAGS.VM = 1, compatibility mode) are raised by hardware before
// the VM exit reaches KVM; they are modelled here because the SDM lists them first. Not modelled:
// execution in VMX non-root operation (L2; a VM exit to L1), enlightened VMCS, shadow-VMCS sync,
// the memory-operand address checks of nested_vmx_get_vmptr (#GP/#SS/#PF), and the register-operand
// form #UD of VMXON/VMCLEAR/VMPTRLD/VMPTRST (operands here are the pointer values).

import { SECONDARY } from '../../arch/vmx/controls.ts';
import { VMXERR } from '../../arch/vmx/errors.ts';
import { decodeVmxMisc, controlMsr, fixedBitsValid } from '../../arch/vmx/caps.ts';
import { isReadOnlyField } from '../../arch/vmx/encoding.ts';
import { fieldByEncoding, VMCS } from '../../arch/vmx/fields.ts';
import { VMCS12_REVISION, vmcs12Get, vmcs12Set, zeroVmcs12 } from '../../arch/vmx/vmcs12.ts';
import { has, type Profile } from '../profiles.ts';
import { page_address_valid as x86_page_address_valid } from '../x86.ts';
import { cc, type Trace } from '../trace.ts';
import { cloneVmcsRegion, FEAT_CTL, INVALID_GPA, type VmcsRegion, type VmxVcpu } from './vcpu.ts';

export interface VmxInsnCtx {
  v: VmxVcpu;
  t: Trace;
  p: Profile;
}

export type VmxInsnOutcome = '#UD' | '#GP' | 'vmsucceed' | 'vmfail-invalid' | 'vmfail-valid';

export interface VmxInsnResult {
  outcome: VmxInsnOutcome;
  /** The VM-instruction error number (VMfailValid only). */
  error?: number;
  /** VMREAD / VMPTRST: the value stored to the destination, truncated to the operand size. */
  value?: bigint;
}

/** Length of the instruction for the RIP skip; 3 (0F 78/79 ModRM) unless given. */
interface InsnLen {
  insn_len?: number;
}

export interface VmxPtrOperand extends InsnLen {
  /** The 64-bit physical address the memory operand holds. */
  gpa: bigint;
}

export interface VmreadOperands extends InsnLen {
  /** The register holding the field encoding. */
  field: bigint;
}

export interface VmwriteOperands extends InsnLen {
  field: bigint;
  value: bigint;
}

// RFLAGS arithmetic flags (SDM vol. 1 §3.4.3; KVM X86_EFLAGS_*).
const X86_EFLAGS = { CF: 1n << 0n, PF: 1n << 2n, AF: 1n << 4n, ZF: 1n << 6n, SF: 1n << 7n, OF: 1n << 11n } as const;
const ARITH_FLAGS = X86_EFLAGS.CF | X86_EFLAGS.PF | X86_EFLAGS.AF | X86_EFLAGS.ZF | X86_EFLAGS.SF | X86_EFLAGS.OF;

const CR0_PE = 1n << 0n;
const CR4_VMXE = 1n << 13n;
const EFER_LMA = 1n << 10n;
const RFLAGS_VM = 1n << 17n;
const RFLAGS_TF = 1n << 8n;
const DB_VECTOR = 1;
/** DR6 bits (SDM §18.2.3; KVM DR6_BS, DR_TRAP_BITS, DR6_ACTIVE_LOW). */
const DR6_BS = 1n << 14n;
const DR_TRAP_BITS = 0xfn;
const DR6_ACTIVE_LOW = 0xffff0ff0n;
const DEFAULT_INSN_LEN = 3;

/** is_64_bit_mode: EFER.LMA and CS.L. */
function is64BitMode(v: VmxVcpu): boolean {
  return (u64(v.efer) & EFER_LMA) !== 0n && v.cs_l === true;
}

function u64(x: unknown): bigint {
  if (typeof x === 'bigint') return BigInt.asUintN(64, x);
  if (typeof x === 'number' && Number.isFinite(x)) return BigInt.asUintN(64, BigInt(Math.trunc(x)));
  return 0n;
}

/**
 * kvm_skip_emulated_instruction: RIP past the instruction (wrapping at 32 bits outside 64-bit mode);
 * with RFLAGS.TF set, kvm_vcpu_do_singlestep queues the single-step #DB (payload DR6.BS, SDM §18.2.3),
 * which updates DR6 as it is delivered (kvm_deliver_exception_payload: trap bits 3:0 cleared, the
 * active-low bits set, then the payload).
 */
function skipInstruction(v: VmxVcpu, op: InsnLen): void {
  const n = op.insn_len;
  const len = typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 15 ? n : DEFAULT_INSN_LEN;
  v.rip = BigInt.asUintN(is64BitMode(v) ? 64 : 32, u64(v.rip) + BigInt(len));
  if ((u64(v.rflags) & RFLAGS_TF) !== 0n) {
    v.exception = { vector: DB_VECTOR, payload: DR6_BS };
    v.dr6 = (u64(v.dr6) & ~DR_TRAP_BITS) | DR6_ACTIVE_LOW | DR6_BS;
  }
}

/** nested_vmx_succeed: CF, PF, AF, ZF, SF and OF cleared. */
export function nested_vmx_succeed(v: VmxVcpu, op: InsnLen, value?: bigint): VmxInsnResult {
  v.rflags = u64(v.rflags) & ~ARITH_FLAGS;
  skipInstruction(v, op);
  return value === undefined ? { outcome: 'vmsucceed' } : { outcome: 'vmsucceed', value };
}

/** nested_vmx_failInvalid: CF = 1, PF AF ZF SF OF = 0; no error number. */
export function nested_vmx_failInvalid(v: VmxVcpu, op: InsnLen): VmxInsnResult {
  v.rflags = (u64(v.rflags) & ~ARITH_FLAGS) | X86_EFLAGS.CF;
  skipInstruction(v, op);
  return { outcome: 'vmfail-invalid' };
}

/** nested_vmx_failValid: ZF = 1, CF PF AF SF OF = 0; vmcs12.vm_instruction_error = error. */
export function nested_vmx_failValid(ctx: VmxInsnCtx, op: InsnLen, error: number): VmxInsnResult {
  const v = ctx.v;
  v.rflags = (u64(v.rflags) & ~ARITH_FLAGS) | X86_EFLAGS.ZF;
  get_vmcs12(ctx).vmcs12.vm_instruction_error = error;
  skipInstruction(v, op);
  return { outcome: 'vmfail-valid', error };
}

/**
 * nested_vmx_fail: "VMfail" of the SDM pseudocode: VMfailInvalid without a current VMCS (the error
 * number has nowhere to go), VMfailValid(error) with one.
 */
export function nested_vmx_fail(ctx: VmxInsnCtx, op: InsnLen, error: number): VmxInsnResult {
  if (ctx.v.vmx.current_vmptr === INVALID_GPA) return nested_vmx_failInvalid(ctx.v, op);
  return nested_vmx_failValid(ctx, op, error);
}

/** get_vmcs12: the cached current VMCS. A valid current_vmptr without a cache can't happen: WARN, use zeros. */
export function get_vmcs12(ctx: VmxInsnCtx): VmcsRegion {
  const vmx = ctx.v.vmx;
  if (vmx.cached_vmcs12 === null) {
    ctx.t.warn('get_vmcs12-no-cached-vmcs12', { current_vmptr: vmx.current_vmptr });
    vmx.cached_vmcs12 = { vmcs12: zeroVmcs12(), revision_id: VMCS12_REVISION, launch_state: false };
  }
  return vmx.cached_vmcs12;
}

/** page_address_valid (x86.ts) with the vCPU's MAXPHYADDR, clamped so a malformed vCPU cannot throw. */
function page_address_valid(v: VmxVcpu, gpa: bigint): boolean {
  const m = typeof v.maxphyaddr === 'number' && Number.isInteger(v.maxphyaddr) ? Math.min(Math.max(v.maxphyaddr, 0), 64) : 0;
  return x86_page_address_valid(gpa, m);
}

/** The u32 at offset 0 of the page at gpa (all zeros when L1 never wrote a region there). */
function readRevision(v: VmxVcpu, gpa: bigint): number {
  return (v.vmx.vmcs12s.get(gpa)?.revision_id ?? 0) >>> 0;
}

/** nested_release_vmcs12: write the cached vmcs12 back to L1 memory; no current VMCS afterwards. */
export function nested_release_vmcs12(ctx: VmxInsnCtx): void {
  const vmx = ctx.v.vmx;
  if (vmx.current_vmptr === INVALID_GPA) return;
  vmx.vmcs12s.set(vmx.current_vmptr, cloneVmcsRegion(get_vmcs12(ctx)));
  vmx.current_vmptr = INVALID_GPA;
  vmx.cached_vmcs12 = null;
}

/** free_nested: leave VMX operation. */
export function free_nested(ctx: VmxInsnCtx): void {
  nested_release_vmcs12(ctx);
  const vmx = ctx.v.vmx;
  vmx.vmxon = false;
  vmx.vmxon_ptr = INVALID_GPA;
}

/**
 * The #UD gates every VMX instruction shares (SDM 31.3, first line of each "Operation"): "IF (not in
 * VMX operation) or (CR0.PE = 0) or (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and CS.L = 0) THEN #UD".
 * VMXON checks CR4.VMXE = 0 instead of "not in VMX operation". Returns true when #UD.
 */
function vmxModeUd(ctx: VmxInsnCtx, vmxon: boolean): boolean {
  const { v, t } = ctx;
  return (
    // Note, KVM refuses CR4.VMXE in SMM (vmx_is_valid_cr4) and leaves VMX operation on SMM entry
    // (vmx_enter_smm), so every VMX instruction #UDs in SMM.
    cc(t, 'vmx-insn-in-smm', v.smm === true) ||
    (vmxon
      ? // handle_vmxon: "if (!kvm_is_cr4_bit_set(vcpu, X86_CR4_VMXE)) kvm_queue_exception(vcpu, UD_VECTOR)".
        cc(t, 'vmxon-cr4-vmxe-clear', (u64(v.cr4) & CR4_VMXE) === 0n)
      : // nested_vmx_check_permission: "if (!to_vmx(vcpu)->nested.vmxon) { kvm_queue_exception(vcpu, UD_VECTOR)".
        cc(t, 'vmx-insn-not-in-vmx-operation', v.vmx.vmxon !== true)) ||
    // SDM 31.3: CR0.PE = 0 (real mode) ⇒ #UD.
    cc(t, 'vmx-insn-real-mode', (u64(v.cr0) & CR0_PE) === 0n) ||
    // SDM 31.3: RFLAGS.VM = 1 (virtual-8086 mode) ⇒ #UD.
    cc(t, 'vmx-insn-v8086-mode', (u64(v.rflags) & RFLAGS_VM) !== 0n) ||
    // SDM 31.3: IA32_EFER.LMA = 1 and CS.L = 0 (compatibility mode) ⇒ #UD.
    cc(t, 'vmx-insn-compat-mode', (u64(v.efer) & EFER_LMA) !== 0n && v.cs_l !== true)
  );
}

/** nested_vmx_check_permission after the mode gates: #UD outside VMX operation, #GP(0) at CPL > 0. */
export function nested_vmx_check_permission(ctx: VmxInsnCtx): VmxInsnResult | null {
  if (vmxModeUd(ctx, false)) return { outcome: '#UD' };
  // nested_vmx_check_permission: "if (vmx_get_cpl(vcpu)) { kvm_inject_gp(vcpu, 0)" (CVE-2018-12904:
  // before 727ba748e110 KVM emulated VMX instructions for a CPL-3 L1).
  if (cc(ctx.t, 'vmx-insn-cpl-nonzero', has(ctx.p, 'vmx-insn-cpl-check') && ctx.v.cpl !== 0)) return { outcome: '#GP' };
  return null;
}

/** handle_vmxon (SDM 31.3 "VMXON—Enter VMX Operation"). */
export function handle_vmxon(ctx: VmxInsnCtx, op: VmxPtrOperand): VmxInsnResult {
  const { v, t } = ctx;
  if (vmxModeUd(ctx, true)) return { outcome: '#UD' };
  // handle_vmxon: "CPL=0 and all other checks that are lower priority than VM-Exit must be checked
  // manually": vmx_get_cpl(vcpu) ⇒ #GP(0).
  if (cc(t, 'vmx-insn-cpl-nonzero', has(ctx.p, 'vmx-insn-cpl-check') && v.cpl !== 0)) return { outcome: '#GP' };
  // SDM: "ELSE VMfail("VMXON executed in VMX root operation")" (VMXERR 15, VMXON_IN_VMX_ROOT_OPERATION).
  if (cc(t, 'vmxon-in-vmx-root-operation', v.vmx.vmxon === true)) return nested_vmx_fail(ctx, op, VMXERR.VMXON_IN_VMX_ROOT_OPERATION);
  // handle_vmxon: !nested_host_cr0_valid / !nested_host_cr4_valid ⇒ #GP(0); SDM: "the values of CR0
  // and CR4 are not supported in VMX operation" (IA32_VMX_CR0/CR4_FIXED0/1, fixed_bits_valid).
  const caps = v.caps;
  if (
    cc(t, 'vmxon-cr0-fixed-bits', !fixedBitsValid(u64(v.cr0), u64(caps.cr0Fixed0), u64(caps.cr0Fixed1))) ||
    cc(t, 'vmxon-cr4-fixed-bits', !fixedBitsValid(u64(v.cr4), u64(caps.cr4Fixed0), u64(caps.cr4Fixed1)))
  ) {
    return { outcome: '#GP' };
  }
  // handle_vmxon: "(vmx->msr_ia32_feature_control & VMXON_NEEDED_FEATURES) != VMXON_NEEDED_FEATURES"
  // ⇒ #GP(0); SDM: lock bit clear, or (outside SMX) bit 2 clear.
  const fc = u64(v.msr_ia32_feature_control);
  if (
    cc(t, 'vmxon-feature-control-unlocked', (fc & FEAT_CTL.LOCKED) === 0n) ||
    cc(t, 'vmxon-feature-control-vmx-outside-smx-disabled', (fc & FEAT_CTL.VMX_ENABLED_OUTSIDE_SMX) === 0n)
  ) {
    return { outcome: '#GP' };
  }
  const gpa = u64(op.gpa);
  // handle_vmxon: "if (!page_address_valid(vcpu, vmptr)) return nested_vmx_failInvalid(vcpu)"; SDM:
  // "addr is not 4KB-aligned or addr sets any bits beyond the physical-address width ⇒ VMfailInvalid".
  if (cc(t, 'vmxon-ptr-invalid', !page_address_valid(v, gpa))) return nested_vmx_failInvalid(v, op);
  // handle_vmxon: "revision != VMCS12_REVISION ⇒ nested_vmx_failInvalid"; SDM: "rev[30:0] ≠ VMCS
  // revision identifier supported by processor OR rev[31] = 1 ⇒ VMfailInvalid".
  if (cc(t, 'vmxon-revision-mismatch', readRevision(v, gpa) !== VMCS12_REVISION)) return nested_vmx_failInvalid(v, op);
  // enter_vmx_operation.
  v.vmx.vmxon = true;
  v.vmx.vmxon_ptr = gpa;
  v.vmx.current_vmptr = INVALID_GPA;
  v.vmx.cached_vmcs12 = null;
  return nested_vmx_succeed(v, op);
}

/** handle_vmxoff (SDM 31.3 "VMXOFF—Leave VMX Operation"): free_nested, then VMsucceed. */
export function handle_vmxoff(ctx: VmxInsnCtx, op: InsnLen = {}): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  free_nested(ctx);
  return nested_vmx_succeed(ctx.v, op);
}

/** handle_vmclear (SDM 31.3 "VMCLEAR—Clear Virtual-Machine Control Structure"). */
export function handle_vmclear(ctx: VmxInsnCtx, op: VmxPtrOperand): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  const { v, t } = ctx;
  const gpa = u64(op.gpa);
  // handle_vmclear: "!page_address_valid ⇒ nested_vmx_fail(vcpu, VMXERR_VMCLEAR_INVALID_ADDRESS)" (2).
  if (cc(t, 'vmclear-ptr-invalid', !page_address_valid(v, gpa))) return nested_vmx_fail(ctx, op, VMXERR.VMCLEAR_INVALID_ADDRESS);
  // handle_vmclear: "vmptr == vmx->nested.vmxon_ptr ⇒ nested_vmx_fail(vcpu, VMXERR_VMCLEAR_VMXON_POINTER)" (3).
  if (cc(t, 'vmclear-vmxon-ptr', gpa === v.vmx.vmxon_ptr)) return nested_vmx_fail(ctx, op, VMXERR.VMCLEAR_VMXON_POINTER);
  // handle_vmclear: "if (vmptr == vmx->nested.current_vmptr) nested_release_vmcs12(vcpu)", then the
  // launch state in memory is written 0 (SDM: "launch state of VMCS referenced by operand ← clear").
  // Note, the revision identifier is not checked; a region L1 never wrote already reads as clear.
  if (gpa === v.vmx.current_vmptr) nested_release_vmcs12(ctx);
  const region = v.vmx.vmcs12s.get(gpa);
  if (region) region.launch_state = false;
  return nested_vmx_succeed(v, op);
}

/** handle_vmptrld (SDM 31.3 "VMPTRLD—Load Pointer to Virtual-Machine Control Structure"). */
export function handle_vmptrld(ctx: VmxInsnCtx, op: VmxPtrOperand): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  const { v, t } = ctx;
  const gpa = u64(op.gpa);
  // handle_vmptrld: "!page_address_valid ⇒ nested_vmx_fail(vcpu, VMXERR_VMPTRLD_INVALID_ADDRESS)" (9).
  if (cc(t, 'vmptrld-ptr-invalid', !page_address_valid(v, gpa))) return nested_vmx_fail(ctx, op, VMXERR.VMPTRLD_INVALID_ADDRESS);
  // handle_vmptrld: "vmptr == vmx->nested.vmxon_ptr ⇒ nested_vmx_fail(vcpu, VMXERR_VMPTRLD_VMXON_POINTER)" (10).
  if (cc(t, 'vmptrld-vmxon-ptr', gpa === v.vmx.vmxon_ptr)) return nested_vmx_fail(ctx, op, VMXERR.VMPTRLD_VMXON_POINTER);
  // handle_vmptrld: a VMPTRLD of the current VMCS neither rereads nor rechecks it.
  if (v.vmx.current_vmptr !== gpa) {
    const rev = readRevision(v, gpa);
    // handle_vmptrld: "new_vmcs12->hdr.revision_id != VMCS12_REVISION || (new_vmcs12->hdr.shadow_vmcs &&
    // !nested_cpu_has_vmx_shadowing(vcpu)) ⇒ nested_vmx_fail(vcpu, VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID)" (11).
    const shadowing = (v.caps.secondaryCtlsHigh & SECONDARY.SHADOW_VMCS) !== 0;
    if (
      cc(t, 'vmptrld-revision-mismatch', (rev & 0x7fffffff) !== VMCS12_REVISION) ||
      cc(t, 'vmptrld-shadow-vmcs-unsupported', (rev & 0x80000000) !== 0 && !shadowing)
    ) {
      return nested_vmx_fail(ctx, op, VMXERR.VMPTRLD_INCORRECT_VMCS_REVISION_ID);
    }
    nested_release_vmcs12(ctx);
    const region = v.vmx.vmcs12s.get(gpa);
    // Unreachable for an absent region (revision 0 fails above); kept total.
    v.vmx.cached_vmcs12 = region ? cloneVmcsRegion(region) : { vmcs12: zeroVmcs12(), revision_id: rev, launch_state: false };
    v.vmx.current_vmptr = gpa;
  }
  return nested_vmx_succeed(v, op);
}

/** handle_vmptrst (SDM 31.3 "VMPTRST—Store Pointer to Virtual-Machine Control Structure"). */
export function handle_vmptrst(ctx: VmxInsnCtx, op: InsnLen = {}): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  // handle_vmptrst: the 8-byte current_vmptr (INVALID_GPA when none) is written to the operand.
  return nested_vmx_succeed(ctx.v, op, ctx.v.vmx.current_vmptr);
}

/**
 * The field operand as kvm_register_read returns it (truncated to 32 bits outside 64-bit mode), as
 * a table index for fieldByEncoding: get_vmcs12_field_offset fails for "field >> 15".
 */
function fieldOperand(v: VmxVcpu, field: bigint): number {
  const f = BigInt.asUintN(is64BitMode(v) ? 64 : 32, u64(field));
  return f > 0xffffffffn ? -1 : Number(f);
}

/** handle_vmread (SDM 31.3 "VMREAD—Read Field from Virtual-Machine Control Structure"). */
export function handle_vmread(ctx: VmxInsnCtx, op: VmreadOperands): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  const { v, t } = ctx;
  // handle_vmread: "if (vmx->nested.current_vmptr == INVALID_GPA ...) return nested_vmx_failInvalid(vcpu)".
  if (cc(t, 'vmread-no-current-vmcs', v.vmx.current_vmptr === INVALID_GPA)) return nested_vmx_failInvalid(v, op);
  const field = fieldOperand(v, op.field);
  // handle_vmread: "get_vmcs12_field_offset(field) < 0 ⇒ nested_vmx_fail(vcpu, VMXERR_UNSUPPORTED_VMCS_COMPONENT)" (12).
  const value = field < 0 ? undefined : vmcs12Get(get_vmcs12(ctx).vmcs12, field);
  if (cc(t, 'vmread-unsupported-component', value === undefined)) return nested_vmx_fail(ctx, op, VMXERR.UNSUPPORTED_VMCS_COMPONENT);
  // handle_vmread: the destination is 64 bits in 64-bit mode, else 32 (kvm_register_write / len 4).
  return nested_vmx_succeed(v, op, BigInt.asUintN(is64BitMode(v) ? 64 : 32, value ?? 0n));
}

/** handle_vmwrite (SDM 31.3 "VMWRITE—Write Field to Virtual-Machine Control Structure"). */
export function handle_vmwrite(ctx: VmxInsnCtx, op: VmwriteOperands): VmxInsnResult {
  const denied = nested_vmx_check_permission(ctx);
  if (denied) return denied;
  const { v, t } = ctx;
  // handle_vmwrite: "if (vmx->nested.current_vmptr == INVALID_GPA ...) return nested_vmx_failInvalid(vcpu)".
  if (cc(t, 'vmwrite-no-current-vmcs', v.vmx.current_vmptr === INVALID_GPA)) return nested_vmx_failInvalid(v, op);
  // handle_vmwrite: the source operand is 64 bits in 64-bit mode, else 32 (zero-extended).
  let value = BigInt.asUintN(is64BitMode(v) ? 64 : 32, u64(op.value));
  const field = fieldOperand(v, op.field);
  // handle_vmwrite: "get_vmcs12_field_offset(field) < 0 ⇒ nested_vmx_fail(vcpu, VMXERR_UNSUPPORTED_VMCS_COMPONENT)" (12).
  if (cc(t, 'vmwrite-unsupported-component', field < 0 || fieldByEncoding(field) === undefined)) {
    return nested_vmx_fail(ctx, op, VMXERR.UNSUPPORTED_VMCS_COMPONENT);
  }
  // handle_vmwrite: "vmcs_field_readonly(field) && !nested_cpu_has_vmwrite_any_field(vcpu) ⇒
  // nested_vmx_fail(vcpu, VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT)" (13); "VMWRITE to any supported
  // field" is IA32_VMX_MISC bit 29.
  const anyField = decodeVmxMisc(controlMsr(v.caps.miscLow, v.caps.miscHigh)).vmwriteAnyField;
  if (cc(t, 'vmwrite-read-only-component', isReadOnlyField(field) && !anyField)) {
    return nested_vmx_fail(ctx, op, VMXERR.VMWRITE_READ_ONLY_VMCS_COMPONENT);
  }
  // handle_vmwrite: "Some Intel CPUs intentionally drop the reserved bits of the AR byte fields":
  // for GUEST_ES_AR_BYTES..GUEST_TR_AR_BYTES, "value &= 0x1f0ff".
  if (field >= VMCS.GUEST_ES_AR_BYTES && field <= VMCS.GUEST_TR_AR_BYTES) value &= 0x1f0ffn;
  vmcs12Set(get_vmcs12(ctx).vmcs12, field, value);
  return nested_vmx_succeed(v, op);
}

/** Every check id the VMX-instruction handlers report (for coverage and `list`). */
export const VMX_INSN_CHECK_IDS = [
  'vmx-insn-in-smm', 'vmx-insn-not-in-vmx-operation', 'vmx-insn-real-mode', 'vmx-insn-v8086-mode', 'vmx-insn-compat-mode',
  'vmx-insn-cpl-nonzero', 'vmxon-cr4-vmxe-clear', 'vmxon-in-vmx-root-operation', 'vmxon-cr0-fixed-bits', 'vmxon-cr4-fixed-bits',
  'vmxon-feature-control-unlocked', 'vmxon-feature-control-vmx-outside-smx-disabled', 'vmxon-ptr-invalid', 'vmxon-revision-mismatch',
  'vmclear-ptr-invalid', 'vmclear-vmxon-ptr', 'vmptrld-ptr-invalid', 'vmptrld-vmxon-ptr', 'vmptrld-revision-mismatch',
  'vmptrld-shadow-vmcs-unsupported', 'vmread-no-current-vmcs', 'vmread-unsupported-component', 'vmwrite-no-current-vmcs',
  'vmwrite-unsupported-component', 'vmwrite-read-only-component',
] as const;

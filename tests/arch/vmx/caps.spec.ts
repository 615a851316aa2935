import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowed0, allowed1, controlMsr, controlsValid, decodeVmxBasic, decodeVmxMisc, encodeVmxBasic, EPT_CAP,
  fixedBitsValid, kvmNestedVmxMsrs, MSR_IA32_VMX, VMX_BASIC, vmxMsrName, vmxMsrValue, type NestedVmxMsrs,
} from '../../../src/arch/vmx/caps.ts';
import { SECONDARY, VM_ENTRY, VM_EXIT } from '../../../src/arch/vmx/controls.ts';

const X = MSR_IA32_VMX;
const read = (m: NestedVmxMsrs, i: number): bigint => {
  const v = vmxMsrValue(m, i);
  if (v === undefined) throw new Error(`no MSR ${i}`);
  return v;
};
const CONTROL_PAIRS = [
  [X.TRUE_PINBASED_CTLS, X.PINBASED_CTLS], [X.TRUE_PROCBASED_CTLS, X.PROCBASED_CTLS],
  [X.TRUE_EXIT_CTLS, X.EXIT_CTLS], [X.TRUE_ENTRY_CTLS, X.ENTRY_CTLS],
] as const;
const ALL_CONTROL_MSRS = [...CONTROL_PAIRS.flat(), X.PROCBASED_CTLS2];

const optsArb = fc.record({
  x86_64: fc.boolean(), enableEpt: fc.boolean(), enableEptAdBits: fc.boolean(), enableMbec: fc.boolean(),
  enableVpid: fc.boolean(), enableUnrestrictedGuest: fc.boolean(), flexpriorityEnabled: fc.boolean(),
  enableApicv: fc.boolean(), enableSgx: fc.boolean(), cet: fc.boolean(), umipEmulated: fc.boolean(),
  host: fc.record({
    pin: fc.nat({ max: 0xffffffff }), proc: fc.nat({ max: 0xffffffff }), proc2: fc.nat({ max: 0xffffffff }),
    exit: fc.nat({ max: 0xffffffff }), entry: fc.nat({ max: 0xffffffff }), eptCaps: fc.nat({ max: 0xffffffff }),
    misc: fc.nat({ max: 0xffffffff }), vmfunc: fc.boolean(), basicInout: fc.boolean(), basicNoHwErrcodeCc: fc.boolean(),
  }),
});

describe('caps', () => {
  describe('MSR_IA32_VMX', () => {
    it('should number the capability MSRs 0x480..0x492 without gaps or duplicates (SDM App. A)', () => {
      const v = Object.values(X).sort((a, b) => a - b);
      expect(v).toEqual(Array.from({ length: 19 }, (_, i) => 0x480 + i));
      expect([X.BASIC, X.MISC, X.PROCBASED_CTLS2, X.EPT_VPID_CAP, X.TRUE_PINBASED_CTLS, X.TRUE_ENTRY_CTLS, X.VMFUNC])
        .toEqual([0x480, 0x485, 0x48b, 0x48c, 0x48d, 0x490, 0x491]);
      expect(vmxMsrName(0x48e)).toBe('IA32_VMX_TRUE_PROCBASED_CTLS');
      expect(vmxMsrName(0x10)).toBe('0x10');
    });
  });

  describe('allowed0 / allowed1 / controlsValid', () => {
    it('should read must-be-1 from the low dword and may-be-1 from the high dword', () => {
      const msr = controlMsr(0x16, 0xff);
      expect(msr).toBe(0x000000ff_00000016n);
      expect(allowed0(msr)).toBe(0x16);
      expect(allowed1(msr)).toBe(0xff);
      expect(allowed1(controlMsr(0, 0x80000000))).toBe(0x80000000);
    });

    it('should accept exactly (value & allowed0) == allowed0 && (value & ~allowed1) == 0', () => {
      const msr = controlMsr(0x16, 0xff);
      expect(controlsValid(0x16, msr)).toBe(true);
      expect(controlsValid(0xff, msr)).toBe(true);
      expect(controlsValid(0x12, msr)).toBe(false); // must-be-1 bit 2 clear
      expect(controlsValid(0x116, msr)).toBe(false); // bit 8 not allowed
      expect(controlsValid(0x80000016 | 0, controlMsr(0x16, 0x800000ff))).toBe(true);
      fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }),
        (v, lo, hi) => {
          const expected = ((v & lo) >>> 0) === lo && ((v & ~hi) >>> 0) === 0;
          expect(controlsValid(v, controlMsr(lo, hi))).toBe(expected);
          // Same rule as KVM fixed_bits_valid, ((v & high) | low) == v, whenever low is within high
          // (the two differ only for a contradictory pair, which the first form rejects for every value).
          const h = (hi | lo) >>> 0;
          expect(controlsValid(v, controlMsr(lo, h))).toBe((((v & h) | lo) >>> 0) === v);
        }));
    });
  });

  describe('fixedBitsValid', () => {
    it('should require FIXED0 bits set and bits outside FIXED1 clear', () => {
      expect(fixedBitsValid(0x80000031n, 0x80000021n, 0xffffffffn)).toBe(true);
      expect(fixedBitsValid(0x80000011n, 0x80000021n, 0xffffffffn)).toBe(false); // NE clear
      expect(fixedBitsValid(0x2000n | (1n << 32n), 0x2000n, 0xffffffffn)).toBe(false);
    });
  });

  describe('decodeVmxBasic / encodeVmxBasic', () => {
    it('should decode KVM\'s BASIC: revision 0x11e57ed0, 4 KiB, WB, INOUT, TRUE_CTLS', () => {
      const b = decodeVmxBasic(0x00d8_1000_11e5_7ed0n);
      expect(b).toEqual({
        revisionId: 0x11e57ed0, vmcsSize: 4096, physAddr32BitOnly: false, dualMonitorTreatment: false,
        memType: 6, inOut: true, trueCtls: true, noHwErrorCodeCc: false,
      });
      expect(encodeVmxBasic(b)).toBe(0x00d8_1000_11e5_7ed0n);
    });

    it('should round-trip every value with the reserved bits clear', () => {
      fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        const clean = v & ~VMX_BASIC.RESERVED_MASK;
        expect(encodeVmxBasic(decodeVmxBasic(clean))).toBe(clean);
      }));
    });
  });

  describe('decodeVmxMisc', () => {
    it('should compute the MSR-list limit as 512 * (N + 1) and read every field', () => {
      expect(decodeVmxMisc(0n).maxMsrListSize).toBe(512);
      expect(decodeVmxMisc(7n << 25n).maxMsrListSize).toBe(4096);
      const m = decodeVmxMisc((0x1234n << 32n) | (1n << 30n) | (1n << 29n) | (3n << 25n) | (4n << 16n) | (1n << 7n) | 0x1fn);
      expect(m).toMatchObject({
        preemptionTimerRate: 31, activityShutdown: true, activityHlt: false, cr3TargetCount: 4, maxMsrField: 3,
        maxMsrListSize: 2048, vmwriteAnyField: true, zeroLenIns: true, msegRevisionId: 0x1234,
      });
    });
  });

  describe('kvmNestedVmxMsrs', () => {
    it('should reproduce the spec §1.5 table for a host that has everything', () => {
      const m = kvmNestedVmxMsrs();
      expect(read(m, X.BASIC)).toBe(0x00d8_1000_11e5_7ed0n);
      expect(read(m, X.TRUE_PINBASED_CTLS)).toBe(controlMsr(0x16, 0xff));
      expect(read(m, X.TRUE_PROCBASED_CTLS)).toBe(controlMsr(0x04006172, 0xfff9fffe));
      expect(read(m, X.PROCBASED_CTLS2)).toBe(controlMsr(0, 0x0653fbff));
      expect(read(m, X.TRUE_EXIT_CTLS)).toBe(controlMsr(0x36dfb, 0x10ffffff));
      expect(read(m, X.TRUE_ENTRY_CTLS)).toBe(controlMsr(0x11fb, 0x0011f3ff));
      expect(read(m, X.PINBASED_CTLS)).toBe(controlMsr(0x16, 0xff));
      expect(read(m, X.PROCBASED_CTLS)).toBe(controlMsr(0x0401e172, 0xfff9fffe));
      expect(read(m, X.EXIT_CTLS)).toBe(controlMsr(0x36dff, 0x10ffffff));
      expect(read(m, X.ENTRY_CTLS)).toBe(controlMsr(0x11ff, 0x0011f3ff));
      expect(read(m, X.MISC)).toBe(0x20000165n);
      expect(read(m, X.EPT_VPID_CAP)).toBe(0x00000f01_067340c1n);
      expect(read(m, X.VMFUNC)).toBe(1n);
      expect(read(m, X.CR0_FIXED0)).toBe(0x80000021n);
      expect(read(m, X.CR0_FIXED1)).toBe(0xffffffffn);
      expect(read(m, X.CR4_FIXED0)).toBe(0x2000n);
      expect(read(m, X.VMCS_ENUM)).toBe(0x32n);
      expect(vmxMsrValue(m, X.PROCBASED_CTLS3)).toBeUndefined();
    });

    it('should follow the per-feature rows of the spec table', () => {
      expect(kvmNestedVmxMsrs({ cet: false }).exitCtlsHigh).toBe(0x00ffffff);
      expect(kvmNestedVmxMsrs({ cet: false }).entryCtlsHigh).toBe(0x0001f3ff);
      const noPwl5 = kvmNestedVmxMsrs({ host: { eptCaps: ~EPT_CAP.PAGE_WALK_5 >>> 0 } });
      expect(read(noPwl5, X.EPT_VPID_CAP) & 0xffffffffn).toBe(0x06734041n);
      expect(kvmNestedVmxMsrs({ host: { basicNoHwErrcodeCc: true } }).basic).toBe(0x01d8_1000_11e5_7ed0n);
    });

    it('should drop EPT, its caps and VMFUNC EPTP switching when EPT is off', () => {
      const m = kvmNestedVmxMsrs({ enableEpt: false, enableEptAdBits: false, enableMbec: false, enableUnrestrictedGuest: false });
      expect(m.secondaryCtlsHigh & (SECONDARY.ENABLE_EPT | SECONDARY.ENABLE_PML | SECONDARY.MODE_BASED_EPT_EXEC
        | SECONDARY.UNRESTRICTED_GUEST)).toBe(0);
      expect(m.eptCaps).toBe(0);
      expect(m.vmfuncControls).toBe(0n);
      expect(m.vpidCaps).toBe(0xf01);
    });

    it('should never offer UC EPTP, SMM entry, dual-monitor, PLE, #VE, PT, bus-lock or notify', () => {
      fc.assert(fc.property(optsArb, (opts) => {
        const m = kvmNestedVmxMsrs(opts);
        expect(m.eptCaps & EPT_CAP.UC).toBe(0);
        expect(m.entryCtlsHigh & (VM_ENTRY.SMM | VM_ENTRY.DEACT_DUAL_MONITOR)).toBe(0);
        expect(m.secondaryCtlsHigh & (SECONDARY.PAUSE_LOOP_EXITING | SECONDARY.EPT_VIOLATION_VE | SECONDARY.PT_CONCEAL_VMX
          | SECONDARY.PT_USE_GPA | SECONDARY.BUS_LOCK_DETECTION | SECONDARY.NOTIFY_VM_EXITING)).toBe(0);
        expect(m.exitCtlsHigh & (VM_EXIT.PT_CONCEAL_PIP | VM_EXIT.CLEAR_IA32_RTIT_CTL | VM_EXIT.ACTIVATE_SECONDARY_CONTROLS)).toBe(0);
        expect(m.procbasedCtlsHigh & (1 << 17)).toBe(0); // no tertiary controls
      }));
    });

    it('should be self-consistent: allowed0 within allowed1, TRUE allowed0 within non-TRUE allowed0, BASIC bit 55', () => {
      fc.assert(fc.property(optsArb, (opts) => {
        const m = kvmNestedVmxMsrs(opts);
        for (const i of ALL_CONTROL_MSRS) {
          const v = read(m, i);
          expect(((allowed0(v) & ~allowed1(v)) >>> 0), vmxMsrName(i)).toBe(0);
          // The all-required value is itself valid, and so is the all-allowed one.
          expect(controlsValid(allowed0(v), v), vmxMsrName(i)).toBe(true);
          expect(controlsValid(allowed1(v), v), vmxMsrName(i)).toBe(true);
        }
        for (const [t, n] of CONTROL_PAIRS) {
          const tv = read(m, t);
          const nv = read(m, n);
          expect(((allowed0(tv) & ~allowed0(nv)) >>> 0), vmxMsrName(t)).toBe(0);
          expect(allowed1(tv), vmxMsrName(t)).toBe(allowed1(nv));
        }
        expect(m.basic & VMX_BASIC.TRUE_CTLS).toBe(VMX_BASIC.TRUE_CTLS);
        expect(m.basic & VMX_BASIC.RESERVED_MASK).toBe(0n);
        expect(m.basic & VMX_BASIC.PHYS_ADDR_32BIT_ONLY).toBe(0n);
        expect(fixedBitsValid(m.cr0Fixed0, m.cr0Fixed0, m.cr0Fixed1)).toBe(true);
        expect(fixedBitsValid(m.cr4Fixed0, m.cr4Fixed0, m.cr4Fixed1)).toBe(true);
        const misc = decodeVmxMisc(read(m, X.MISC));
        expect(misc).toMatchObject({
          preemptionTimerRate: 5, cr3TargetCount: 0, maxMsrListSize: 512, activityHlt: true,
          activityShutdown: false, activityWaitSipi: true, vmwriteAnyField: true, zeroLenIns: false, msegRevisionId: 0,
        });
      }));
    });
  });
});

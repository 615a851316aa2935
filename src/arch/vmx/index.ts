// Public surface of the VMX architecture layer: VMCS field encodings (Intel SDM vol. 3D
// Appendix B), the vmcs12 field table, struct vmcs12 with VMREAD/VMWRITE width semantics, and
// the vmcs12 dump / diff; control bits, capability MSRs with KVM's nested defaults, exit reasons,
// VM-instruction errors, EPTP and interruption-information layouts.
export * from './encoding.ts';
export * from './fields.ts';
export * from './vmcs12.ts';
export * from './dump.ts';
export * from './diff.ts';
export * from './controls.ts';
export * from './caps.ts';
export * from './exit_reasons.ts';
export * from './errors.ts';
export * from './eptp.ts';
export * from './intr_info.ts';
export * from './namer.ts';

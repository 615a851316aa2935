// Public surface of the paging architecture layer: entry formats (32-bit, PAE, 4-/5-level, NPT, EPT),
// index arithmetic, the #PF / #NPF error-code bits, EPT-violation qualification, one-line entry decode.
export * from './formats.ts';
export * from './pferr.ts';
export * from './ept_qual.ts';
export * from './describe.ts';
// The EPT pointer layout lives with the VMX layer (SDM vol. 3C §25.6.11).
export { EPTP, decodeEptp, encodeEptp, eptpPageWalkLevel, type Eptp } from '../vmx/eptp.ts';

// Public surface of the SVM architecture layer: VMCB types, bit definitions, exit codes, and the
// VMCB page layout / codec / dump / diff (APM vol. 2 Appendix B).
export * from './vmcb.ts';
export * from './defs.ts';
export * from './exit_codes.ts';
export * from './layout.ts';
export * from './codec.ts';
export * from './dump.ts';
export * from './diff.ts';

// EPT-violation exit qualification: the layout lives with the EPTP in src/arch/vmx/eptp.ts (SDM vol. 3C
// §29.3.3.2, Table 28-7); re-exported here so paging code has one import site.
export {
  EPT_VIOLATION, EPT_VIOLATION_ARCH, EPT_VIOLATION_BIT_NAMES, EPT_VIOLATION_PROT_MASK, EPT_VIOLATION_RWX_SHIFT,
  describeEptViolationQual,
} from '../vmx/eptp.ts';

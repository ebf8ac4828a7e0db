package org.kvmmodel.arch.arm64;

/**
 * The bits of a VMSAv8-64 stage-2 descriptor as KVM names them in
 * {@code arch/arm64/include/asm/kvm_pgtable.h} (6.13, without LPA2), and the predicates KVM
 * reads descriptors with ({@code kvm_pte_valid}, {@code kvm_pte_table},
 * {@code stage2_pte_is_locked}, {@code kvm_pte_to_phys}).
 */
final class Stage2Pte {

  /** {@code KVM_PTE_VALID}. */
  static final long VALID = 1L;

  /** {@code KVM_PTE_TYPE}: 1 is a table (levels 0-2) or a page (level 3); 0 a block. */
  static final long TYPE = 1L << 1;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_MEMATTR}, bits 5:2. */
  static final long MEMATTR_MASK = 0xfL << 2;

  static final int MEMATTR_SHIFT = 2;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_S2AP_R}. */
  static final long S2AP_R = 1L << 6;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_S2AP_W}. */
  static final long S2AP_W = 1L << 7;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_SH}, bits 9:8. */
  static final long SH_MASK = 3L << 8;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_SH_IS}: inner shareable, what KVM always writes. */
  static final long SH_IS = 3L << 8;

  /** {@code KVM_PTE_LEAF_ATTR_LO_S2_AF}. */
  static final long AF = 1L << 10;

  /** The architectural dirty-bit modifier; KVM 6.13 never sets it at stage 2. */
  static final long DBM = 1L << 51;

  /** The architectural contiguous hint; KVM never sets it at stage 2. */
  static final long CONTIGUOUS = 1L << 52;

  /** {@code KVM_PTE_LEAF_ATTR_HI_S2_XN} as 6.13 defines it: one bit, set = not executable. */
  static final long XN = 1L << 54;

  /** {@code KVM_PTE_LEAF_ATTR_HI_SW}, bits 58:55 ({@code KVM_PGTABLE_PROT_SW0..3}). */
  static final long SW_MASK = 0xfL << 55;

  static final int SW_SHIFT = 55;

  /** {@code KVM_PTE_LEAF_ATTR_S2_PERMS}: what relax-perms changes and map ignores. */
  static final long S2_PERMS = S2AP_R | S2AP_W | XN;

  /** {@code KVM_INVALID_PTE_LOCKED}: an invalid entry held during break-before-make. */
  static final long INVALID_PTE_LOCKED = 1L << 10;

  /** Highest output-address bit without 52-bit PAs ({@code KVM_PTE_ADDR_MASK} = 47:granule). */
  static final int OA_TOP_BIT = 47;

  /** {@code KVM_PGTABLE_LAST_LEVEL}. */
  static final int LAST_LEVEL = 3;

  /** {@code MT_S2_NORMAL}: normal memory, inner and outer write-back. */
  static final int MT_S2_NORMAL = 0xf;

  /** {@code MT_S2_NORMAL_NC}. */
  static final int MT_S2_NORMAL_NC = 0x5;

  /** {@code MT_S2_DEVICE_nGnRE}. */
  static final int MT_S2_DEVICE_NGNRE = 0x1;

  /** {@code MT_S2_FWB_NORMAL}: with FEAT_S2FWB, force write-back. */
  static final int MT_S2_FWB_NORMAL = 6;

  /** {@code MT_S2_FWB_NORMAL_NC}. */
  static final int MT_S2_FWB_NORMAL_NC = 5;

  /** {@code MT_S2_FWB_DEVICE_nGnRE}. */
  static final int MT_S2_FWB_DEVICE_NGNRE = 1;

  private Stage2Pte() {}

  /** {@code kvm_pte_valid}. */
  static boolean isValid(long pte) {
    return (pte & VALID) != 0;
  }

  /** {@code kvm_pte_table}: valid, type 1, and not at the last level. */
  static boolean isTable(long pte, int level) {
    return level != LAST_LEVEL && isValid(pte) && (pte & TYPE) != 0;
  }

  /** {@code stage2_pte_is_locked}. */
  static boolean isLocked(long pte) {
    return !isValid(pte) && (pte & INVALID_PTE_LOCKED) != 0;
  }

  /** {@code KVM_PTE_ADDR_MASK} for a granule of {@code 1 << granuleShift} bytes. */
  static long addressMask(int granuleShift) {
    return (1L << (OA_TOP_BIT + 1)) - (1L << granuleShift);
  }

  /** {@code kvm_init_table_pte}: the child's address with TYPE_TABLE and VALID, no attributes. */
  static long makeTable(long childPhysicalAddress, int granuleShift) {
    return (childPhysicalAddress & addressMask(granuleShift)) | TYPE | VALID;
  }

  /**
   * {@code kvm_init_valid_leaf_pte}: the address, the attributes, TYPE_PAGE at the last level
   * and TYPE_BLOCK above it, and VALID.
   */
  static long makeLeaf(long physicalAddress, long attributes, int level, int granuleShift) {
    long type = level == LAST_LEVEL ? TYPE : 0;
    return (physicalAddress & addressMask(granuleShift)) | attributes | type | VALID;
  }

  /** The attribute bits of a leaf: everything but address, type and valid. */
  static long attributes(long pte, int granuleShift) {
    return pte & ~addressMask(granuleShift) & ~(TYPE | VALID);
  }
}

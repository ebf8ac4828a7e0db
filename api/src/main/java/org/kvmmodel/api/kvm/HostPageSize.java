package org.kvmmodel.api.kvm;

/**
 * The host kernel's {@code PAGE_SIZE} and the page-table geometry it implies with a 48-bit
 * virtual address space, as arm64's {@code CONFIG_ARM64_4K_PAGES}, {@code _16K_} and
 * {@code _64K_} build it: each table is one page of 8-byte entries, so a level resolves
 * {@code PAGE_SHIFT - 3} bits; {@code ARM64_HW_PGTABLE_LEVELS(48)} levels exist (4, 4 and 3), a
 * 64 KiB host folding the PUD level into the PGD. x86-64 and RISC-V hosts have 4 KiB pages.
 */
public enum HostPageSize {
  /** 4 KiB pages: PMD 2 MiB, PUD 1 GiB. */
  SIZE_4K(12),
  /** 16 KiB pages: PMD 32 MiB, PUD 64 GiB. */
  SIZE_16K(14),
  /** 64 KiB pages: PMD 512 MiB, PUD folded. */
  SIZE_64K(16);

  /** Bits of virtual address the host's page tables translate. */
  public static final int VA_BITS = 48;

  private final int shift;

  HostPageSize(int shift) {
    this.shift = shift;
  }

  /** The size whose {@code PAGE_SHIFT} is {@code shift}. */
  public static HostPageSize ofShift(int shift) {
    for (HostPageSize size : values()) {
      if (size.shift == shift) {
        return size;
      }
    }
    throw new IllegalArgumentException("no host page size with shift " + shift);
  }

  /** {@code PAGE_SHIFT}. */
  public int shift() {
    return shift;
  }

  /** {@code PAGE_SIZE}. */
  public long bytes() {
    return 1L << shift;
  }

  /** Index bits of one table level: {@code PAGE_SHIFT - 3}. */
  public int tableBits() {
    return shift - 3;
  }

  /** {@code CONFIG_PGTABLE_LEVELS}: {@code ARM64_HW_PGTABLE_LEVELS(VA_BITS)}. */
  public int levels() {
    return (VA_BITS - 4) / tableBits();
  }

  /** {@code PMD_SHIFT}: the span of one PTE table, the THP and PMD-hugetlb size. */
  public int pmdShift() {
    return shift + tableBits();
  }

  /** {@code PMD_SIZE}. */
  public long pmdSize() {
    return 1L << pmdShift();
  }

  /** {@code HPAGE_PMD_ORDER}: base pages in a PMD-sized folio, as a power of two. */
  public int pmdOrder() {
    return tableBits();
  }

  /** {@code PGDIR_SHIFT}. */
  public int pgdShift() {
    return shift + tableBits() * (levels() - 1);
  }

  /** {@code PUD_SHIFT}: {@link #pgdShift} where the PUD level is folded into the PGD. */
  public int pudShift() {
    return levels() > 3 ? pmdShift() + tableBits() : pgdShift();
  }

  /** {@code PUD_SIZE}. */
  public long pudSize() {
    return 1L << pudShift();
  }

  /** Order of a PUD-sized folio. */
  public int pudOrder() {
    return pudShift() - shift;
  }

  /**
   * Whether the host maps PUD-sized leaves ({@code pud_sect_supported}): only with 4 KiB pages,
   * so a PUD-sized hugetlb page exists only there.
   */
  public boolean pudLeaves() {
    return shift == 12;
  }

  /** The shift of a leaf at {@code level}: 1 for a PTE, 2 for a PMD, 3 for a PUD. */
  public int levelShift(int level) {
    switch (level) {
      case 3:
        return pudShift();
      case 2:
        return pmdShift();
      default:
        return shift;
    }
  }

  /** Bytes a leaf at {@code level} maps. */
  public long levelSize(int level) {
    return 1L << levelShift(level);
  }

  /**
   * Throws unless {@code kvm}'s host has pages of this size: a plugin whose stage-2 granule is
   * fixed at this size (x86 EPT, RISC-V G-stage) checks it when it builds a VM's MMU.
   */
  public void requireHostOf(Kvm kvm, String arch) {
    if (kvm.pageShift() != shift) {
      throw new IllegalArgumentException(
          arch + " needs a host with " + label() + " pages; this host has "
              + ofShift(kvm.pageShift()).label() + " pages");
    }
  }

  /** The size for reports: {@code 4k}, {@code 16k}, {@code 64k}. */
  public String label() {
    return (1 << (shift - 10)) + "k";
  }
}

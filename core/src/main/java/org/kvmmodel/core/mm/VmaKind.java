package org.kvmmodel.core.mm;

/** What backs a VMA, which decides how its faults are handled. */
public enum VmaKind {
  /** Private anonymous memory: the zero page on read, a new folio on write, COW after fork. */
  ANON,
  /**
   * Private anonymous memory with THP: PMD-sized folios (2 MiB, 32 MiB or 512 MiB with 4, 16 or
   * 64 KiB pages) mapped by a PMD where the range fits.
   */
  ANON_THP,
  /**
   * Private hugetlbfs memory with PMD-sized pages: 2 MiB, 32 MiB or 512 MiB with 4, 16 or
   * 64 KiB base pages.
   */
  HUGETLB_PMD,
  /**
   * Private hugetlbfs memory with PUD-sized (1 GiB) pages, which only a 4 KiB host has
   * ({@code pud_sect_supported}); elsewhere mmap refuses it with -EINVAL.
   */
  HUGETLB_PUD,
  /** A shared mapping of a {@link HostFile} with write-notify. */
  FILE_SHARED,
  /** A driver's VM_IO | VM_PFNMAP mapping of IO pfns without struct page. */
  PFNMAP,
  /** A shared mapping of ZONE_DEVICE memory (struct page, never on the LRU). */
  ZONE_DEVICE
}

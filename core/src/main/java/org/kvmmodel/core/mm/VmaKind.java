package org.kvmmodel.core.mm;

/** What backs a VMA, which decides how its faults are handled. */
public enum VmaKind {
  /** Private anonymous memory: the zero page on read, a new folio on write, COW after fork. */
  ANON,
  /** Private anonymous memory with THP: 2 MiB folios mapped by a PMD where the range fits. */
  ANON_THP,
  /** Private hugetlbfs memory with 2 MiB pages. */
  HUGETLB_2M,
  /** Private hugetlbfs memory with 1 GiB pages. */
  HUGETLB_1G,
  /** A shared mapping of a {@link HostFile} with write-notify. */
  FILE_SHARED,
  /** A driver's VM_IO | VM_PFNMAP mapping of IO pfns without struct page. */
  PFNMAP,
  /** A shared mapping of ZONE_DEVICE memory (struct page, never on the LRU). */
  ZONE_DEVICE
}

package org.kvmmodel.core.mm;

/** Why an invalidation is raised: {@code enum mmu_notifier_event} of include/linux/mmu_notifier.h. */
public enum MmuNotifierEvent {
  /** The range is unmapped (munmap, exit). */
  UNMAP,
  /** Pages are cleared but the VMA stays (madvise(DONTNEED), reclaim, migration, COW break). */
  CLEAR,
  /** The VMA's protection changes (mprotect). */
  PROTECTION_VMA,
  /** Protection changes for pages in the range (writeback's page_mkclean, fork's COW). */
  PROTECTION_PAGE,
  /** Soft-dirty bits are cleared. */
  SOFT_DIRTY,
  /** The mm is being torn down. */
  RELEASE,
  /** Device memory migration (migrate_vma). */
  MIGRATE,
  /** Device exclusive access (make_device_exclusive). */
  EXCLUSIVE
}

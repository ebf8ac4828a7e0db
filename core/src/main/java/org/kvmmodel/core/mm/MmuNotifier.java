package org.kvmmodel.core.mm;

/**
 * A secondary MMU subscribed to an address space: {@code struct mmu_notifier_ops}. The host
 * calls these from the points where Linux does; every callback may run with the mm's
 * {@code mmap_lock} held, never with its page-table lock held except the young callbacks.
 */
public interface MmuNotifier {

  /**
   * invalidate_range_start: the host is about to change or remove the mappings in the range.
   * When this returns 0 the subscriber must no longer use any translation of the range until
   * the matching {@link #invalidateRangeEnd}. Returns 0, or {@code -EAGAIN} only for a
   * non-blockable range the subscriber cannot handle without sleeping.
   */
  int invalidateRangeStart(MmuNotifierRange range);

  /** invalidate_range_end: the change announced by the matching start is complete. */
  void invalidateRangeEnd(MmuNotifierRange range);

  /** clear_flush_young: clear the accessed state of the range, flushing; true if any was young. */
  boolean clearFlushYoung(MmStruct mm, long start, long end);

  /** clear_young: clear the accessed state of the range without a flush; true if any was young. */
  boolean clearYoung(MmStruct mm, long start, long end);

  /** test_young: whether the page at {@code address} was accessed, without clearing. */
  boolean testYoung(MmStruct mm, long address);

  /** release: the mm is exiting; drop every translation of it. */
  void release(MmStruct mm);
}

package org.kvmmodel.core.mm;

/** What shrink_folio_list did with one folio. */
public enum ReclaimResult {
  /** Not a reclaim candidate: free, reserved, ZONE_DEVICE, hugetlb, large, or off the LRU. */
  NOT_RECLAIMABLE,
  /** Recently used through some mapping (folio_referenced): aged and kept. */
  KEPT_REFERENCED,
  /** Locked by someone else (folio_trylock failed): kept. */
  KEPT_LOCKED,
  /** Pinned or holding references beyond its mappings: kept. */
  KEPT_BUSY,
  /** Already under writeback: kept. */
  KEPT_WRITEBACK,
  /** A dirty file folio: unmapped and written back (pageout) instead of freed. */
  WRITEBACK_STARTED,
  /** A clean file folio: unmapped, removed from the page cache and freed. */
  FREED,
  /** An anonymous folio: unmapped to swap entries and freed. */
  SWAPPED_OUT
}

package org.kvmmodel.core.kvm;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the guest has written, per host frame: each guest store that lands bumps its frame's
 * counter, the way the guest code of KVM's {@code dirty_log_test} stores an increasing
 * iteration number into every page it touches so the host can tell a page it must have seen
 * dirty. One long per frame with a struct page; a store to a frame without one (IO memory) is
 * not counted. Counting allocates nothing.
 */
public final class GuestWrites {

  private final AtomicLongArray writes;

  public GuestWrites(long frames) {
    if (frames < 0 || frames > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("bad frame count " + frames);
    }
    this.writes = new AtomicLongArray((int) frames);
  }

  /** A guest store landed in frame {@code pfn}; returns the frame's new count (0 if uncounted). */
  public long record(long pfn) {
    return pfn >= 0 && pfn < writes.length() ? writes.incrementAndGet((int) pfn) : 0;
  }

  /** Guest stores that landed in frame {@code pfn} so far. */
  public long count(long pfn) {
    return pfn >= 0 && pfn < writes.length() ? writes.get((int) pfn) : 0;
  }
}

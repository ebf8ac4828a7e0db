package org.kvmmodel.core.check;

import java.util.Arrays;

/**
 * Gfn ranges (first gfn and page count) collected by one actor, kept in parallel primitive
 * arrays that are reused after {@link #clear}, so that noting a range allocates nothing once
 * the arrays have grown to the largest batch seen.
 */
final class GfnRanges {

  private long[] firsts = new long[8];
  private long[] counts = new long[8];
  private int size;

  void add(long firstGfn, long pages) {
    if (size == firsts.length) {
      firsts = Arrays.copyOf(firsts, size * 2);
      counts = Arrays.copyOf(counts, size * 2);
    }
    firsts[size] = firstGfn;
    counts[size] = pages;
    size++;
  }

  boolean isEmpty() {
    return size == 0;
  }

  /** Whether {@code gfn} lies in any of the ranges. */
  boolean contains(long gfn) {
    for (int i = 0; i < size; i++) {
      if (gfn >= firsts[i] && gfn < firsts[i] + counts[i]) {
        return true;
      }
    }
    return false;
  }

  void clear() {
    size = 0;
  }
}

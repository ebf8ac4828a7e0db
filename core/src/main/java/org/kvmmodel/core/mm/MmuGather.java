package org.kvmmodel.core.mm;

import java.util.Arrays;

/**
 * struct mmu_gather: the references of folios unmapped by a zap, dropped only after the TLB
 * flush so that no CPU can still reach a folio through a stale translation once it is freed.
 */
final class MmuGather {

  private long[] pfns = new long[16];
  private int size;

  void add(long pfn) {
    if (size == pfns.length) {
      pfns = Arrays.copyOf(pfns, size * 2);
    }
    pfns[size++] = pfn;
  }

  /** tlb_finish_mmu's freeing half: drop every gathered reference. */
  void release(HostMemory memory) {
    for (int i = 0; i < size; i++) {
      memory.putPage(pfns[i]);
    }
    size = 0;
  }
}

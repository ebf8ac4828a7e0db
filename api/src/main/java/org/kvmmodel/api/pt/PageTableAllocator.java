package org.kvmmodel.api.pt;

/**
 * Where the engine gets table pages and how it follows a table descriptor's physical address
 * back to the page ({@code __va()} / {@code spte_to_child_sp()} in the kernel).
 *
 * <p>Core backs allocation with KVM's MMU memory caches ({@code kvm_mmu_memory_cache_alloc}):
 * topped up outside mmu_lock, drawn from inside it. An empty cache makes {@link #allocate}
 * return {@code null}, which the engine reports as an out-of-memory outcome without leaving
 * a half-built entry behind.
 */
public interface PageTableAllocator {

  /**
   * A new table of {@code pages} physically contiguous pages of {@code entriesPerPage} entries,
   * aligned to its total size, or {@code null} when none can be had without sleeping.
   */
  PageTablePage allocate(int pages, int entriesPerPage);

  /** The live or deferred-free table page whose first entry is at {@code physicalAddress}. */
  PageTablePage tableAt(long physicalAddress);
}

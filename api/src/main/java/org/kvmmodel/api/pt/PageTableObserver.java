package org.kvmmodel.api.pt;

/**
 * The engine's tracepoints: every change to a table entry and every table allocated, unlinked
 * and handed to deferred free. Checks judge from these events and page-table memory, never
 * from what a plugin says about itself (compare {@code trace_kvm_tdp_mmu_spte_changed} and
 * the {@code kvm_mmu_get_page}/{@code kvm_mmu_prepare_zap_page} tracepoints).
 *
 * <p>Methods are called on the thread making the change, right after it is visible in memory.
 * Every method has an empty default so an observer overrides only what it needs.
 */
public interface PageTableObserver {

  /**
   * Entry {@code index} of {@code table}, at kernel level {@code level} and covering guest
   * frames from {@code gfn}, changed from {@code oldValue} to {@code newValue}.
   */
  default void entryChanged(
      PageTablePage table, int index, int level, long gfn, long oldValue, long newValue) {}

  /** How an entry was written, which is what KVM's locking rules for SPTEs depend on. */
  enum WriteKind {
    /** A {@code try_cmpxchg64} or {@code xchg} on a live entry. */
    ATOMIC,
    /** A plain store ({@code WRITE_ONCE}): only for an entry no other thread may change. */
    STORE,
    /**
     * A store-release over an entry its writer locked or froze with an atomic just before
     * ({@link EntrySlot#releaseLocked}): as safe under a shared mmu_lock as an atomic.
     */
    LOCKED_STORE,
    /** The MMU hardware setting accessed or dirty bits during a walk. */
    HARDWARE,
    /** An entry of a new table filled before the table was linked ({@code tdp_mmu_init_child_sp}). */
    PREFILL
  }

  /**
   * {@link #entryChanged}, told how the write was made. The engine calls this one; the default
   * forwards to {@link #entryChanged}.
   */
  default void entryWritten(
      WriteKind kind,
      PageTablePage table,
      int index,
      int level,
      long gfn,
      long oldValue,
      long newValue) {
    entryChanged(table, index, level, gfn, oldValue, newValue);
  }

  /**
   * A table for kernel level {@code level} covering frames from {@code gfn} was allocated and
   * filled with empty entries (the root has {@code gfn} 0).
   */
  default void tableAllocated(PageTablePage table, int level, long gfn) {}

  /** A page table (with its root) was created in this environment. */
  default void pageTableCreated(RadixPageTable pageTable) {}

  /** A table for kernel level {@code level} was unlinked from the tree. */
  default void tableUnlinked(PageTablePage table, int level, long gfn) {}

  /** A table was handed to the {@link DeferredFree} receiver. */
  default void tableFreed(PageTablePage table) {}
}

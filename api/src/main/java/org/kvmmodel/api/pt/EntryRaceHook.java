package org.kvmmodel.api.pt;

/**
 * Called before every atomic update of a live entry (a {@code try_cmpxchg64} or {@code xchg}):
 * the point at which another CPU can get in first. A deterministic scheduler may run another
 * actor here, and fault injection may make the update lose as if another CPU had changed the
 * entry (and changed it back) in between, so the hooks' lost-race paths run. A lockless walk
 * also calls {@link #beforeLocklessRead} before each table it descends into, where a zap under
 * mmu_lock can unlink that table between the two reads.
 */
@FunctionalInterface
public interface EntryRaceHook {

  /** No race point and no injected losses. */
  EntryRaceHook NONE = (table, index, level, gfn) -> false;

  /**
   * @return true to make this compare-and-set fail without touching memory; ignored before an
   *     exchange, which cannot lose
   */
  boolean beforeAtomicUpdate(PageTablePage table, int index, int level, long gfn);

  /**
   * Before a lockless walker ({@code kvm_tdp_mmu_fast_pf_get_last_sptep} under RCU alone) reads
   * an entry of {@code level} in a table it found through its parent: by default, no point.
   */
  default void beforeLocklessRead(int level, long gfn) {}
}

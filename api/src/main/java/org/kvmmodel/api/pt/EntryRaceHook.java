package org.kvmmodel.api.pt;

/**
 * Called before every atomic update of a live entry (a {@code try_cmpxchg64} or {@code xchg}):
 * the point at which another CPU can get in first. A deterministic scheduler may run another
 * actor here, and fault injection may make the update lose as if another CPU had changed the
 * entry (and changed it back) in between, so the hooks' lost-race paths run.
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
}

package org.kvmmodel.api.pt;

/**
 * Receives table pages the engine has unlinked. The receiver frees them only after an RCU
 * grace period, as {@code call_rcu(&sp->rcu_head, tdp_mmu_free_sp_rcu_callback)} does on x86
 * and {@code stage2_free_unlinked_table} via {@code kvm_pgtable_mm_ops->free_unlinked_table}
 * does on arm64, so a lockless walker that still holds the old table pointer stays safe. The
 * engine never reuses a page it has handed over.
 */
@FunctionalInterface
public interface DeferredFree {

  /** Frees {@code page} once every walker that might still see it has finished. */
  void deferFree(PageTablePage page);
}

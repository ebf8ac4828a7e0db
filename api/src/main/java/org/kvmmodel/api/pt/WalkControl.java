package org.kvmmodel.api.pt;

/**
 * What the engine needs from the caller's locking and TLB context while it changes entries:
 * immediate and batched TLB flushes ({@code kvm_flush_remote_tlbs_range},
 * {@code kvm_flush_remote_tlbs}) and the yield protocol of long walks
 * ({@code tdp_mmu_iter_cond_resched}, {@code cond_resched_rwlock_read/write}, arm64's
 * {@code cond_resched_rwlock_write} in {@code stage2_apply_range}).
 */
public interface WalkControl {

  /** Whether a long walk should drop the lock now (need_resched or lock contention). */
  boolean shouldYield();

  /**
   * Drops and retakes mmu_lock (and RCU). Called after the pending flush, if
   * {@link #flushesBeforeYield}; the engine restarts its walk from the root afterwards.
   */
  void yieldLock();

  /**
   * Whether a batched flush still pending is issued before yielding, as x86's
   * {@code tdp_mmu_iter_cond_resched} does when its caller passes {@code flush}. False where the
   * flush stays the caller's across the yield ({@code wrprot_gfn_range} passes false: dirty
   * logging flushes after the whole walk) or where each change was flushed as it was made
   * (RISC-V's {@code gstage_unmap_range} before {@code cond_resched_lock}).
   */
  default boolean flushesBeforeYield() {
    return true;
  }

  /** Flushes every translation the VM's vCPUs may cache ({@code kvm_flush_remote_tlbs}). */
  void flushTlbs();

  /**
   * Flushes translations for {@code pages} frames from {@code gfn} now, before the caller goes
   * on ({@code kvm_flush_remote_tlbs_range}/{@code _gfn}; arm64 TLBI by IPA).
   */
  void flushTlbRange(long gfn, long pages);
}

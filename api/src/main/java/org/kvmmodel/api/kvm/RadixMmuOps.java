package org.kvmmodel.api.kvm;

import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.WalkControl;

/**
 * The notifier and dirty-log operations that every radix arch implements the same way over
 * the engine, whatever its descriptor format: zap a gfn range ({@code kvm_unmap_gfn_range}),
 * age and test-age it ({@code kvm_age_gfn}, {@code kvm_test_age_gfn}), and write-protect a slot
 * or the gfns of a dirty-log mask. Each arch keeps the decisions that differ (which lock, when
 * to flush) in its own {@link ArchMmu} and calls these for the walking.
 */
public final class RadixMmuOps {

  private final RadixPageTable table;
  private final KvmFlushes flushes;
  private final KvmFlushes reschedulingAfterFlush;
  private final KvmFlushes reschedulingKeepingFlush;
  private final PageTableCursor cursor;

  /** Operations on {@code table}, flushing through {@code kvm} and yielding its mmu_lock. */
  public RadixMmuOps(Kvm kvm, RadixPageTable table) {
    this.table = table;
    this.flushes = new KvmFlushes(kvm, false, false);
    this.reschedulingAfterFlush = new KvmFlushes(kvm, true, true);
    this.reschedulingKeepingFlush = new KvmFlushes(kvm, true, false);
    this.cursor = table.newCursor(flushes);
  }

  /** Another cursor on the table with the same flushes, for a thread of its own (a vCPU). */
  public PageTableCursor newCursor() {
    return table.newCursor(flushes);
  }

  /**
   * A cursor of its own for one walk that may drop mmu_lock when {@link MmuLock#needResched}
   * says so ({@code tdp_mmu_iter_cond_resched}, {@code cond_resched_lock}) and then restarts
   * from the root. A fresh one each time: while the walk is yielded another actor may take the
   * lock and walk with {@link #cursor()}.
   *
   * @param flushFirst whether a batched flush is issued before each yield
   *     ({@link WalkControl#flushesBeforeYield})
   */
  public PageTableCursor newReschedulingCursor(boolean flushFirst) {
    return table.newCursor(flushFirst ? reschedulingAfterFlush : reschedulingKeepingFlush);
  }

  public RadixPageTable table() {
    return table;
  }

  /** The cursor these operations walk with when they never yield; one thread at a time. */
  public PageTableCursor cursor() {
    return cursor;
  }

  /**
   * Zaps every leaf of the range; returns whether a flush is due. Common code holds mmu_lock
   * for write here and flushes once before unlocking, so the zaps are plain stores with the
   * flush batched, as {@code kvm_tdp_mmu_unmap_gfn_range} does. When the range may block, the
   * walk yields the lock when due, flushing first ({@code tdp_mmu_zap_leafs} with
   * {@code can_yield}); then only the zaps since the last yield are left to flush.
   */
  public boolean unmap(GfnRange range) {
    PageTableCursor walk = range.mayBlock() ? newReschedulingCursor(true) : cursor;
    walk.zapRangeExclusive(range.start(), range.end());
    boolean flush = walk.flushPending();
    walk.clearFlushPending();
    return flush;
  }

  /** Clears the accessed state of every leaf in the range; returns whether any was young. */
  public boolean age(GfnRange range) {
    return cursor.ageRange(range.start(), range.end()) > 0;
  }

  /** Whether any leaf of the range is young; changes nothing. */
  public boolean testAge(GfnRange range) {
    return cursor.testYoungRange(range.start(), range.end());
  }

  /**
   * Write-protects every leaf of the slot, yielding mmu_lock when due with the flush left
   * pending ({@code kvm_tdp_mmu_wrprot_slot} → {@code wrprot_gfn_range}); the caller flushes.
   */
  public void writeProtectSlot(MemorySlot slot) {
    newReschedulingCursor(false).writeProtectRange(slot.baseGfn(), slot.endGfn());
  }

  /**
   * Write-protects exactly the gfns {@code slot.baseGfn() + gfnOffset + i} for each bit
   * {@code i} of {@code mask}; the caller flushes.
   */
  public void writeProtectMasked(MemorySlot slot, long gfnOffset, long mask) {
    long base = slot.baseGfn() + gfnOffset;
    for (long m = mask; m != 0; m &= m - 1) {
      long gfn = base + Long.numberOfTrailingZeros(m);
      cursor.writeProtectRange(gfn, gfn + 1);
    }
    cursor.clearFlushPending();
  }

  /**
   * Zaps the leaves of a slot, yielding mmu_lock when due ({@code kvm_mmu_zap_memslot} passes
   * {@code may_block}).
   */
  public void zapSlot(MemorySlot slot) {
    newReschedulingCursor(true).zapRange(slot.baseGfn(), slot.endGfn());
  }

  /** Zaps every leaf. */
  public void zapAll() {
    cursor.zapAll();
  }

  /**
   * Zaps every leaf with mmu_lock held for write and flushes nothing, for when no vCPU can run
   * again ({@link PageTableCursor#zapAllExclusive()}).
   */
  public void zapAllExclusive() {
    cursor.zapAllExclusive();
  }

  /** The engine's view of KVM's remote TLB flushes and of mmu_lock's reschedule test. */
  private static final class KvmFlushes implements WalkControl {
    private final Kvm kvm;
    private final boolean yields;
    private final boolean flushFirst;

    KvmFlushes(Kvm kvm, boolean yields, boolean flushFirst) {
      this.kvm = kvm;
      this.yields = yields;
      this.flushFirst = flushFirst;
    }

    @Override
    public boolean shouldYield() {
      return yields && kvm.mmuLock().needResched();
    }

    @Override
    public void yieldLock() {
      if (!yields) {
        throw new IllegalStateException("this walk may not yield mmu_lock");
      }
      kvm.mmuLock().reschedule();
    }

    @Override
    public boolean flushesBeforeYield() {
      return flushFirst;
    }

    @Override
    public void flushTlbs() {
      kvm.flushRemoteTlbs();
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      kvm.flushRemoteTlbsRange(gfn, pages);
    }
  }
}

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
  private final PageTableCursor cursor;

  /** Operations on {@code table}, flushing through {@code kvm}; they never yield mmu_lock. */
  public RadixMmuOps(Kvm kvm, RadixPageTable table) {
    this.table = table;
    this.flushes = new KvmFlushes(kvm);
    this.cursor = table.newCursor(flushes);
  }

  /** Another cursor on the table with the same flushes, for a thread of its own (a vCPU). */
  public PageTableCursor newCursor() {
    return table.newCursor(flushes);
  }

  public RadixPageTable table() {
    return table;
  }

  /** The cursor these operations walk with; one thread at a time. */
  public PageTableCursor cursor() {
    return cursor;
  }

  /**
   * Zaps every leaf of the range; returns whether anything was zapped (a flush is due). Common
   * code holds mmu_lock for write here and flushes once before unlocking, so the zaps are plain
   * stores with the flush batched, as {@code kvm_tdp_mmu_unmap_gfn_range} does.
   */
  public boolean unmap(GfnRange range) {
    long zapped = cursor.zapRangeExclusive(range.start(), range.end());
    cursor.clearFlushPending();
    return zapped > 0;
  }

  /** Clears the accessed state of every leaf in the range; returns whether any was young. */
  public boolean age(GfnRange range) {
    return cursor.ageRange(range.start(), range.end()) > 0;
  }

  /** Whether any leaf of the range is young; changes nothing. */
  public boolean testAge(GfnRange range) {
    return cursor.testYoungRange(range.start(), range.end());
  }

  /** Write-protects every leaf of the slot; the caller flushes. */
  public void writeProtectSlot(MemorySlot slot) {
    cursor.writeProtectRange(slot.baseGfn(), slot.endGfn());
    cursor.clearFlushPending();
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

  /** Zaps the leaves of a slot. */
  public void zapSlot(MemorySlot slot) {
    cursor.zapRange(slot.baseGfn(), slot.endGfn());
  }

  /** Zaps every leaf. */
  public void zapAll() {
    cursor.zapAll();
  }

  /** The engine's view of KVM's remote TLB flushes, for walks that never yield. */
  private static final class KvmFlushes implements WalkControl {
    private final Kvm kvm;

    KvmFlushes(Kvm kvm) {
      this.kvm = kvm;
    }

    @Override
    public boolean shouldYield() {
      return false;
    }

    @Override
    public void yieldLock() {
      throw new IllegalStateException("these walks never yield mmu_lock");
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

package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.pt.EntrySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * The arm64 stage-2 table as {@code arch/arm64/kvm/hyp/pgtable.c} builds and updates it in
 * shared walks ({@code KVM_PGTABLE_WALK_SHARED}, mmu_lock held for read), so concurrent faults
 * and the hardware walker stay correct:
 * <ul>
 *   <li>install over an invalid entry: one {@code cmpxchg} ({@code stage2_try_set_pte});
 *   <li>replace a valid entry (a block by a table, a table by a block, one leaf by another):
 *       break-before-make: lock the entry by swapping in {@code KVM_INVALID_PTE_LOCKED}
 *       ({@code stage2_try_break_pte}), invalidate the TLB for what it mapped (by IPA for a
 *       leaf, the whole range for a table), then store the new entry with release ordering
 *       ({@code stage2_make_pte});
 *   <li>a leaf that differs from the new one only in permissions is left alone and the map
 *       retries ({@code stage2_pte_needs_update}): permissions only ever change through
 *       relax-perms;
 *   <li>attribute updates: {@code cmpxchg} ({@code stage2_attr_walker});
 *   <li>under mmu_lock held for write, unmapping clears the entry with a plain store
 *       ({@code stage2_unmap_walker}); the TLB invalidation is per leaf unless the range flush
 *       is deferred ({@code stage2_unmap_defer_tlb_flush}: FWB and range TLBIs), when the
 *       caller issues it once;
 *   <li>the entries of an unlinked table are only read to find child tables
 *       ({@code stage2_free_unlinked_table}).
 * </ul>
 */
final class Stage2PageTableFormat implements PageTableFormat {

  private final Stage2Config config;
  private final PageTableGeometry geometry;

  Stage2PageTableFormat(Stage2Config config) {
    this.config = config;
    this.geometry = config.geometry();
  }

  Stage2Config config() {
    return config;
  }

  @Override
  public PageTableGeometry geometry() {
    return geometry;
  }

  @Override
  public long emptyEntry(int level) {
    return 0;
  }

  @Override
  public boolean isPresent(long entry, int level) {
    return Stage2Pte.isValid(entry);
  }

  @Override
  public boolean isLeaf(long entry, int level) {
    return !Stage2Pte.isTable(entry, level);
  }

  @Override
  public boolean isLocked(long entry, int level) {
    return Stage2Pte.isLocked(entry);
  }

  @Override
  public long outputAddress(long entry, int level) {
    return entry & Stage2Pte.addressMask(config.granuleShift());
  }

  @Override
  public long makeTable(long childPhysicalAddress, int level) {
    return Stage2Pte.makeTable(childPhysicalAddress, config.granuleShift());
  }

  /**
   * {@code stage2_split_walker} via {@code kvm_pgtable_stage2_create_unlinked}: the block's
   * attributes on leaves one level down, each mapping its part of the block.
   */
  @Override
  public long makeSplitChild(long hugeEntry, int hugeLevel, int index) {
    int childLevel = hugeLevel + 1;
    int shift = config.granuleShift();
    long address = outputAddress(hugeEntry, hugeLevel) + ((long) index << config.levelShift(childLevel));
    return Stage2Pte.makeLeaf(address, Stage2Pte.attributes(hugeEntry, shift), childLevel, shift);
  }

  @Override
  public boolean isYoung(long entry, int level) {
    return (entry & Stage2Pte.AF) != 0;
  }

  /** {@code kvm_pgtable_stage2_test_clear_young} with {@code mkold}: clear AF. */
  @Override
  public long makeOld(long entry, int level) {
    return entry & ~Stage2Pte.AF;
  }

  /** {@code kvm_pgtable_stage2_wrprotect}: clear S2AP_W. */
  @Override
  public long makeWriteProtected(long entry, int level) {
    return entry & ~Stage2Pte.S2AP_W;
  }

  @Override
  public boolean tryInstall(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public boolean tryReplace(EntrySlot slot, long expected, long value) {
    if (!stage2PteNeedsUpdate(expected, value, slot.level())) {
      return false;
    }
    if (!stage2TryBreakPte(slot, expected)) {
      return false;
    }
    slot.releaseLocked(Stage2Pte.INVALID_PTE_LOCKED, value);
    return true;
  }

  @Override
  public boolean tryZap(EntrySlot slot, long expected) {
    if (!stage2TryBreakPte(slot, expected)) {
      return false;
    }
    slot.releaseLocked(Stage2Pte.INVALID_PTE_LOCKED, 0);
    return true;
  }

  /**
   * {@code stage2_unmap_walker} under the write lock: {@code kvm_clear_pte}, then a TLB
   * invalidation by IPA for the leaf unless {@code stage2_unmap_defer_tlb_flush} holds (FWB,
   * with range invalidation), when the caller flushes the range once.
   */
  @Override
  public boolean zapExclusive(EntrySlot slot, long expected) {
    slot.write(0);
    if (!deferUnmapFlush()) {
      slot.flushTlb();
    }
    return true;
  }

  /** Armv8's break-before-make rule, which {@code stage2_try_break_pte} implements. */
  @Override
  public boolean requiresBreakBeforeMake() {
    return true;
  }

  /** {@code stage2_unmap_defer_tlb_flush}: only with FWB (no cache clean is due per page). */
  boolean deferUnmapFlush() {
    return config.fwb();
  }

  @Override
  public boolean tryUpdateLeaf(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public long retireUnlinkedEntry(EntrySlot slot) {
    return slot.read();
  }

  /**
   * {@code stage2_pte_needs_update}: a valid leaf replaced by a valid leaf needs an update only
   * if something besides the permissions differs. Table changes always do.
   */
  private static boolean stage2PteNeedsUpdate(long old, long updated, int level) {
    if (Stage2Pte.isTable(old, level) || Stage2Pte.isTable(updated, level)) {
      return true;
    }
    if (!Stage2Pte.isValid(old) || !Stage2Pte.isValid(updated)) {
      return true;
    }
    return ((old ^ updated) & ~Stage2Pte.S2_PERMS) != 0;
  }

  /**
   * {@code stage2_try_break_pte}: lock the entry with {@code cmpxchg}, then invalidate what it
   * translated: the range of a table, the IPA of a valid leaf.
   */
  private static boolean stage2TryBreakPte(EntrySlot slot, long expected) {
    if (Stage2Pte.isLocked(expected)) {
      return false;
    }
    if (!slot.compareAndSet(expected, Stage2Pte.INVALID_PTE_LOCKED)) {
      return false;
    }
    if (Stage2Pte.isValid(expected)) {
      slot.flushTlb();
    }
    return true;
  }
}

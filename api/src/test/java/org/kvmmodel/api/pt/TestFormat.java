package org.kvmmodel.api.pt;

/**
 * A small descriptor format for exercising the engine without any real architecture: bit 0
 * valid, bit 1 leaf (above the last level), bit 2 young, bit 3 writable, bit 10 locked
 * (with valid clear), output address in bits 51:12. Updates follow break-before-make, and the
 * empty value is configurable so non-zero empties are covered, including LoongArch's scheme
 * where each directory level's empty entry points at that level's shared invalid table.
 */
final class TestFormat implements PageTableFormat {

  static final long VALID = 1L;
  static final long LEAF = 1L << 1;
  static final long YOUNG = 1L << 2;
  static final long WRITABLE = 1L << 3;
  static final long LOCKED = 1L << 10;
  static final long ADDRESS = 0x000F_FFFF_FFFF_F000L;

  private final PageTableGeometry geometry;
  private final long empty;
  private final boolean perLevelEmpty;
  int flushes;
  int failInstalls;

  TestFormat(PageTableGeometry geometry, long empty) {
    this(geometry, empty, false);
  }

  /**
   * With {@code perLevelEmpty}, leaves are empty at 0 and a directory entry at level L is empty
   * when it holds {@code empty + L * 0x1000}, an invalid-table address without the valid bit.
   */
  TestFormat(PageTableGeometry geometry, long empty, boolean perLevelEmpty) {
    this.geometry = geometry;
    this.empty = empty;
    this.perLevelEmpty = perLevelEmpty;
  }

  static long leaf(long address, boolean writable) {
    return address | VALID | LEAF | YOUNG | (writable ? WRITABLE : 0);
  }

  private boolean lastLevel(int level) {
    return geometry.depthOf(level) == geometry.levels() - 1;
  }

  @Override
  public PageTableGeometry geometry() {
    return geometry;
  }

  @Override
  public long emptyEntry(int level) {
    if (!perLevelEmpty) {
      return empty;
    }
    return lastLevel(level) ? 0 : empty + level * 0x1000L;
  }

  @Override
  public boolean isPresent(long entry, int level) {
    return (entry & VALID) != 0;
  }

  @Override
  public boolean isLeaf(long entry, int level) {
    return lastLevel(level) || (entry & LEAF) != 0;
  }

  @Override
  public boolean isLocked(long entry, int level) {
    return entry == LOCKED;
  }

  @Override
  public long outputAddress(long entry, int level) {
    return entry & ADDRESS;
  }

  @Override
  public long makeTable(long childPhysicalAddress, int level) {
    return childPhysicalAddress | VALID;
  }

  @Override
  public long makeSplitChild(long hugeEntry, int hugeLevel, int index) {
    int childDepth = geometry.depthOf(hugeLevel) + 1;
    long step = geometry.pagesPerEntry(childDepth) << geometry.pageShift();
    long child = hugeEntry + index * step;
    return childDepth == geometry.levels() - 1 ? child & ~LEAF : child;
  }

  @Override
  public boolean isYoung(long entry, int level) {
    return (entry & YOUNG) != 0;
  }

  @Override
  public long makeOld(long entry, int level) {
    return entry & ~YOUNG;
  }

  @Override
  public long makeWriteProtected(long entry, int level) {
    return entry & ~WRITABLE;
  }

  @Override
  public boolean tryInstall(EntrySlot slot, long expected, long value) {
    if (failInstalls > 0) {
      failInstalls--;
      return false;
    }
    return slot.compareAndSet(expected, value);
  }

  @Override
  public boolean tryReplace(EntrySlot slot, long expected, long value) {
    if (!slot.compareAndSet(expected, LOCKED)) {
      return false;
    }
    slot.flushTlb();
    flushes++;
    slot.releaseLocked(LOCKED, value);
    return true;
  }

  @Override
  public boolean tryZap(EntrySlot slot, long expected) {
    return tryReplace(slot, expected, emptyEntry(slot.level()));
  }

  @Override
  public boolean tryUpdateLeaf(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public long retireUnlinkedEntry(EntrySlot slot) {
    return slot.exchange(emptyEntry(slot.level()));
  }
}

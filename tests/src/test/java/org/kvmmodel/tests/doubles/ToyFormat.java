package org.kvmmodel.tests.doubles;

import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.api.pt.DescriptorFormat;
import org.kvmmodel.api.pt.DescriptorKind;
import org.kvmmodel.api.pt.EntrySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * The descriptor format of the test doubles: a three-level 4 KiB radix table whose leaf level
 * is 0, with V (bit 0), W (bit 1), A (bit 2), T (bit 3: a table entry) and the address in bits
 * 51:12. Every transition is a single compare-and-set, flushed when a valid translation goes.
 */
final class ToyFormat implements PageTableFormat, DescriptorFormat {

  static final long V = 1;
  static final long W = 1 << 1;
  static final long A = 1 << 2;
  static final long T = 1 << 3;
  static final long ADDR = 0x000ffffffffff000L;

  private final PageTableGeometry geometry;

  /** A root of {@code 1 << rootExtraBits} pages: 0 is a single page, 2 is four (as RISC-V x4). */
  ToyFormat(int rootExtraBits) {
    this.geometry =
        new PageTableGeometry(12, new int[] {9 + rootExtraBits, 9, 9}, 2, -1, new boolean[] {false, true, true});
  }

  static long leaf(long pfn, boolean writable) {
    return V | A | (writable ? W : 0) | (pfn << 12);
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
    return (entry & V) != 0;
  }

  @Override
  public boolean isLeaf(long entry, int level) {
    return (entry & T) == 0;
  }

  @Override
  public boolean isLocked(long entry, int level) {
    return false;
  }

  @Override
  public long outputAddress(long entry, int level) {
    return entry & ADDR;
  }

  @Override
  public long makeTable(long childPhysicalAddress, int level) {
    return V | T | childPhysicalAddress;
  }

  @Override
  public long makeSplitChild(long hugeEntry, int hugeLevel, int index) {
    return hugeEntry + ((long) index << 12);
  }

  @Override
  public boolean isYoung(long entry, int level) {
    return (entry & A) != 0;
  }

  @Override
  public long makeOld(long entry, int level) {
    return entry & ~A;
  }

  @Override
  public long makeWriteProtected(long entry, int level) {
    return entry & ~W;
  }

  @Override
  public boolean tryInstall(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public boolean tryReplace(EntrySlot slot, long expected, long value) {
    if (!slot.compareAndSet(expected, value)) {
      return false;
    }
    slot.flushTlb();
    return true;
  }

  @Override
  public boolean tryZap(EntrySlot slot, long expected) {
    return tryReplace(slot, expected, 0);
  }

  /** Under mmu_lock held exclusively a plain store, the flush batched, as the TDP MMU does. */
  @Override
  public boolean zapExclusive(EntrySlot slot, long expected) {
    slot.write(0);
    return true;
  }

  @Override
  public boolean tryUpdateLeaf(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public long retireUnlinkedEntry(EntrySlot slot) {
    return slot.exchange(0);
  }

  @Override
  public String name() {
    return "toy 3-level";
  }

  @Override
  public int minLevel() {
    return 0;
  }

  @Override
  public int maxLevel() {
    return 2;
  }

  @Override
  public boolean levelRequired() {
    return false;
  }

  @Override
  public DecodedDescriptor decode(long value, OptionalInt level) {
    boolean valid = (value & V) != 0;
    boolean table = valid && (value & T) != 0;
    boolean leaf = valid && !table;
    DescriptorKind kind = !valid ? DescriptorKind.EMPTY : table ? DescriptorKind.TABLE : DescriptorKind.LEAF;
    return new DecodedDescriptor(
        value, level, kind, valid, leaf, table, leaf, leaf && (value & W) != 0, false,
        (value & A) != 0, false,
        valid ? OptionalLong.of(value & ADDR) : OptionalLong.empty(),
        leaf && level.isPresent()
            ? OptionalLong.of(geometry.mappingSize(level.getAsInt()))
            : OptionalLong.empty(),
        OptionalLong.empty(),
        List.of(
            new DescriptorField("valid", "0", Boolean.toString(valid)),
            new DescriptorField("write", "1", Boolean.toString((value & W) != 0)),
            new DescriptorField("accessed", "2", Boolean.toString((value & A) != 0)),
            new DescriptorField("table", "3", Boolean.toString((value & T) != 0)),
            new DescriptorField("address", "51:12", String.format(Locale.US, "0x%x", value & ADDR))));
  }
}

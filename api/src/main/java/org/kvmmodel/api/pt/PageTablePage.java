package org.kvmmodel.api.pt;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Locale;

/**
 * One page-table page (or several physically contiguous pages, for a concatenated root): its
 * entries as a {@code long[]} and the physical address that table descriptors pointing at it
 * hold. The counterpart of a page allocated for a {@code struct kvm_mmu_page}'s {@code spt}
 * or a {@code kvm_pgtable} table page.
 *
 * <p>Entries are read with acquire semantics so lockless walkers see initialised child tables.
 * Only the engine writes entries, through an {@link EntrySlot}, so every change is observed.
 */
public final class PageTablePage {

  private static final VarHandle ENTRIES = MethodHandles.arrayElementVarHandle(long[].class);

  private final long physicalAddress;
  private final long[] entries;

  /**
   * A table page at {@code physicalAddress} holding {@code entryCount} entries, all zero until
   * the engine initialises them with the format's empty value.
   */
  public PageTablePage(long physicalAddress, int entryCount) {
    if (entryCount < 1 || Integer.bitCount(entryCount) != 1) {
      throw new IllegalArgumentException("entry count " + entryCount + " is not a power of two");
    }
    if ((physicalAddress & ((long) entryCount * Long.BYTES - 1)) != 0) {
      throw new IllegalArgumentException(
          String.format(
              Locale.US, "table at %#x is not aligned to its size %#x",
              physicalAddress, (long) entryCount * Long.BYTES));
    }
    this.physicalAddress = physicalAddress;
    this.entries = new long[entryCount];
  }

  /** The physical address of the first entry. */
  public long physicalAddress() {
    return physicalAddress;
  }

  /** Number of entries. */
  public int entryCount() {
    return entries.length;
  }

  /** Reads entry {@code index} with acquire ordering (a {@code READ_ONCE} of the SPTE). */
  public long entry(int index) {
    return (long) ENTRIES.getAcquire(entries, index);
  }

  /** The physical address of entry {@code index} (what a hardware walker would load). */
  public long entryAddress(int index) {
    return physicalAddress + (long) index * Long.BYTES;
  }

  void write(int index, long value) {
    ENTRIES.setRelease(entries, index, value);
  }

  boolean compareAndSet(int index, long expected, long value) {
    return ENTRIES.compareAndSet(entries, index, expected, value);
  }

  long exchange(int index, long value) {
    return (long) ENTRIES.getAndSet(entries, index, value);
  }

  void fill(long value) {
    Arrays.fill(entries, value);
    VarHandle.releaseFence();
  }

  @Override
  public String toString() {
    return String.format(Locale.US, "table@%#x[%d]", physicalAddress, entries.length);
  }
}

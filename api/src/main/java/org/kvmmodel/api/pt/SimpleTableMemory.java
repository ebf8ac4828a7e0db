package org.kvmmodel.api.pt;

import java.util.Arrays;
import java.util.Locale;

/**
 * A self-contained source of table pages for tools, tests and benchmarks that run the engine
 * without core's MMU memory caches: pages are carved from a physical range in ascending
 * order, never reused, and those handed back are only counted, as if every RCU grace period
 * had already passed. Allocation is thread-safe; a table's address is published to other
 * threads by the entry that links it. It plays the role of the page allocator behind
 * {@code kvm_mmu_memory_cache_alloc} and {@code call_rcu} freeing.
 */
public final class SimpleTableMemory implements PageTableAllocator, DeferredFree {

  private static final int FRAME_SHIFT = 12;

  private final long base;
  private final long limitPages;
  private long nextAddress;
  private long allocatedPages;
  private long allocatedTables;
  private long freedTables;
  private volatile PageTablePage[] byFrame = new PageTablePage[64];

  /**
   * Memory starting at {@code basePhysicalAddress} (4 KiB aligned) that hands out at most
   * {@code limitPages} table pages before {@link #allocate} starts returning {@code null}.
   */
  public SimpleTableMemory(long basePhysicalAddress, long limitPages) {
    if ((basePhysicalAddress & ((1L << FRAME_SHIFT) - 1)) != 0 || basePhysicalAddress < 0) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "base %#x is not a 4 KiB aligned address", basePhysicalAddress));
    }
    if (limitPages < 0) {
      throw new IllegalArgumentException("negative page limit");
    }
    this.base = basePhysicalAddress;
    this.limitPages = limitPages;
    this.nextAddress = basePhysicalAddress;
  }

  @Override
  public synchronized PageTablePage allocate(int pages, int entriesPerPage) {
    if (allocatedPages + pages > limitPages) {
      return null;
    }
    long bytes = (long) pages * entriesPerPage * Long.BYTES;
    long address = (nextAddress + bytes - 1) & -bytes;
    PageTablePage page = new PageTablePage(address, pages * entriesPerPage);
    nextAddress = address + bytes;
    allocatedPages += pages;
    allocatedTables++;
    int frame = (int) ((address - base) >>> FRAME_SHIFT);
    PageTablePage[] frames = byFrame;
    if (frame >= frames.length) {
      frames = Arrays.copyOf(frames, Math.max(frame + 1, frames.length * 2));
    }
    frames[frame] = page;
    byFrame = frames;
    return page;
  }

  @Override
  public PageTablePage tableAt(long physicalAddress) {
    long frame = (physicalAddress - base) >>> FRAME_SHIFT;
    PageTablePage page = frame < byFrame.length ? byFrame[(int) frame] : null;
    if (page == null || page.physicalAddress() != physicalAddress) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "no table page at %#x", physicalAddress));
    }
    return page;
  }

  @Override
  public synchronized void deferFree(PageTablePage page) {
    freedTables++;
  }

  /** Pages handed out so far. */
  public synchronized long allocatedPages() {
    return allocatedPages;
  }

  /** Tables handed out so far (a concatenated root counts once). */
  public synchronized long allocatedTables() {
    return allocatedTables;
  }

  /** Tables handed back for deferred freeing so far. */
  public synchronized long freedTables() {
    return freedTables;
  }
}

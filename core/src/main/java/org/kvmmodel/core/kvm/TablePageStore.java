package org.kvmmodel.core.kvm;

import java.util.Arrays;
import java.util.Locale;
import org.kvmmodel.api.pt.PageTablePage;

/**
 * The physical pages a VM's stage-2 tables live in: each page gets a physical address of its
 * own that is never handed out again, so a walker that follows a table entry to a page already
 * freed gets an error naming the address instead of reading someone else's table. Pages can be
 * reserved ahead (an MMU memory cache) and materialised later without failing.
 */
final class TablePageStore {

  private static final int FRAME_SHIFT = 12;

  private final long base;
  private final long limitPages;
  private long nextAddress;
  private long livePages;
  private long reservedPages;
  private long freedPages;
  /** Entries in one table page of this VM's format (the granule's, e.g. 2048 for 16 KiB). */
  private int entriesPerPage = 1 << (FRAME_SHIFT - 3);
  private PageTablePage[] byFrame = new PageTablePage[256];

  TablePageStore(long base, long limitPages) {
    this.base = base;
    this.limitPages = limitPages;
    this.nextAddress = base;
  }

  /** Reserves one page for a later {@link #allocateReserved}; false when memory is exhausted. */
  synchronized boolean reserve() {
    if (livePages + reservedPages + 1 > limitPages) {
      return false;
    }
    reservedPages++;
    return true;
  }

  /** Returns an unused reservation ({@code kvm_mmu_free_memory_cache}). */
  synchronized void unreserve(int count) {
    if (count > reservedPages) {
      throw new IllegalStateException("more reservations returned than taken");
    }
    reservedPages -= count;
  }

  /** Materialises a reserved page. */
  synchronized PageTablePage allocateReserved(int entriesPerPage) {
    if (reservedPages == 0) {
      throw new IllegalStateException("no reserved table page");
    }
    reservedPages--;
    return place(1, entriesPerPage);
  }

  /** Allocates {@code pages} contiguous pages now, or null when memory is exhausted. */
  synchronized PageTablePage allocate(int pages, int entriesPerPage) {
    if (livePages + reservedPages + pages > limitPages) {
      return null;
    }
    return place(pages, entriesPerPage);
  }

  private PageTablePage place(int pages, int entriesPerPage) {
    this.entriesPerPage = entriesPerPage;
    long bytes = (long) pages * entriesPerPage * Long.BYTES;
    long address = (nextAddress + bytes - 1) & -bytes;
    nextAddress = address + bytes;
    PageTablePage page = new PageTablePage(address, pages * entriesPerPage);
    int frame = frameOf(address);
    if (frame >= byFrame.length) {
      byFrame = Arrays.copyOf(byFrame, Math.max(frame + 1, byFrame.length * 2));
    }
    byFrame[frame] = page;
    livePages += pages;
    return page;
  }

  /** {@code __va()} of a table address; a freed or unknown page is an error. */
  synchronized PageTablePage tableAt(long physicalAddress) {
    int frame = frameOf(physicalAddress);
    PageTablePage page = frame >= 0 && frame < byFrame.length ? byFrame[frame] : null;
    if (page == null || page.physicalAddress() != physicalAddress) {
      throw new IllegalStateException(
          String.format(Locale.US, "table page %#x is not allocated (freed or never used)", physicalAddress));
    }
    return page;
  }

  /** Frees a page: its address now resolves to nothing. */
  synchronized void free(PageTablePage page) {
    int frame = frameOf(page.physicalAddress());
    if (frame >= byFrame.length || byFrame[frame] != page) {
      throw new IllegalStateException(
          String.format(Locale.US, "double free of table page %#x", page.physicalAddress()));
    }
    byFrame[frame] = null;
    int pages = Math.max(1, page.entryCount() / entriesPerPage);
    livePages -= pages;
    freedPages += pages;
  }

  synchronized long livePages() {
    return livePages;
  }

  synchronized long freedPages() {
    return freedPages;
  }

  private int frameOf(long address) {
    return (int) ((address - base) >>> FRAME_SHIFT);
  }
}

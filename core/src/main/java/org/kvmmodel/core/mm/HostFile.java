package org.kvmmodel.core.mm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A file and its page cache (an address_space). Each cached page is an order-0 folio whose
 * mapping is this file and whose index is its page offset; the page cache holds one reference
 * to it. A page not cached is read from the backing store on fault, which is IO: a fault that
 * may not wait (FOLL_NOWAIT) fails instead. Created by {@link HostMemory#createFile}.
 */
public final class HostFile extends FolioMapping {

  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

  private final HostMemory memory;
  private final long[] cache;
  private final AtomicLong readIos = new AtomicLong();
  private final AtomicLong writebacks = new AtomicLong();

  HostFile(HostMemory memory, int id, long sizePages) {
    super(id);
    if (sizePages <= 0 || sizePages > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "bad file size: %d pages", sizePages));
    }
    this.memory = memory;
    this.cache = new long[(int) sizePages];
  }

  @Override
  boolean isAnon() {
    return false;
  }

  /** The id folios of this file carry as their mapping ({@link HostMemory#folioMappingId}). */
  public int mappingId() {
    return id;
  }

  /** Size in pages. */
  public long sizePages() {
    return cache.length;
  }

  /** The pfn caching page {@code pgoff}, or -1 when it is not cached (filemap_get_folio). */
  public long cachedPfn(long pgoff) {
    return (long) LONGS.getAcquire(cache, slot(pgoff)) - 1;
  }

  /** Reads from the backing store so far (one per page brought into the cache). */
  public long readIoCount() {
    return readIos.get();
  }

  /** Writebacks started so far. */
  public long writebackCount() {
    return writebacks.get();
  }

  private int slot(long pgoff) {
    if (pgoff < 0 || pgoff >= cache.length) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "pgoff %d beyond file of %d pages", pgoff, cache.length));
    }
    return (int) pgoff;
  }

  /** filemap_get_folio: the cached folio of {@code pgoff} with a reference taken, or -1. */
  synchronized long findGet(long pgoff) {
    long pfn = cachedPfn(pgoff);
    if (pfn >= 0) {
      memory.getPage(pfn);
    }
    return pfn;
  }

  /**
   * Brings page {@code pgoff} into the page cache (filemap_fault's read): allocates a folio,
   * reads it, marks it uptodate and puts it on the LRU. Returns its pfn with a reference for
   * the caller besides the cache's, or -1 without memory.
   */
  synchronized long readPageGet(long pgoff) {
    long pfn = findGet(pgoff);
    if (pfn >= 0) {
      return pfn;
    }
    pfn = memory.allocFolio(0, HostMemory.PG_UPTODATE);
    if (pfn < 0) {
      return -1;
    }
    memory.setOwner(pfn, id, pgoff);
    readIos.incrementAndGet();
    memory.getPage(pfn);
    LONGS.setRelease(cache, slot(pgoff), pfn + 1);
    memory.setFolioFlag(pfn, HostMemory.PG_LRU);
    return pfn;
  }

  /** Replaces the cached folio of {@code pgoff} (migration's folio_migrate_mapping). */
  synchronized void replacePage(long pgoff, long oldPfn, long newPfn) {
    if (cachedPfn(pgoff) != oldPfn) {
      throw new IllegalStateException("page cache slot changed under migration");
    }
    LONGS.setRelease(cache, slot(pgoff), newPfn + 1);
  }

  /**
   * Removes page {@code pgoff} from the cache (filemap_remove_folio) and drops the cache's
   * reference. Returns whether a page was cached.
   */
  boolean removePage(long pgoff) {
    long pfn;
    synchronized (this) {
      pfn = cachedPfn(pgoff);
      if (pfn < 0) {
        return false;
      }
      LONGS.setRelease(cache, slot(pgoff), 0L);
    }
    memory.putPage(pfn);
    return true;
  }

  void countWriteback() {
    writebacks.incrementAndGet();
  }
}

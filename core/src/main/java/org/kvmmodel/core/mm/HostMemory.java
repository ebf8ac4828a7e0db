package org.kvmmodel.core.mm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.api.kvm.HostPageSize;

/**
 * The physical memory of one host, shared by every VM and process on it: frames with packed
 * {@code struct page} metadata, folios, and the host-wide operations that reach mappings
 * through the reverse map (writeback, reclaim, migration, memory failure).
 *
 * <p>Pfn layout: RAM frames {@code [0, ramPages)} with the reserved shared zero page as the
 * last RAM frame; ZONE_DEVICE frames {@code [ramPages, ramPages + devicePages)}, which have a
 * struct page; then IO frames without struct page, for which {@link #pfnValid} is false.
 *
 * <p>Per frame with struct page the model keeps, in primitive arrays:
 * <ul>
 *   <li>{@code refs} (8 bytes): refcount (bits 0-31), pincount (32-47), mapcount (48-63),
 *       meaningful on a folio's head frame. A pin raises pincount and refcount in one atomic
 *       update, Linux's accounting for large folios, used here for every folio;
 *   <li>{@code misc} (4 bytes): page flags (bits 0-10), folio order code (11-12: order 0, 9
 *       or 18) and an allocation generation (13-31) bumped each time the frame is allocated;
 *   <li>{@code owner} (8 bytes): the folio's mapping id (bits 40-63) and index (0-39);
 *   <li>one bit in the free bitmap.
 * </ul>
 * The folio lock ({@code PG_locked}) is kept apart, in {@link FolioLocks}, as a lock made by the
 * host's scheduler for each folio that is locked or waited for.
 * A folio is naturally aligned, so its head is the pfn rounded down to its order. Counters
 * and flags change only through VarHandle atomics.
 */
public final class HostMemory {

  static final int PG_DIRTY = 1;
  static final int PG_REFERENCED = 1 << 1;
  static final int PG_WRITEBACK = 1 << 2;
  static final int PG_HWPOISON = 1 << 3;
  static final int PG_RESERVED = 1 << 4;
  static final int PG_LRU = 1 << 5;
  static final int PG_ZONE_DEVICE = 1 << 6;
  static final int PG_ANON = 1 << 7;
  static final int PG_UPTODATE = 1 << 8;
  static final int PG_ANON_EXCLUSIVE = 1 << 9;
  static final int PG_HUGETLB = 1 << 10;
  private static final int FLAG_MASK = (1 << 11) - 1;
  /** Flags that describe the frame itself and survive neither allocation nor free. */
  private static final int FOLIO_FLAGS =
      PG_DIRTY | PG_REFERENCED | PG_WRITEBACK | PG_LRU | PG_ANON | PG_UPTODATE | PG_HUGETLB;

  private static final int ORDER_SHIFT = 11;
  private static final int GEN_SHIFT = 13;
  private static final int GEN_MASK = (1 << 19) - 1;
  private static final long PIN_ONE = 1L << 32;
  private static final long MAP_ONE = 1L << 48;
  private static final long INDEX_MASK = (1L << 40) - 1;
  private static final int MAX_MAPPING_ID = (1 << 24) - 1;

  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

  private final HostPageSize pageSize;
  private final long ramPages;
  private final long devicePages;
  private final long ioPages;
  private final int structPages;
  private final long zeroPfn;

  private final long[] refs;
  private final int[] misc;
  private final long[] owner;
  private final long[] freeMap;

  private final Object zoneLock = new Object();
  private long freePages;
  private long freeDevicePages;
  private int smallCursor;
  private int deviceCursor;
  private final int[] hugeCursor = new int[2];

  private final AtomicLong allocatedFolios = new AtomicLong();
  private final AtomicLong swapOuts = new AtomicLong();
  private final AtomicLong swapIns = new AtomicLong();
  private final AtomicLong nextSwapSlot = new AtomicLong(1);
  private final AtomicLong hwpoisonedPages = new AtomicLong();
  private final AtomicInteger mmIds = new AtomicInteger();
  private final List<FolioMapping> mappings = new ArrayList<>();
  private final List<WritebackListener> writebackListeners = new CopyOnWriteArrayList<>();
  private final FolioLocks folioLocks;

  /** Told where writeback tests and clears a folio's dirty flag. */
  @FunctionalInterface
  public interface WritebackListener {

    /** {@code folio_clear_dirty_for_io} cleared PG_dirty of the folio of {@code pfn}, if set. */
    void folioClearDirtyForIo(long pfn, boolean wasDirty);
  }

  /** Registers a listener told at every {@code folio_clear_dirty_for_io} of writeback. */
  public void addWritebackListener(WritebackListener listener) {
    writebackListeners.add(listener);
  }

  /** A host of 4 KiB pages whose folio locks are real locks (free mode). */
  public HostMemory(long ramPages, long devicePages, long ioPages) {
    this(ramPages, devicePages, ioPages, HostPageSize.SIZE_4K, FreeScheduler.INSTANCE);
  }

  /** A host of 4 KiB pages whose folio locks are made by {@code scheduler}. */
  public HostMemory(long ramPages, long devicePages, long ioPages, Scheduler scheduler) {
    this(ramPages, devicePages, ioPages, HostPageSize.SIZE_4K, scheduler);
  }

  /** A host of {@code pageSize} pages whose folio locks are real locks (free mode). */
  public HostMemory(long ramPages, long devicePages, long ioPages, HostPageSize pageSize) {
    this(ramPages, devicePages, ioPages, pageSize, FreeScheduler.INSTANCE);
  }

  /**
   * A host of {@code pageSize} pages with {@code ramPages} frames of RAM (the last one becomes
   * the zero page), {@code devicePages} ZONE_DEVICE frames and {@code ioPages} IO frames without
   * struct page; each frame is one {@code PAGE_SIZE} page. Folio locks are made by
   * {@code scheduler}, so a deterministic run sees who waits for them.
   */
  public HostMemory(
      long ramPages, long devicePages, long ioPages, HostPageSize pageSize, Scheduler scheduler) {
    this.pageSize = pageSize;
    if (ramPages < 2 || devicePages < 0 || ioPages < 0 || ramPages + devicePages >= Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "bad host size: ram=%d device=%d io=%d", ramPages, devicePages, ioPages));
    }
    this.ramPages = ramPages;
    this.devicePages = devicePages;
    this.ioPages = ioPages;
    this.structPages = (int) (ramPages + devicePages);
    this.refs = new long[structPages];
    this.misc = new int[structPages];
    this.owner = new long[structPages];
    this.freeMap = new long[(structPages + 63) >>> 6];
    this.folioLocks = new FolioLocks(scheduler);
    for (int pfn = 0; pfn < structPages; pfn++) {
      freeMap[pfn >>> 6] |= 1L << (pfn & 63);
    }
    for (int pfn = (int) ramPages; pfn < structPages; pfn++) {
      misc[pfn] = PG_ZONE_DEVICE;
    }
    this.freePages = ramPages;
    this.freeDevicePages = devicePages;
    this.smallCursor = (int) ramPages - 1;
    this.deviceCursor = (int) ramPages;
    this.zeroPfn = ramPages - 1;
    int zero = (int) zeroPfn;
    freeMap[zero >>> 6] &= ~(1L << (zero & 63));
    freePages--;
    misc[zero] = PG_RESERVED | PG_UPTODATE | (1 << GEN_SHIFT);
    refs[zero] = 1;
    mappings.add(null);
  }

  // ---- pfn ranges -------------------------------------------------------------------------

  /** Frames with a struct page (RAM then ZONE_DEVICE): the valid pfns are below this. */
  public long structPageCount() {
    return structPages;
  }

  /** pfn_valid: whether {@code pfn} has a struct page (RAM or ZONE_DEVICE). */
  public boolean pfnValid(long pfn) {
    return pfn >= 0 && pfn < structPages;
  }

  /** The first IO pfn (no struct page). */
  public long ioPfnBase() {
    return structPages;
  }

  /** Number of IO pfns. */
  public long ioPfnCount() {
    return ioPages;
  }

  /** Whether {@code pfn} is an IO pfn of this host. */
  public boolean isIoPfn(long pfn) {
    return pfn >= structPages && pfn < structPages + ioPages;
  }

  /** The host's {@code PAGE_SIZE} and the page-table geometry it implies. */
  public HostPageSize hostPageSize() {
    return pageSize;
  }

  /** {@code PAGE_SHIFT}. */
  public int pageShift() {
    return pageSize.shift();
  }

  /** Number of RAM frames. */
  public long ramPages() {
    return ramPages;
  }

  /** The shared zero page (my_zero_pfn). */
  public long zeroPfn() {
    return zeroPfn;
  }

  /** is_zero_pfn. */
  public boolean isZeroPfn(long pfn) {
    return pfn == zeroPfn;
  }

  private int frame(long pfn) {
    if (!pfnValid(pfn)) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "pfn 0x%x has no struct page", pfn));
    }
    return (int) pfn;
  }

  // ---- folio geometry ---------------------------------------------------------------------

  private int orderOf(int miscWord) {
    switch ((miscWord >>> ORDER_SHIFT) & 3) {
      case 1:
        return pageSize.pmdOrder();
      case 2:
        return pageSize.pudOrder();
      default:
        return 0;
    }
  }

  private int orderCode(int order) {
    return order == pageSize.pudOrder() ? 2 : order == pageSize.pmdOrder() ? 1 : 0;
  }

  /** folio_order of the folio containing {@code pfn}. */
  public int folioOrder(long pfn) {
    return orderOf((int) INTS.getAcquire(misc, frame(pfn)));
  }

  /** The head pfn of the folio containing {@code pfn} (page_folio). */
  public long folioHead(long pfn) {
    return pfn & ~((1L << folioOrder(pfn)) - 1);
  }

  private int head(long pfn) {
    return (int) folioHead(pfn);
  }

  // ---- counts -----------------------------------------------------------------------------

  /** folio_ref_count of the folio containing {@code pfn}. */
  public int refcount(long pfn) {
    return (int) (long) LONGS.getAcquire(refs, head(pfn));
  }

  /** The folio's pincount (FOLL_PIN pins). */
  public int pincount(long pfn) {
    return (int) (((long) LONGS.getAcquire(refs, head(pfn)) >>> 32) & 0xffff);
  }

  /** folio_mapcount: page-table entries at any level mapping the folio. */
  public int mapcount(long pfn) {
    return (int) (((long) LONGS.getAcquire(refs, head(pfn)) >>> 48) & 0xffff);
  }

  /** folio_maybe_dma_pinned. */
  public boolean isPinned(long pfn) {
    return pincount(pfn) > 0;
  }

  /** folio_get: take a reference on a folio that already has one. */
  public void getPage(long pfn) {
    int h = head(pfn);
    addRefs(h, 1, 0, 0, pfn);
  }

  /**
   * folio_try_get: take a reference unless the folio is free (refcount zero), as gup_fast does
   * on a folio it found without locks. With {@code pin}, also raise pincount.
   */
  boolean tryGetFolio(long pfn, boolean pin) {
    int h = head(pfn);
    long delta = pin ? PIN_ONE + 1 : 1;
    while (true) {
      long old = (long) LONGS.getVolatile(refs, h);
      if ((int) old <= 0) {
        return false;
      }
      checkOverflow(old, pin ? 1 : 0, pin ? 1 : 0, 0, pfn);
      if (LONGS.compareAndSet(refs, h, old, old + delta)) {
        return true;
      }
    }
  }

  /** folio_put: drop a reference; the folio is freed when the last one goes. */
  public void putPage(long pfn) {
    int h = head(pfn);
    if (addRefs(h, -1, 0, 0, pfn) == 0) {
      freeFolio(h);
    }
  }

  /**
   * Pin the folio containing {@code pfn} (try_grab_folio with FOLL_PIN): pincount and
   * refcount both rise by one. The shared zero page is never pinned (is_zero_folio).
   */
  public void pinUserPage(long pfn) {
    if (pfn == zeroPfn) {
      return;
    }
    addRefs(head(pfn), 1, 1, 0, pfn);
  }

  /** unpin_user_page: undo {@link #pinUserPage}; the folio is freed with its last reference. */
  public void unpinUserPage(long pfn) {
    if (pfn == zeroPfn) {
      return;
    }
    int h = head(pfn);
    if (addRefs(h, -1, -1, 0, pfn) == 0) {
      freeFolio(h);
    }
  }

  /** Mapcount and refcount change for one page-table entry mapping (or unmapping) the folio. */
  void addMapping(long pfn, int delta) {
    int h = head(pfn);
    if (addRefs(h, delta, 0, delta, pfn) == 0) {
      freeFolio(h);
    }
  }

  /** Mapcount change alone (the reference is moved elsewhere, as into an mmu_gather). */
  void addMapcount(long pfn, int delta) {
    addRefs(head(pfn), 0, 0, delta, pfn);
  }

  private int addRefs(int h, int ref, int pin, int map, long pfn) {
    while (true) {
      long old = (long) LONGS.getVolatile(refs, h);
      int rc = (int) old;
      int pc = (int) ((old >>> 32) & 0xffff);
      int mc = (int) ((old >>> 48) & 0xffff);
      if (rc + ref < 0 || (ref > 0 && rc == 0)) {
        throw new IllegalStateException(
            String.format(
                Locale.US,
                "refcount %s on pfn 0x%x (folio 0x%x, refcount %d)",
                rc + ref < 0 ? "underflow" : "get on a free folio",
                pfn,
                h,
                rc));
      }
      if (pc + pin < 0) {
        throw new IllegalStateException(
            String.format(Locale.US, "pincount underflow on pfn 0x%x (folio 0x%x)", pfn, h));
      }
      if (mc + map < 0) {
        throw new IllegalStateException(
            String.format(Locale.US, "mapcount underflow on pfn 0x%x (folio 0x%x)", pfn, h));
      }
      checkOverflow(old, ref, pin, map, pfn);
      long updated =
          (old & ~0xffffffffL)
              + ((long) pin << 32)
              + ((long) map << 48)
              | ((rc + ref) & 0xffffffffL);
      if (LONGS.compareAndSet(refs, h, old, updated)) {
        return rc + ref;
      }
    }
  }

  private static void checkOverflow(long old, int ref, int pin, int map, long pfn) {
    if ((int) old + (long) ref > Integer.MAX_VALUE
        || ((old >>> 32) & 0xffff) + pin > 0xffff
        || ((old >>> 48) & 0xffff) + map > 0xffff) {
      throw new IllegalStateException(
          String.format(Locale.US, "reference counter overflow on pfn 0x%x", pfn));
    }
  }

  // ---- flags ------------------------------------------------------------------------------

  private boolean testFlag(int frame, int flag) {
    return ((int) INTS.getAcquire(misc, frame) & flag) != 0;
  }

  /** Atomically sets {@code flag}; returns whether it was already set (test_and_set_bit). */
  private boolean setFlag(int frame, int flag) {
    int old = (int) INTS.getAndBitwiseOr(misc, frame, flag);
    return (old & flag) != 0;
  }

  /** Atomically clears {@code flag}; returns whether it was set (test_and_clear_bit). */
  private boolean clearFlag(int frame, int flag) {
    int old = (int) INTS.getAndBitwiseAnd(misc, frame, ~flag);
    return (old & flag) != 0;
  }

  boolean testFolioFlag(long pfn, int flag) {
    return testFlag(head(pfn), flag);
  }

  boolean setFolioFlag(long pfn, int flag) {
    return setFlag(head(pfn), flag);
  }

  boolean clearFolioFlag(long pfn, int flag) {
    return clearFlag(head(pfn), flag);
  }

  boolean testPageFlag(long pfn, int flag) {
    return testFlag(frame(pfn), flag);
  }

  void clearPageFlag(long pfn, int flag) {
    clearFlag(frame(pfn), flag);
  }

  void setPageFlagOnFolio(long pfn, int flag, boolean value) {
    int h = head(pfn);
    int n = 1 << folioOrder(pfn);
    for (int i = 0; i < n; i++) {
      if (value) {
        setFlag(h + i, flag);
      } else {
        clearFlag(h + i, flag);
      }
    }
  }

  /** PG_dirty of the folio. */
  public boolean isDirty(long pfn) {
    return testFolioFlag(pfn, PG_DIRTY);
  }

  /** PG_referenced of the folio. */
  public boolean isReferenced(long pfn) {
    return testFolioFlag(pfn, PG_REFERENCED);
  }

  /** PG_writeback of the folio. */
  public boolean isWriteback(long pfn) {
    return testFolioFlag(pfn, PG_WRITEBACK);
  }

  /** PG_hwpoison of this page. */
  public boolean isHwpoison(long pfn) {
    return testPageFlag(pfn, PG_HWPOISON);
  }

  /** PG_reserved (the zero page). */
  public boolean isReserved(long pfn) {
    return testPageFlag(pfn, PG_RESERVED);
  }

  /**
   * PG_lru of the folio: on an LRU list and not isolated. Hugetlb folios use it for being on
   * their hstate's active list, where migration isolates them from.
   */
  public boolean isLru(long pfn) {
    return testFolioFlag(pfn, PG_LRU);
  }

  /** is_zone_device_page. */
  public boolean isZoneDevice(long pfn) {
    return testPageFlag(pfn, PG_ZONE_DEVICE);
  }

  /** folio_test_anon. */
  public boolean isAnon(long pfn) {
    return testFolioFlag(pfn, PG_ANON);
  }

  /** PG_uptodate of the folio. */
  public boolean isUptodate(long pfn) {
    return testFolioFlag(pfn, PG_UPTODATE);
  }

  /** PageAnonExclusive of this page. */
  public boolean isAnonExclusive(long pfn) {
    return testPageFlag(pfn, PG_ANON_EXCLUSIVE);
  }

  /** folio_test_hugetlb. */
  public boolean isHugetlb(long pfn) {
    return testFolioFlag(pfn, PG_HUGETLB);
  }

  /**
   * folio_mark_dirty: set PG_dirty on the folio; returns whether it was clean before.
   */
  public boolean setPageDirty(long pfn) {
    return !setFolioFlag(pfn, PG_DIRTY);
  }

  // ---- folio lock -------------------------------------------------------------------------

  /**
   * folio_lock of the folio containing {@code pfn}, whose reference the caller holds: sleeps
   * until no one else holds it. Taken under mmap_lock by faults, never the other way round.
   */
  void folioLock(long pfn) {
    folioLocks.lock(folioHead(pfn));
  }

  /** folio_trylock: the folio lock if it is free now; false otherwise. */
  boolean folioTrylock(long pfn) {
    return folioLocks.trylock(folioHead(pfn));
  }

  /** folio_unlock: the caller holds the folio lock. */
  void folioUnlock(long pfn) {
    folioLocks.unlock(folioHead(pfn));
  }

  /** folio_test_locked: whether some actor holds the folio lock of the folio of {@code pfn}. */
  public boolean isLocked(long pfn) {
    return folioLocks.isLocked(folioHead(pfn));
  }

  /** folio_mark_accessed: note a use of the folio (PG_referenced). */
  public void markPageAccessed(long pfn) {
    setFolioFlag(pfn, PG_REFERENCED);
  }

  /** The generation of the frame's current (or last) allocation. */
  public int allocationGeneration(long pfn) {
    return ((int) INTS.getAcquire(misc, frame(pfn)) >>> GEN_SHIFT) & GEN_MASK;
  }

  // ---- mapping and index ------------------------------------------------------------------

  /** The folio's mapping: the id of its anon_vma or {@link HostFile}, 0 for none. */
  public int folioMappingId(long pfn) {
    return (int) ((long) LONGS.getAcquire(owner, head(pfn)) >>> 40);
  }

  /** The folio's index (page offset of its head in its mapping). */
  public long folioIndex(long pfn) {
    return (long) LONGS.getAcquire(owner, head(pfn)) & INDEX_MASK;
  }

  void setOwner(long pfn, int mappingId, long index) {
    LONGS.setRelease(owner, head(pfn), ((long) mappingId << 40) | (index & INDEX_MASK));
  }

  FolioMapping mapping(long pfn) {
    int id = folioMappingId(pfn);
    synchronized (mappings) {
      return id == 0 ? null : mappings.get(id);
    }
  }

  int registerMapping(IntFunction<FolioMapping> factory) {
    synchronized (mappings) {
      int id = mappings.size();
      if (id > MAX_MAPPING_ID) {
        throw new IllegalStateException("too many anon_vmas and files");
      }
      mappings.add(factory.apply(id));
      return id;
    }
  }

  FolioMapping mappingById(int id) {
    synchronized (mappings) {
      return mappings.get(id);
    }
  }

  /** A new file whose page cache lives in this host's memory. */
  public HostFile createFile(long sizePages) {
    int id = registerMapping(i -> new HostFile(this, i, sizePages));
    return (HostFile) mappingById(id);
  }

  AnonVma createAnonVma() {
    return (AnonVma) mappingById(registerMapping(AnonVma::new));
  }

  // ---- allocation -------------------------------------------------------------------------

  /**
   * Allocates a folio of {@code order} (0, PMD or PUD order) from RAM: an aligned run of free frames.
   * Returns its head pfn with refcount one, or -1 when no such run is free.
   */
  long allocFolio(int order, int flags) {
    if (order != 0 && order != pageSize.pmdOrder() && order != pageSize.pudOrder()) {
      throw new IllegalArgumentException("unsupported folio order " + order);
    }
    int h;
    synchronized (zoneLock) {
      h = order == 0 ? findFreeSmall() : findFreeRun(order);
      if (h < 0) {
        return -1;
      }
      int n = 1 << order;
      for (int i = 0; i < n; i++) {
        freeMap[(h + i) >>> 6] &= ~(1L << ((h + i) & 63));
      }
      freePages -= n;
    }
    initFolio(h, order, flags);
    return h;
  }

  /** Allocates one ZONE_DEVICE frame (the device driver's pgmap), or -1 if none is free. */
  long allocDevicePage(int flags) {
    int h = -1;
    synchronized (zoneLock) {
      for (long scanned = 0; scanned < devicePages; scanned++) {
        int f = deviceCursor;
        deviceCursor = deviceCursor + 1 >= structPages ? (int) ramPages : deviceCursor + 1;
        if ((freeMap[f >>> 6] & (1L << (f & 63))) != 0) {
          h = f;
          break;
        }
      }
      if (h < 0) {
        return -1;
      }
      freeMap[h >>> 6] &= ~(1L << (h & 63));
      freeDevicePages--;
    }
    initFolio(h, 0, flags | PG_ZONE_DEVICE);
    return h;
  }

  private void initFolio(int h, int order, int flags) {
    int n = 1 << order;
    for (int i = 0; i < n; i++) {
      int f = h + i;
      int old = misc[f];
      int gen = ((old >>> GEN_SHIFT) + 1) & GEN_MASK;
      int keep = old & PG_ZONE_DEVICE;
      INTS.setRelease(misc, f, keep | (flags & ~FOLIO_FLAGS & FLAG_MASK)
          | (i == 0 ? flags & FOLIO_FLAGS : 0)
          | (orderCode(order) << ORDER_SHIFT) | (gen << GEN_SHIFT));
      LONGS.setRelease(owner, f, 0L);
      LONGS.setRelease(refs, f, 0L);
    }
    LONGS.setRelease(refs, h, 1L);
    allocatedFolios.incrementAndGet();
  }

  private boolean frameFree(int f) {
    return (freeMap[f >>> 6] & (1L << (f & 63))) != 0;
  }

  private int findFreeSmall() {
    int limit = (int) ramPages;
    int f = smallCursor;
    for (int scanned = 0; scanned < limit; ) {
      long word = freeMap[f >>> 6];
      if (word == 0) {
        int skip = (f & 63) + 1;
        scanned += skip;
        f -= skip;
      } else if (frameFree(f)) {
        smallCursor = f == 0 ? limit - 1 : f - 1;
        return f;
      } else {
        scanned++;
        f--;
      }
      if (f < 0) {
        f = limit - 1;
      }
    }
    return -1;
  }

  private int findFreeRun(int order) {
    int n = 1 << order;
    int words = n >>> 6;
    int blocks = (int) (ramPages >>> order);
    int ci = order == pageSize.pmdOrder() ? 0 : 1;
    for (int tried = 0; tried < blocks; tried++) {
      int b = (hugeCursor[ci] + tried) % blocks;
      int firstWord = (b << order) >>> 6;
      boolean free = true;
      for (int w = 0; w < words; w++) {
        if (freeMap[firstWord + w] != -1L) {
          free = false;
          break;
        }
      }
      if (free) {
        hugeCursor[ci] = b;
        return b << order;
      }
    }
    return -1;
  }

  private void freeFolio(int h) {
    int word = misc[h];
    int order = orderOf(word);
    int n = 1 << order;
    long r = refs[h];
    if ((word & PG_RESERVED) != 0) {
      throw new IllegalStateException(
          String.format(Locale.US, "last reference dropped on reserved pfn 0x%x", h));
    }
    if ((r >>> 32) != 0) {
      throw new IllegalStateException(
          String.format(Locale.US, "bad page state: pfn 0x%x freed while mapped or pinned", h));
    }
    boolean device = (word & PG_ZONE_DEVICE) != 0;
    for (int i = 0; i < n; i++) {
      int f = h + i;
      int old = misc[f];
      INTS.setRelease(misc, f, old & ((GEN_MASK << GEN_SHIFT) | PG_ZONE_DEVICE | PG_HWPOISON));
      LONGS.setRelease(owner, f, 0L);
    }
    allocatedFolios.decrementAndGet();
    synchronized (zoneLock) {
      for (int i = 0; i < n; i++) {
        int f = h + i;
        if ((misc[f] & PG_HWPOISON) != 0) {
          continue;
        }
        freeMap[f >>> 6] |= 1L << (f & 63);
        if (device) {
          freeDevicePages++;
        } else {
          freePages++;
        }
      }
    }
  }

  /** Free RAM frames. */
  public long freePages() {
    synchronized (zoneLock) {
      return freePages;
    }
  }

  /** Free ZONE_DEVICE frames. */
  public long freeDevicePages() {
    synchronized (zoneLock) {
      return freeDevicePages;
    }
  }

  /** Folios currently allocated (the zero page not counted). */
  public long allocatedFolios() {
    return allocatedFolios.get();
  }

  /** Anonymous folios written to swap by reclaim. */
  public long swapOuts() {
    return swapOuts.get();
  }

  /** Swap entries faulted back in, each into a newly allocated folio. */
  public long swapIns() {
    return swapIns.get();
  }

  /** Pages taken out of use by memory_failure. */
  public long hwpoisonedPages() {
    return hwpoisonedPages.get();
  }

  long allocSwapSlot() {
    swapOuts.incrementAndGet();
    return nextSwapSlot.getAndIncrement();
  }

  void countSwapIn() {
    swapIns.incrementAndGet();
  }

  /** Frames with struct page: RAM plus ZONE_DEVICE. */
  long structPages() {
    return structPages;
  }

  /** Takes a free frame off the free bitmap for good (memory_failure on a free page). */
  boolean takeOffFreeList(long pfn) {
    int f = frame(pfn);
    synchronized (zoneLock) {
      if (!frameFree(f)) {
        return false;
      }
      freeMap[f >>> 6] &= ~(1L << (f & 63));
      if (testFlag(f, PG_ZONE_DEVICE)) {
        freeDevicePages--;
      } else {
        freePages--;
      }
      return true;
    }
  }

  int nextMmId() {
    return mmIds.incrementAndGet();
  }

  void countHwpoison() {
    hwpoisonedPages.incrementAndGet();
  }

  void setHwpoisonFlag(long pfn) {
    setFlag(frame(pfn), PG_HWPOISON);
  }

  /** Copies the folio state migration carries over (folio_migrate_flags) to {@code dst}. */
  void migrateFlags(long src, long dst) {
    int s = head(src);
    int d = head(dst);
    int carried = PG_DIRTY | PG_REFERENCED | PG_UPTODATE | PG_ANON | PG_HUGETLB;
    INTS.getAndBitwiseOr(misc, d, (int) INTS.getAcquire(misc, s) & carried);
    int n = 1 << folioOrder(src);
    for (int i = 0; i < n; i++) {
      if (testFlag(s + i, PG_ANON_EXCLUSIVE)) {
        setFlag(d + i, PG_ANON_EXCLUSIVE);
      }
    }
    LONGS.setRelease(owner, d, (long) LONGS.getAcquire(owner, s));
  }

  // ---- reverse map and the host operations built on it -----------------------------------

  /**
   * rmap_walk: visits every VMA that may map the folio at {@code head} (through its
   * anon_vma chain or its file's i_mmap) with the mapping's lock held, and applies {@code op}
   * to that VMA's entries for the folio. Returns the sum of {@link MmStruct#rmapOne} counts.
   * The caller holds the folio lock, as rmap_walk_file and the unmap, migrate and mkclean
   * walks require; only an aging walk of an anonymous folio goes without.
   */
  private int rmapWalk(long head, MmStruct.RmapOp op, long arg) {
    FolioMapping m = mapping(head);
    if (m == null) {
      return 0;
    }
    if ((op != MmStruct.RmapOp.REFERENCED || !m.isAnon()) && !folioLocks.heldByMe(head)) {
      throw new IllegalStateException(
          String.format(Locale.US, "rmap walk (%s) of folio 0x%x without its folio lock", op, head));
    }
    int nr = 1 << folioOrder(head);
    long index = folioIndex(head);
    int count = 0;
    synchronized (m.iMmap) {
      for (Vma vma : m.vmas) {
        if (op == MmStruct.RmapOp.MKCLEAN && !vma.has(Vma.VM_SHARED)) {
          continue;
        }
        long first = vma.start + ((index - vma.pgoff) << pageShift());
        long start = Math.max(first, vma.start);
        long end = Math.min(first + ((long) nr << pageShift()), vma.end);
        if (start < end) {
          count += vma.mm.rmapOne(vma, start, end, head, nr, op, arg);
        }
      }
    }
    return count;
  }

  /**
   * The address at which {@code mm} maps frame {@code pfn} through the frame's folio's reverse
   * map (its anon_vma chain or its file's i_mmap), or -1 if it maps it nowhere. A lockless look,
   * as a debugging check takes one: it never waits for a walk in progress.
   */
  public long mappedAddress(long pfn, MmStruct mm) {
    if (!pfnValid(pfn)) {
      return -1;
    }
    long head = folioHead(pfn);
    FolioMapping m = mapping(head);
    if (m == null) {
      return -1;
    }
    long index = folioIndex(head) + (pfn - head);
    for (Vma vma : m.vmas) {
      if (vma.mm != mm) {
        continue;
      }
      long address = vma.start + ((index - vma.pgoff) << pageShift());
      if (address >= vma.start && address < vma.end) {
        long e = mm.hostPte(address);
        if (HostPte.mapsPfn(e)
            && HostPte.pfn(e) + ((address & (pageSize.levelSize(HostPte.level(e)) - 1)) >>> pageShift())
                == pfn) {
          return address;
        }
      }
    }
    return -1;
  }

  /**
   * Writeback of page {@code pgoff} of {@code file} (writeback_get_folio and the writepage
   * that follows): the folio is locked, and skipped if it left the file meanwhile (migrated or
   * removed) or is already under writeback. Then folio_clear_dirty_for_io: page_mkclean walks
   * the reverse map, for each shared VMA over the page raising PROTECTION_PAGE,
   * write-protecting and cleaning the entry, flushing, and ending the invalidation; if any
   * entry was writable or dirty the folio is marked dirty. Only then is PG_dirty tested and
   * cleared; if it was set, PG_writeback is set (folio_start_writeback). The folio is unlocked
   * only after that, so a write fault, which dirties the folio under its lock, lands either
   * before the clean (and is written now) or after it (and dirties the folio again). Returns
   * whether the folio was dirty (IO started).
   */
  public boolean writeback(HostFile file, long pgoff) {
    long pfn = file.findGet(pgoff);
    if (pfn < 0) {
      return false;
    }
    folioLock(pfn);
    try {
      if (mapping(pfn) != file || isWriteback(pfn)) {
        return false;
      }
      boolean dirty = folioClearDirtyForIo(pfn);
      if (!dirty) {
        return false;
      }
      setFolioFlag(pfn, PG_WRITEBACK);
      file.countWriteback();
      return true;
    } finally {
      folioUnlock(pfn);
      putPage(pfn);
    }
  }

  /**
   * folio_clear_dirty_for_io of a locked file folio: page_mkclean, then test-and-clear
   * PG_dirty, telling the writeback listeners. Returns whether the folio was dirty.
   */
  private boolean folioClearDirtyForIo(long pfn) {
    if (rmapWalk(pfn, MmStruct.RmapOp.MKCLEAN, 0) > 0) {
      setPageDirty(pfn);
    }
    boolean dirty = clearFolioFlag(pfn, PG_DIRTY);
    for (WritebackListener l : writebackListeners) {
      l.folioClearDirtyForIo(pfn, dirty);
    }
    return dirty;
  }

  /** folio_end_writeback for page {@code pgoff} of {@code file}: the IO completed. */
  public void endWriteback(HostFile file, long pgoff) {
    long pfn = file.cachedPfn(pgoff);
    if (pfn < 0 || !clearFolioFlag(pfn, PG_WRITEBACK)) {
      throw new IllegalStateException(
          String.format(Locale.US, "page %d of the file is not under writeback", pgoff));
    }
  }

  /**
   * folio_referenced: for every mapping of the folio, test-and-clear the entry's young bit
   * (flushing) and ask the subscribers with clear_flush_young. Returns how many mappings were
   * young anywhere; a referenced folio gets PG_referenced. A file folio is walked under its
   * folio lock, taken with a trylock: if someone else holds it the folio counts as referenced
   * once, unwalked, as folio_referenced answers then.
   */
  public int folioReferenced(long pfn) {
    if (!pfnValid(pfn)) {
      return 0;
    }
    long h = folioHead(pfn);
    if (!tryGetFolio(h, false)) {
      return 0;
    }
    boolean locked = false;
    try {
      FolioMapping m = mapping(h);
      if (m != null && !m.isAnon()) {
        locked = folioTrylock(h);
        if (!locked) {
          return 1;
        }
      }
      int referenced = rmapWalk(h, MmStruct.RmapOp.REFERENCED, 0);
      if (referenced > 0) {
        setFolioFlag(h, PG_REFERENCED);
      }
      return referenced;
    } finally {
      if (locked) {
        folioUnlock(h);
      }
      putPage(h);
    }
  }

  /**
   * shrink_folio_list for one order-0 LRU folio. The folio is locked with a trylock; a folio
   * someone else holds locked is kept. Aging first: referenced anywhere keeps it. Then
   * try_to_unmap raises CLEAR per mapping and removes the entries (a dirty entry dirties the
   * folio): anonymous folios become swap entries and are freed; dirty file folios start
   * writeback (pageout: folio_clear_dirty_for_io, then PG_writeback) instead of being freed;
   * clean file folios leave the page cache and are freed. A folio with pins or references
   * beyond its mappings is kept before unmapping.
   */
  public ReclaimResult reclaimFolio(long pfn) {
    long h = isolateLruFolio(pfn);
    if (h < 0) {
      return ReclaimResult.NOT_RECLAIMABLE;
    }
    if (folioOrder(h) != 0 || isZoneDevice(h) || isHugetlb(h)) {
      putbackLru(h);
      return ReclaimResult.NOT_RECLAIMABLE;
    }
    if (!folioTrylock(h)) {
      putbackLru(h);
      return ReclaimResult.KEPT_LOCKED;
    }
    ReclaimResult result = shrinkLockedFolio(h);
    folioUnlock(h);
    if (result == ReclaimResult.SWAPPED_OUT || result == ReclaimResult.FREED) {
      putPage(h);
    } else {
      putbackLru(h);
    }
    return result;
  }

  /** The part of shrink_folio_list done under the folio lock; the caller puts the folio back. */
  private ReclaimResult shrinkLockedFolio(long h) {
    if (isWriteback(h)) {
      return ReclaimResult.KEPT_WRITEBACK;
    }
    int referenced = rmapWalk(h, MmStruct.RmapOp.REFERENCED, 0);
    if (referenced > 0) {
      setFolioFlag(h, PG_REFERENCED);
      return ReclaimResult.KEPT_REFERENCED;
    }
    boolean anon = isAnon(h);
    FolioMapping m = mapping(h);
    int expected = mapcount(h) + (anon ? 0 : 1) + 1;
    if (isPinned(h) || refcount(h) != expected) {
      return ReclaimResult.KEPT_BUSY;
    }
    long slot = anon ? allocSwapSlot() : 0;
    rmapWalk(h, MmStruct.RmapOp.UNMAP, slot);
    if (anon) {
      return ReclaimResult.SWAPPED_OUT;
    }
    HostFile file = (HostFile) m;
    if (folioClearDirtyForIo(h)) {
      setFolioFlag(h, PG_WRITEBACK);
      file.countWriteback();
      return ReclaimResult.WRITEBACK_STARTED;
    }
    file.removePage(folioIndex(h));
    return ReclaimResult.FREED;
  }

  /**
   * folio_isolate_lru: takes a reference on the folio containing {@code pfn} unless it is
   * free, then test-and-clears PG_LRU so that one isolator alone owns it. Returns the head,
   * or -1 if the folio is free or not on the LRU (or already isolated). For a hugetlb folio
   * PG_LRU stands for its being on the hstate's active list, isolatable for migration.
   */
  private long isolateLruFolio(long pfn) {
    if (!pfnValid(pfn)) {
      return -1;
    }
    long h = folioHead(pfn);
    if (!tryGetFolio(h, false)) {
      return -1;
    }
    if (folioHead(pfn) != h || !clearFolioFlag(h, PG_LRU)) {
      putPage(h);
      return -1;
    }
    return h;
  }

  /** folio_putback_lru: back on the LRU, isolation reference dropped. */
  private void putbackLru(long h) {
    setFolioFlag(h, PG_LRU);
    putPage(h);
  }

  /**
   * The unmap half of migrate_pages for the folio containing {@code pfn}: isolate it (a
   * reference, off the LRU), lock it (MIGRATE_SYNC_LIGHT: folio_lock, sleeping if another
   * holds it), then try_to_migrate, which raises MMU_NOTIFY_CLEAR per mapping and replaces
   * each entry with a migration entry (keeping write, young and dirty). Faults and slow GUP on
   * those entries answer -EAGAIN, fast GUP fails. The folio stays locked until
   * {@link #migrateFinish}, which the same actor calls. Returns null for a folio that cannot
   * migrate: free, reserved, ZONE_DEVICE, off the LRU (and not hugetlb), pinned, or under
   * writeback (which this mode does not wait for).
   */
  public MigrationHandle migrateStart(long pfn) {
    long h = isolateLruFolio(pfn);
    if (h < 0) {
      return null;
    }
    if (isReserved(h) || isZoneDevice(h)) {
      putbackLru(h);
      return null;
    }
    folioLock(h);
    if (isPinned(h) || isWriteback(h)) {
      folioUnlock(h);
      putbackLru(h);
      return null;
    }
    rmapWalk(h, MmStruct.RmapOp.MIGRATE, 0);
    return new MigrationHandle(h, folioOrder(h), allocationGeneration(h));
  }

  /**
   * The move half of migrate_pages: if only the isolation (and page-cache) references
   * remain, copy to a new folio (flags, mapping and index carried over), move the page-cache
   * slot, and remove_migration_ptes installs the new pfn wherever a migration entry points
   * at the old one; the new folio is locked from its allocation until then, the old one until
   * it has left its mapping. The old folio is freed when its last reference drops. Otherwise
   * (extra references, or no memory) the old folio is mapped back, unlocked, and -EAGAIN or
   * -ENOMEM returned.
   */
  public int migrateFinish(MigrationHandle handle) {
    long old = handle.oldPfn();
    if (refcount(old) == 0 || allocationGeneration(old) != handle.generation()) {
      throw new IllegalStateException(
          String.format(Locale.US, "migration handle for pfn 0x%x is stale", old));
    }
    FolioMapping m = mapping(old);
    boolean file = m != null && !m.isAnon();
    int expected = 1 + (file ? 1 : 0);
    boolean hugetlb = isHugetlb(old);
    boolean busy = refcount(old) != expected;
    long dst = busy ? -1 : allocFolio(handle.order(), hugetlb ? PG_HUGETLB : 0);
    if (dst < 0) {
      rmapWalk(old, MmStruct.RmapOp.REMOVE_MIGRATION, old);
      folioUnlock(old);
      putbackLru(old);
      return busy ? -Errno.EAGAIN : -Errno.ENOMEM;
    }
    folioLock(dst);
    migrateFlags(old, dst);
    if (file) {
      ((HostFile) m).replacePage(folioIndex(old), old, dst);
    }
    rmapWalk(old, MmStruct.RmapOp.REMOVE_MIGRATION, dst);
    folioUnlock(dst);
    setFolioFlag(dst, PG_LRU);
    if (file) {
      getPage(dst);
      putPage(old);
    }
    putPage(dst);
    setOwner(old, 0, 0);
    folioUnlock(old);
    putPage(old);
    return 0;
  }

  /**
   * memory_failure for {@code pfn}: marks the page hwpoisoned, takes it out of use for good
   * (a free frame leaves the free list; a used folio keeps the reference taken here), and
   * unmaps the folio from every mapping with hwpoison entries inside CLEAR invalidations
   * (try_to_unmap with TTU_HWPOISON); a file folio also leaves the page cache. Later access
   * or GUP with FOLL_HWPOISON there gives -EHWPOISON. The unmapping is done under the folio
   * lock. Returns 0, -EHWPOISON if already
   * poisoned, -ENXIO without struct page, -EBUSY for a reserved or ZONE_DEVICE page.
   * Unlike Linux, a THP is not split first: the whole folio is unmapped.
   */
  public int memoryFailure(long pfn) {
    if (!pfnValid(pfn)) {
      return -Errno.ENXIO;
    }
    if (isHwpoison(pfn)) {
      return -Errno.EHWPOISON;
    }
    if (isReserved(pfn) || isZoneDevice(pfn)) {
      return -Errno.EBUSY;
    }
    setHwpoisonFlag(pfn);
    countHwpoison();
    if (takeOffFreeList(pfn)) {
      return 0;
    }
    long h = folioHead(pfn);
    if (!tryGetFolio(h, false)) {
      return 0;
    }
    clearFolioFlag(h, PG_LRU);
    folioLock(h);
    rmapWalk(h, MmStruct.RmapOp.HWPOISON, 0);
    FolioMapping m = mapping(h);
    if (m != null && !m.isAnon()) {
      ((HostFile) m).removePage(folioIndex(h));
    }
    folioUnlock(h);
    return 0;
  }
}

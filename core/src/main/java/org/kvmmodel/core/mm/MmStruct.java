package org.kvmmodel.core.mm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.sched.Scheduler;

/**
 * A process address space: {@code struct mm_struct} with its VMAs, its stage-1 page table,
 * its {@code mmap_lock} (a read-write lock), its page-table lock {@code ptl} and its
 * mmu_notifier subscriptions. Host operations on it raise invalidations where Linux does,
 * with the page-table change between start and end.
 *
 * <p>Lock order: {@code mmap_lock} → a folio mapping's lock (anon_vma / i_mmap) →
 * {@code ptl}. Notifier start and end are called with no page-table lock held.
 */
public final class MmStruct {

  /** gup_fast could not do it locklessly; the caller falls back to the slow path. */
  public static final long GUP_FAST_FAILED = -1L << 40;

  static final int FAULT_FLAG_WRITE = 1;
  static final int FAULT_FLAG_RETRY_NOWAIT = 2;
  static final int FAULT_FLAG_UNSHARE = 4;
  static final int FAULT_FLAG_INTERRUPTIBLE = 8;

  /** What a reverse-map visit does to the entries of one VMA that map a folio. */
  enum RmapOp {
    /** page_mkclean_one. */
    MKCLEAN,
    /** try_to_unmap_one for reclaim: swap entries for anon, none for file. */
    UNMAP,
    /** try_to_migrate_one. */
    MIGRATE,
    /** try_to_unmap_one with TTU_HWPOISON. */
    HWPOISON,
    /** folio_referenced_one. */
    REFERENCED,
    /** remove_migration_pte. */
    REMOVE_MIGRATION
  }

  private static final int MAX_FAULT_RETRIES = 1000;

  private final HostMemory memory;
  /** The host's page size and page-table geometry. */
  private final HostPageSize geometry;
  /** {@code PAGE_SIZE}, {@code PAGE_SHIFT} and {@code PMD_SIZE} of {@link #geometry}. */
  private final long pageSize;
  private final int pageShift;
  private final long pmdSize;
  private final int id;
  private final PageTable pt;
  private final ConcurrentSkipListMap<Long, Vma> vmas = new ConcurrentSkipListMap<>();
  private final Scheduler scheduler;
  private final SchedLock mmapLock;
  private final SchedLock ptl;
  private final CopyOnWriteArrayList<MmuNotifier> notifiers = new CopyOnWriteArrayList<>();
  /** Replaced whole on every add: taking mmap_lock walks a plain array and allocates nothing. */
  private volatile MmapLockListener[] lockListeners = new MmapLockListener[0];
  private final AtomicLong tlbFlushes = new AtomicLong();
  private volatile boolean signalPending;
  private volatile boolean exited;

  /**
   * The VMA the last lookup found (the old per-mm vmacache): lookups of the same range skip
   * the tree, which boxes its key. Cleared whenever the VMA set or a VMA's bounds change,
   * which happens under mmap_lock held for write.
   */
  private volatile Vma lastVma;

  /** A new, empty address space on {@code memory}, with real locks (free mode). */
  public MmStruct(HostMemory memory) {
    this(memory, FreeScheduler.INSTANCE);
  }

  /**
   * A new, empty address space whose mmap_lock and page-table lock are made by
   * {@code scheduler}, so a deterministic run sees who waits for them.
   */
  public MmStruct(HostMemory memory, Scheduler scheduler) {
    this.memory = memory;
    this.geometry = memory.hostPageSize();
    this.pageSize = geometry.bytes();
    this.pageShift = geometry.shift();
    this.pmdSize = geometry.pmdSize();
    this.pt = new PageTable(geometry);
    this.id = memory.nextMmId();
    this.scheduler = scheduler;
    this.mmapLock = scheduler.newLock("mmap_lock");
    this.ptl = scheduler.newLock("ptl");
  }

  /** The host memory backing this address space. */
  public HostMemory memory() {
    return memory;
  }

  // ---- locks ------------------------------------------------------------------------------

  /**
   * Told of every blocking acquisition of this mm's mmap_lock by the acquiring actor, before it
   * may wait: where {@code down_read} / {@code down_write} call {@code might_sleep()} and
   * lockdep records the acquisition.
   */
  @FunctionalInterface
  public interface MmapLockListener {
    void mmapLock(boolean exclusive);
  }

  /** Adds a listener to this mm's mmap_lock acquisitions. */
  public synchronized void addMmapLockListener(MmapLockListener listener) {
    MmapLockListener[] grown = Arrays.copyOf(lockListeners, lockListeners.length + 1);
    grown[grown.length - 1] = listener;
    lockListeners = grown;
  }

  /** mmap_read_lock. */
  public void mmapReadLock() {
    for (MmapLockListener l : lockListeners) {
      l.mmapLock(false);
    }
    mmapLock.acquireShared();
  }

  /** mmap_read_unlock. */
  public void mmapReadUnlock() {
    mmapLock.releaseShared();
  }

  /** Whether the current thread holds mmap_lock for read or write. */
  public boolean mmapLockHeld() {
    return mmapLock.heldShared() || mmapLock.heldExclusive();
  }

  private void mmapWriteLock() {
    for (MmapLockListener l : lockListeners) {
      l.mmapLock(true);
    }
    mmapLock.acquireExclusive();
  }

  private void mmapWriteUnlock() {
    mmapLock.releaseExclusive();
  }

  private void assertMmapLocked() {
    if (!mmapLockHeld()) {
      throw new IllegalStateException("mmap_lock not held");
    }
  }

  /** Sets or clears a pending signal on the task owning this mm (for FOLL_INTERRUPTIBLE). */
  public void setSignalPending(boolean pending) {
    this.signalPending = pending;
  }

  // ---- notifiers --------------------------------------------------------------------------

  /** mmu_notifier_register: subscribe {@code notifier} to this mm. */
  public void registerNotifier(MmuNotifier notifier) {
    mmapWriteLock();
    try {
      if (exited) {
        throw new IllegalStateException("mm has exited");
      }
      notifiers.add(notifier);
    } finally {
      mmapWriteUnlock();
    }
  }

  /** mmu_notifier_unregister: calls {@code release} on the subscriber, then removes it. */
  public void unregisterNotifier(MmuNotifier notifier) {
    if (notifiers.remove(notifier)) {
      notifier.release(this);
    }
  }

  private int invalidateStart(MmuNotifierRange range) {
    List<MmuNotifier> started = new ArrayList<>();
    for (MmuNotifier n : notifiers) {
      int rc = n.invalidateRangeStart(range);
      if (rc != 0) {
        if (range.blockable() || rc != -Errno.EAGAIN) {
          throw new IllegalStateException(
              String.format(
                  Locale.US, "invalidate_range_start returned %d for %s", rc, range));
        }
        for (MmuNotifier s : started) {
          s.invalidateRangeEnd(range);
        }
        return rc;
      }
      started.add(n);
    }
    return 0;
  }

  private void invalidateEnd(MmuNotifierRange range) {
    for (MmuNotifier n : notifiers) {
      n.invalidateRangeEnd(range);
    }
  }

  private MmuNotifierRange range(long start, long end, MmuNotifierEvent event) {
    return new MmuNotifierRange(this, start, end, event, true);
  }

  /** flush_tlb_range: the host CPUs drop translations of the range. */
  private void flushTlbRange() {
    tlbFlushes.incrementAndGet();
  }

  /** Host TLB flushes issued so far; a notifier can read it to check flush-before-end. */
  public long tlbFlushCount() {
    return tlbFlushes.get();
  }

  // ---- VMAs -------------------------------------------------------------------------------

  /** vma_lookup: the VMA containing {@code address}, or null. Caller holds mmap_lock. */
  public Vma findVma(long address) {
    assertMmapLocked();
    return vmaAt(address);
  }

  /** find_vma_intersection: the lowest VMA overlapping {@code [start, end)}, or null. */
  public Vma findVmaIntersection(long start, long end) {
    assertMmapLocked();
    Vma vma = vmaAt(start);
    if (vma != null) {
      return vma;
    }
    Map.Entry<Long, Vma> next = vmas.higherEntry(start);
    return next != null && next.getKey() < end ? next.getValue() : null;
  }

  private Vma vmaAt(long address) {
    Vma cached = lastVma;
    if (cached != null && cached.start <= address && address < cached.end) {
      return cached;
    }
    Map.Entry<Long, Vma> e = vmas.floorEntry(address);
    Vma found = e != null && e.getValue().end > address ? e.getValue() : null;
    if (found != null) {
      lastVma = found;
    }
    return found;
  }

  /**
   * The IO pfn a VM_PFNMAP VMA maps at {@code address} from its {@code vm_pgoff}, whether or
   * not its fault handler has installed the PTE yet, or -1 when no such VMA covers the address.
   * A lockless read for checks, which must not take mmap_lock.
   */
  public long pfnmapPfn(long address) {
    Vma vma = vmaAt(address);
    return vma != null && vma.has(Vma.VM_PFNMAP) ? vma.linearPageIndex(address) : -1;
  }

  /** Every VMA, in address order (a snapshot). */
  public List<Vma> vmas() {
    mmapReadLock();
    try {
      return List.copyOf(vmas.values());
    } finally {
      mmapReadUnlock();
    }
  }

  /**
   * mmap of anonymous, THP, hugetlb or ZONE_DEVICE memory at the fixed {@code address}
   * (MAP_FIXED_NOREPLACE). A PUD-sized hugetlb mapping is -EINVAL on a host with no such hstate
   * (16 and 64 KiB pages). {@code prot} is {@link Vma#VM_READ} | {@link Vma#VM_WRITE}.
   * Returns {@code address} or a negative errno.
   */
  public long mmap(long address, long length, int prot, VmaKind kind) {
    switch (kind) {
      case ANON:
      case ANON_THP:
        return insertVma(address, length, prot, kind, address >>> pageShift, null);
      case HUGETLB_PMD:
      case HUGETLB_PUD:
        if (kind == VmaKind.HUGETLB_PUD && !geometry.pudLeaves()) {
          return -Errno.EINVAL;
        }
        return insertVma(
            address, length, prot | Vma.VM_HUGETLB, kind, address >>> pageShift, null);
      case ZONE_DEVICE:
        return insertVma(address, length, prot | Vma.VM_SHARED, kind, 0, null);
      default:
        return -Errno.EINVAL;
    }
  }

  /** mmap(MAP_SHARED) of {@code file} from page {@code pgoff}; write-notify applies. */
  public long mmapFile(long address, long length, int prot, HostFile file, long pgoff) {
    if (pgoff < 0 || pgoff + (length >>> pageShift) > file.sizePages()) {
      return -Errno.EINVAL;
    }
    return insertVma(address, length, prot | Vma.VM_SHARED, VmaKind.FILE_SHARED, pgoff, file);
  }

  /**
   * A driver's mmap of IO memory (remap_pfn_range done lazily through its fault handler):
   * a shared VM_IO | VM_PFNMAP VMA mapping IO pfns from {@code pfnBase}.
   */
  public long mmapPfn(long address, long length, int prot, long pfnBase) {
    return mmapPfn(address, length, prot, pfnBase, 0);
  }

  /**
   * As {@link #mmapPfn(long, long, int, long)}, with the extra vm_flags the driver's mmap sets:
   * 0, or {@link Vma#VM_ALLOW_ANY_UNCACHED} as vfio-pci's {@code vfio_pci_core_mmap} sets on a
   * BAR mapping; anything else is -EINVAL.
   */
  public long mmapPfn(long address, long length, int prot, long pfnBase, long driverFlags) {
    long pages = length >>> pageShift;
    if (!memory.isIoPfn(pfnBase) || !memory.isIoPfn(pfnBase + pages - 1)
        || (driverFlags & ~Vma.VM_ALLOW_ANY_UNCACHED) != 0) {
      return -Errno.EINVAL;
    }
    return insertVma(
        address, length, prot | driverFlags | Vma.VM_SHARED | Vma.VM_IO | Vma.VM_PFNMAP,
        VmaKind.PFNMAP, pfnBase, null);
  }

  private long insertVma(
      long address, long length, long flags, VmaKind kind, long pgoff, HostFile file) {
    long align = kind == VmaKind.HUGETLB_PUD ? geometry.pudSize()
        : kind == VmaKind.HUGETLB_PMD ? pmdSize : pageSize;
    if (length <= 0 || (address & (align - 1)) != 0 || (length & (align - 1)) != 0
        || address < 0 || address + length > PageTable.TASK_SIZE
        || (flags & ~(Vma.VM_READ | Vma.VM_WRITE | Vma.VM_SHARED | Vma.VM_IO | Vma.VM_PFNMAP
            | Vma.VM_MIXEDMAP | Vma.VM_HUGETLB | Vma.VM_ALLOW_ANY_UNCACHED)) != 0) {
      return -Errno.EINVAL;
    }
    mmapWriteLock();
    try {
      if (exited) {
        return -Errno.EINVAL;
      }
      Map.Entry<Long, Vma> below = vmas.lowerEntry(address + length);
      if (below != null && below.getValue().end > address) {
        return -Errno.EEXIST;
      }
      boolean anon = kind == VmaKind.ANON || kind == VmaKind.ANON_THP
          || kind == VmaKind.HUGETLB_PMD || kind == VmaKind.HUGETLB_PUD;
      AnonVma av = anon ? memory.createAnonVma() : null;
      Vma vma = new Vma(this, address, address + length, flags, kind, pgoff, file, av);
      link(vma, av == null ? List.of() : List.of(av));
      lastVma = null;
      vmas.put(address, vma);
      return address;
    } finally {
      mmapWriteUnlock();
    }
  }

  private void link(Vma vma, List<AnonVma> chain) {
    for (AnonVma av : chain) {
      synchronized (av.iMmap) {
        av.vmas.add(vma);
      }
      vma.anonVmaChain.add(av);
    }
    if (vma.file != null) {
      synchronized (vma.file.iMmap) {
        vma.file.vmas.add(vma);
      }
    }
  }

  private void unlink(Vma vma) {
    for (AnonVma av : vma.anonVmaChain) {
      synchronized (av.iMmap) {
        av.vmas.remove(vma);
      }
    }
    if (vma.file != null) {
      synchronized (vma.file.iMmap) {
        vma.file.vmas.remove(vma);
      }
    }
  }

  /**
   * __split_vma: splits the VMA containing {@code at} so that a VMA starts there. A THP PMD
   * straddling {@code at} is split first (vma_adjust_trans_huge). The new upper half joins
   * the same reverse-map lists; both halves are updated under their locks.
   */
  private void splitVma(long at) {
    Vma vma = vmaAt(at);
    if (vma == null || vma.start == at) {
      return;
    }
    if (vma.kind == VmaKind.ANON_THP) {
      splitHugePmdAt(vma, at);
    }
    Vma upper = new Vma(this, at, vma.end, vma.flags, vma.kind,
        vma.pgoff + ((at - vma.start) >>> pageShift), vma.file, vma.anonVma);
    List<Object> locks = new ArrayList<>(vma.anonVmaChain);
    if (vma.file != null) {
      locks.add(vma.file);
    }
    lockAll(locks, 0, () -> {
      lastVma = null;
      vma.end = at;
      for (AnonVma av : vma.anonVmaChain) {
        av.vmas.add(upper);
        upper.anonVmaChain.add(av);
      }
      if (vma.file != null) {
        vma.file.vmas.add(upper);
      }
    });
    vmas.put(at, upper);
  }

  private static void lockAll(List<Object> locks, int i, Runnable body) {
    if (i == locks.size()) {
      body.run();
      return;
    }
    synchronized (locks.get(i)) {
      lockAll(locks, i + 1, body);
    }
  }

  private List<Vma> vmasIn(long start, long end) {
    List<Vma> out = new ArrayList<>();
    Map.Entry<Long, Vma> first = vmas.floorEntry(start);
    long from = first != null && first.getValue().end > start ? first.getKey() : start;
    for (Vma v : vmas.subMap(from, true, end, false).values()) {
      out.add(v);
    }
    return out;
  }

  private boolean badRange(long start, long length) {
    return length <= 0 || (start & (pageSize - 1)) != 0 || start < 0
        || start + length > PageTable.TASK_SIZE;
  }

  private static boolean hugetlbMisaligned(List<Vma> list, long start, long end) {
    for (Vma v : list) {
      long size = v.hugePageSize();
      if ((Math.max(start, v.start) & (size - 1)) != 0
          || (Math.min(end, v.end) & (size - 1)) != 0) {
        return true;
      }
    }
    return false;
  }

  // ---- munmap / madvise / mprotect / exit -------------------------------------------------

  /**
   * munmap: removes every mapping in {@code [start, start + length)}. One invalidation of
   * type UNMAP covers the range (unmap_vmas); the folios' references are dropped after the
   * TLB flush (tlb_finish_mmu), which follows the invalidation's end as in Linux.
   */
  public int munmap(long start, long length) {
    long pageLen = (length + pageSize - 1) & ~(pageSize - 1);
    if (badRange(start, pageLen)) {
      return -Errno.EINVAL;
    }
    long end = start + pageLen;
    mmapWriteLock();
    try {
      List<Vma> list = vmasIn(start, end);
      if (list.isEmpty()) {
        return 0;
      }
      if (hugetlbMisaligned(list, start, end)) {
        return -Errno.EINVAL;
      }
      splitVma(start);
      splitVma(end);
      list = vmasIn(start, end);
      MmuGather gather = new MmuGather();
      MmuNotifierRange r = range(start, end, MmuNotifierEvent.UNMAP);
      invalidateStart(r);
      for (Vma v : list) {
        zapVmaRange(v, v.start, v.end, gather);
      }
      invalidateEnd(r);
      flushTlbRange();
      gather.release(memory);
      for (Vma v : list) {
        lastVma = null;
        vmas.remove(v.start);
        unlink(v);
      }
      ptl.acquireExclusive();
      try {
        pt.freeEmptyTables(start, end);
      } finally {
        ptl.releaseExclusive();
      }
      return 0;
    } finally {
      mmapWriteUnlock();
    }
  }

  /**
   * madvise(MADV_DONTNEED): zaps the range, keeping the VMAs (zap_page_range_single with
   * MMU_NOTIFY_CLEAR per VMA). Refused with -EINVAL on VM_PFNMAP / VM_IO VMAs; -ENOMEM when
   * part of the range is unmapped.
   */
  public int madviseDontneed(long start, long length) {
    long pageLen = (length + pageSize - 1) & ~(pageSize - 1);
    if (badRange(start, pageLen)) {
      return -Errno.EINVAL;
    }
    long end = start + pageLen;
    mmapReadLock();
    try {
      List<Vma> list = vmasIn(start, end);
      long covered = start;
      for (Vma v : list) {
        if (v.start > covered) {
          return -Errno.ENOMEM;
        }
        covered = v.end;
        if (v.has(Vma.VM_PFNMAP) || v.has(Vma.VM_IO)) {
          return -Errno.EINVAL;
        }
      }
      if (covered < end) {
        return -Errno.ENOMEM;
      }
      if (hugetlbMisaligned(list, start, end)) {
        return -Errno.EINVAL;
      }
      for (Vma v : list) {
        long s = Math.max(start, v.start);
        long e = Math.min(end, v.end);
        MmuGather gather = new MmuGather();
        MmuNotifierRange r = range(s, e, MmuNotifierEvent.CLEAR);
        invalidateStart(r);
        zapVmaRange(v, s, e, gather);
        invalidateEnd(r);
        flushTlbRange();
        gather.release(memory);
      }
      return 0;
    } finally {
      mmapReadUnlock();
    }
  }

  /**
   * zap_pte_range over one VMA: clears every entry, moving a dirty or young PTE's state into a
   * file folio (anonymous folios need no dirty bit: they are written to swap anyway), and
   * dropping the mapcount. References go to {@code gather}. THP PMDs cut by the range are
   * split first. Caller raised the invalidation.
   */
  private void zapVmaRange(Vma vma, long start, long end, MmuGather gather) {
    if (vma.kind == VmaKind.ANON_THP) {
      splitHugePmdAt(vma, start);
      splitHugePmdAt(vma, end);
    }
    ptl.acquireExclusive();
    try {
      pt.walk(start, end, (a, e) -> {
        if (HostPte.mapsPfn(e) && !HostPte.isSpecial(e)) {
          long pfn = HostPte.pfn(e);
          if (!memory.isAnon(pfn)) {
            if (HostPte.isDirty(e)) {
              memory.setPageDirty(pfn);
            }
            if (HostPte.isYoung(e)) {
              memory.markPageAccessed(pfn);
            }
          }
          memory.addMapcount(pfn, -1);
          gather.add(pfn);
        }
        return 0;
      });
    } finally {
      ptl.releaseExclusive();
    }
  }

  /**
   * __split_huge_pmd: if a THP PMD maps the 2 MiB region around {@code address} and
   * {@code address} is not its start, replace it by 512 PTEs mapping the same folio
   * (mapcount and refcount rise by 511), inside a CLEAR invalidation of the region.
   */
  private void splitHugePmdAt(Vma vma, long address) {
    long haddr = address & ~(pmdSize - 1);
    if (haddr == address || haddr < vma.start || haddr + pmdSize > vma.end) {
      return;
    }
    splitHugePmd(haddr);
  }

  private void splitHugePmd(long haddr) {
    long e = pt.lookup(haddr);
    if (HostPte.level(e) != HostPte.LEVEL_PMD) {
      return;
    }
    MmuNotifierRange r = range(haddr, haddr + pmdSize, MmuNotifierEvent.CLEAR);
    invalidateStart(r);
    ptl.acquireExclusive();
    try {
      long cur = pt.lookup(haddr);
      if (HostPte.level(cur) == HostPte.LEVEL_PMD) {
        pt.set(haddr, HostPte.LEVEL_PMD, 0);
        long base = HostPte.pfn(cur);
        for (int i = 0; i < (1 << geometry.pmdOrder()); i++) {
          long a = haddr + ((long) i << pageShift);
          long sub;
          if (HostPte.mapsPfn(cur)) {
            sub = (cur & ~(3L << 5) & ((1L << 12) - 1)) | (base + i) << 12
                | ((long) HostPte.LEVEL_PTE << 5);
          } else {
            sub = HostPte.makeSwp(HostPte.swpType(cur), base + i, HostPte.LEVEL_PTE, cur);
          }
          pt.set(a, HostPte.LEVEL_PTE, sub);
        }
        if (HostPte.mapsPfn(cur)) {
          memory.addMapping(base, (1 << geometry.pmdOrder()) - 1);
        }
        flushTlbRange();
      }
    } finally {
      ptl.releaseExclusive();
    }
    invalidateEnd(r);
  }

  /**
   * split_huge_pmd_address: if a THP PMD maps {@code address}, replace it by 512 PTEs of
   * the same folio inside a CLEAR invalidation of its 2 MiB region (as when only part of it
   * is to be changed). Returns whether a PMD was split.
   */
  public boolean splitHugePmdAddress(long address) {
    mmapReadLock();
    try {
      Vma vma = vmaAt(address);
      long e = pt.lookup(address);
      if (vma == null || vma.kind != VmaKind.ANON_THP || HostPte.level(e) != HostPte.LEVEL_PMD) {
        return false;
      }
      splitHugePmd(address & ~(pmdSize - 1));
      return HostPte.level(pt.lookup(address)) == HostPte.LEVEL_PTE;
    } finally {
      mmapReadUnlock();
    }
  }

  /**
   * khugepaged's collapse_huge_page for the 2 MiB region around {@code address} of a THP
   * VMA: with mmap_lock held for write, every 4 KiB entry must be empty, the zero page, or
   * an exclusive order-0 anonymous folio with no reference beyond its one mapping (at least
   * one such). A new 2 MiB folio is allocated; a CLEAR invalidation covers the clearing of
   * the PTEs and the flush (pmdp_collapse_flush); after it ends the pages are copied, the
   * old folios released, and a writable dirty PMD installed. Returns 0, -EBUSY when the
   * region does not qualify, -ENOMEM without a free 2 MiB run.
   */
  public int collapseHugePage(long address) {
    long haddr = address & ~(pmdSize - 1);
    mmapWriteLock();
    try {
      Vma vma = vmaAt(haddr);
      if (vma == null || vma.kind != VmaKind.ANON_THP || haddr + pmdSize > vma.end
          || HostPte.level(pt.lookup(haddr)) == HostPte.LEVEL_PMD) {
        return -Errno.EBUSY;
      }
      int[] seen = new int[2];
      ptl.acquireExclusive();
      try {
        pt.walk(haddr, haddr + pmdSize, (a, e) -> {
          if (HostPte.isSpecial(e) && HostPte.isPresent(e) && memory.isZeroPfn(HostPte.pfn(e))) {
            return e;
          }
          long pfn = HostPte.pfn(e);
          if (!HostPte.isPresent(e) || HostPte.isSpecial(e) || memory.folioOrder(pfn) != 0
              || !memory.isAnon(pfn) || memory.isPinned(pfn) || memory.mapcount(pfn) != 1
              || memory.refcount(pfn) != 1) {
            seen[1]++;
          } else {
            seen[0]++;
          }
          return e;
        });
      } finally {
        ptl.releaseExclusive();
      }
      if (seen[1] > 0 || seen[0] == 0) {
        return -Errno.EBUSY;
      }
      long thp = newAnonFolio(vma, haddr, geometry.pmdOrder(), vma.kind);
      if (thp < 0) {
        return -Errno.ENOMEM;
      }
      MmuGather gather = new MmuGather();
      MmuNotifierRange r = range(haddr, haddr + pmdSize, MmuNotifierEvent.CLEAR);
      invalidateStart(r);
      ptl.acquireExclusive();
      try {
        pt.walk(haddr, haddr + pmdSize, (a, e) -> {
          if (!HostPte.isSpecial(e)) {
            memory.addMapcount(HostPte.pfn(e), -1);
            gather.add(HostPte.pfn(e));
          }
          return 0;
        });
        flushTlbRange();
      } finally {
        ptl.releaseExclusive();
      }
      invalidateEnd(r);
      gather.release(memory);
      ptl.acquireExclusive();
      try {
        long bits = HostPte.YOUNG | (vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
        pt.set(haddr, HostPte.LEVEL_PMD, HostPte.make(thp, HostPte.LEVEL_PMD, bits));
        memory.addMapcount(thp, 1);
      } finally {
        ptl.releaseExclusive();
      }
      return 0;
    } finally {
      mmapWriteUnlock();
    }
  }

  /**
   * mprotect: sets VM_READ / VM_WRITE on the range, splitting VMAs at its edges. Removing
   * write permission write-protects the entries (and turns write migration entries into read
   * ones); removing read makes them PROT_NONE. No entry gains write permission: the next
   * write fault decides. Raises PROTECTION_VMA for each VMA with page tables in the range.
   */
  public int mprotect(long start, long length, int prot) {
    long pageLen = (length + pageSize - 1) & ~(pageSize - 1);
    if (badRange(start, pageLen) || (prot & ~(Vma.VM_READ | Vma.VM_WRITE)) != 0) {
      return -Errno.EINVAL;
    }
    long end = start + pageLen;
    mmapWriteLock();
    try {
      List<Vma> list = vmasIn(start, end);
      long covered = start;
      for (Vma v : list) {
        if (v.start > covered) {
          return -Errno.ENOMEM;
        }
        covered = v.end;
      }
      if (list.isEmpty() || covered < end) {
        return -Errno.ENOMEM;
      }
      if (hugetlbMisaligned(list, start, end)) {
        return -Errno.EINVAL;
      }
      splitVma(start);
      splitVma(end);
      for (Vma v : vmasIn(start, end)) {
        v.flags = (v.flags & ~(Vma.VM_READ | Vma.VM_WRITE)) | prot;
        if (!hasEntries(v.start, v.end)) {
          continue;
        }
        MmuNotifierRange r = range(v.start, v.end, MmuNotifierEvent.PROTECTION_VMA);
        invalidateStart(r);
        boolean canRead = (prot & Vma.VM_READ) != 0;
        boolean canWrite = (prot & Vma.VM_WRITE) != 0;
        ptl.acquireExclusive();
        try {
          pt.walk(v.start, v.end, (a, e) -> {
            long n = e;
            if (HostPte.mapsPfn(e)) {
              if (!canWrite) {
                n &= ~HostPte.WRITE;
              }
              if (!canRead) {
                n = (n & ~HostPte.PRESENT) | HostPte.PROTNONE;
              } else if (HostPte.isProtNone(n)) {
                n = (n & ~HostPte.PROTNONE) | HostPte.PRESENT;
              }
            } else if (HostPte.isMigrationWrite(e) && !canWrite) {
              n = HostPte.makeSwp(
                  HostPte.SWP_MIGRATION_READ, HostPte.pfn(e), HostPte.level(e), e);
            }
            return n;
          });
          flushTlbRange();
        } finally {
          ptl.releaseExclusive();
        }
        invalidateEnd(r);
      }
      return 0;
    } finally {
      mmapWriteUnlock();
    }
  }

  private boolean hasEntries(long start, long end) {
    boolean[] any = new boolean[1];
    ptl.acquireExclusive();
    try {
      pt.walk(start, end, (a, e) -> {
        any[0] = true;
        return e;
      });
    } finally {
      ptl.releaseExclusive();
    }
    return any[0];
  }

  /**
   * exit_mmap: calls every subscriber's {@code release} (mmu_notifier_release) and drops the
   * subscriptions, then unmaps everything and frees the page tables.
   */
  public void exitMmap() {
    for (MmuNotifier n : notifiers) {
      n.release(this);
    }
    notifiers.clear();
    mmapWriteLock();
    try {
      exited = true;
      List<Vma> list = new ArrayList<>(vmas.values());
      if (!list.isEmpty()) {
        MmuGather gather = new MmuGather();
        MmuNotifierRange r = range(0, PageTable.TASK_SIZE, MmuNotifierEvent.UNMAP);
        invalidateStart(r);
        for (Vma v : list) {
          zapVmaRange(v, v.start, v.end, gather);
        }
        invalidateEnd(r);
        flushTlbRange();
        gather.release(memory);
      }
      for (Vma v : list) {
        unlink(v);
      }
      lastVma = null;
      vmas.clear();
      ptl.acquireExclusive();
      try {
        pt.freeEmptyTables(0, PageTable.TASK_SIZE);
      } finally {
        ptl.releaseExclusive();
      }
    } finally {
      mmapWriteUnlock();
    }
  }

  /**
   * The OOM reaper (__oom_reap_task_mm): with mmap_lock taken for read only if it is free,
   * unmaps the private memory of a dying task without sleeping. Each private VMA (not
   * hugetlb, not PFNMAP) gets a non-blockable UNMAP invalidation; when a subscriber answers
   * -EAGAIN the VMA is skipped and the reaper must come back. Returns whether every VMA
   * was reaped.
   */
  public boolean oomReap() {
    if (!mmapLock.tryAcquireShared()) {
      return false;
    }
    try {
      boolean all = true;
      for (Vma v : vmas.values()) {
        if (v.has(Vma.VM_HUGETLB | Vma.VM_PFNMAP) || v.has(Vma.VM_SHARED)) {
          continue;
        }
        MmuNotifierRange r =
            new MmuNotifierRange(this, v.start, v.end, MmuNotifierEvent.UNMAP, false);
        if (invalidateStart(r) != 0) {
          all = false;
          continue;
        }
        MmuGather gather = new MmuGather();
        zapVmaRange(v, v.start, v.end, gather);
        invalidateEnd(r);
        flushTlbRange();
        gather.release(memory);
      }
      return all;
    } finally {
      mmapLock.releaseShared();
    }
  }

  /** Whether {@link #exitMmap} has run. */
  public boolean hasExited() {
    return exited;
  }

  /** Linked PTE tables (4 KiB of entries each). */
  public long pteTableCount() {
    ptl.acquireExclusive();
    try {
      return pt.pteTableCount();
    } finally {
      ptl.releaseExclusive();
    }
  }

  // ---- fork -------------------------------------------------------------------------------

  /**
   * fork's dup_mmap: a child address space with a copy of every VMA. copy_page_range copies
   * entries of private anonymous, hugetlb and PFNMAP VMAs (others refault in the child). For a
   * copy-on-write VMA the parent raises PROTECTION_PAGE around the copy, and writable entries
   * are write-protected in both; the child's entries are old. A folio that may be DMA-pinned
   * is copied for the child at once (copy_present_page) so the pin stays coherent.
   */
  public MmStruct fork() {
    MmStruct child = new MmStruct(memory, scheduler);
    mmapWriteLock();
    try {
      if (exited) {
        throw new IllegalStateException("fork of an exited mm");
      }
      for (Vma v : vmas.values()) {
        AnonVma own = v.anonVma == null ? null : memory.createAnonVma();
        Vma c = new Vma(child, v.start, v.end, v.flags, v.kind, v.pgoff, v.file, own);
        List<AnonVma> chain = new ArrayList<>(v.anonVmaChain);
        if (own != null) {
          chain.add(own);
        }
        child.link(c, chain);
        child.vmas.put(c.start, c);
        boolean copy = v.anonVma != null || v.kind == VmaKind.PFNMAP;
        if (copy) {
          copyPageRange(child, v);
        }
      }
      return child;
    } finally {
      mmapWriteUnlock();
    }
  }

  private void copyPageRange(MmStruct child, Vma v) {
    boolean cow = v.isCowMapping();
    if (cow && v.kind == VmaKind.ANON_THP) {
      for (long a = v.start; a < v.end; a += pmdSize) {
        long e = pt.lookup(a);
        if (HostPte.level(e) == HostPte.LEVEL_PMD && HostPte.mapsPfn(e)
            && memory.isPinned(HostPte.pfn(e))) {
          splitHugePmd(a & ~(pmdSize - 1));
        }
      }
    }
    MmuNotifierRange r = cow ? range(v.start, v.end, MmuNotifierEvent.PROTECTION_PAGE) : null;
    if (r != null) {
      invalidateStart(r);
    }
    List<long[]> copies = new ArrayList<>();
    ptl.acquireExclusive();
    child.ptl.acquireExclusive();
    try {
      pt.walk(v.start, v.end, (a, e) -> {
        int level = HostPte.level(e);
        if (HostPte.mapsPfn(e)) {
          long pfn = HostPte.pfn(e);
          if (!HostPte.isSpecial(e) && cow && memory.isPinned(pfn)) {
            copies.add(new long[] {a, e});
            return e;
          }
          long src = e;
          if (cow) {
            src &= ~HostPte.WRITE;
            if (!HostPte.isSpecial(e)) {
              if (level == HostPte.LEVEL_PTE) {
                memory.clearPageFlag(pfn, HostMemory.PG_ANON_EXCLUSIVE);
              } else {
                memory.setPageFlagOnFolio(pfn, HostMemory.PG_ANON_EXCLUSIVE, false);
              }
            }
          }
          long dst = src & ~HostPte.YOUNG;
          if (v.has(Vma.VM_SHARED)) {
            dst &= ~HostPte.DIRTY;
          }
          if (!HostPte.isSpecial(e)) {
            memory.addMapping(pfn, 1);
          }
          child.pt.set(a, level, dst);
          return src;
        }
        long n = e;
        if (HostPte.isMigrationWrite(e) && cow) {
          n = HostPte.makeSwp(HostPte.SWP_MIGRATION_READ, HostPte.pfn(e), level, e);
        }
        child.pt.set(a, level, n);
        return n;
      });
      if (r != null) {
        flushTlbRange();
      }
    } finally {
      child.ptl.releaseExclusive();
      ptl.releaseExclusive();
    }
    for (long[] c : copies) {
      copyPinnedForChild(child, v, c[0], c[1]);
    }
    if (r != null) {
      invalidateEnd(r);
    }
  }

  /** copy_present_page: the child gets its own copy of a pinned folio, mapped writable. */
  private void copyPinnedForChild(MmStruct child, Vma v, long a, long e) {
    int level = HostPte.level(e);
    int order = level == HostPte.LEVEL_PUD ? geometry.pudOrder()
        : level == HostPte.LEVEL_PMD ? geometry.pmdOrder() : 0;
    long pfn = newAnonFolio(child.vmaAt(a), a, order, v.kind);
    if (pfn < 0) {
      return;
    }
    long bits = HostPte.YOUNG | HostPte.DIRTY | (v.has(Vma.VM_WRITE) ? HostPte.WRITE : 0);
    child.ptl.acquireExclusive();
    try {
      child.pt.set(a, level, HostPte.make(pfn, level, bits));
      memory.addMapcount(pfn, 1);
    } finally {
      child.ptl.releaseExclusive();
    }
  }

  /**
   * Allocates an anonymous folio for {@code vma} at {@code address}: anon, uptodate,
   * exclusive, owned by the VMA's anon_vma, then put on the LRU (for hugetlb: the active
   * list) once its mapping is set, so an isolator never sees it half-made.
   * Returns the pfn with one reference (to become the mapping's), or -1.
   */
  private long newAnonFolio(Vma vma, long address, int order, VmaKind kind) {
    boolean hugetlb = kind == VmaKind.HUGETLB_PMD || kind == VmaKind.HUGETLB_PUD;
    int flags = HostMemory.PG_ANON | HostMemory.PG_UPTODATE | HostMemory.PG_ANON_EXCLUSIVE
        | (hugetlb ? HostMemory.PG_HUGETLB : 0);
    long pfn = memory.allocFolio(order, flags);
    if (pfn >= 0) {
      long base = address & ~((pageSize << order) - 1);
      memory.setOwner(pfn, vma.anonVma.id, vma.linearPageIndex(base));
      memory.setFolioFlag(pfn, HostMemory.PG_LRU);
    }
    return pfn;
  }

  // ---- page faults ------------------------------------------------------------------------

  /**
   * handle_mm_fault for {@code address} in {@code vma}, caller holding mmap_lock for read.
   * Returns 0 when the caller should look at the entry again, or a negative errno: -EFAULT
   * (SIGBUS/SIGSEGV), -EHWPOISON, -ENOMEM, -EAGAIN (page under migration, or IO needed and
   * the fault may not wait), -EINTR (IO needed with a signal pending and the fault
   * interruptible).
   */
  int handleMmFault(Vma vma, long address, int faultFlags) {
    boolean write = (faultFlags & FAULT_FLAG_WRITE) != 0;
    boolean unshare = (faultFlags & FAULT_FLAG_UNSHARE) != 0;
    long e = pt.lookup(address);
    if (e == 0) {
      return faultNone(vma, address, faultFlags);
    }
    if (!HostPte.mapsPfn(e)) {
      if (HostPte.isMigration(e)) {
        return -Errno.EAGAIN;
      }
      if (HostPte.isHwpoison(e)) {
        return -Errno.EHWPOISON;
      }
      return doSwapPage(vma, address, e, faultFlags);
    }
    if (HostPte.isProtNone(e)) {
      return vma.has(Vma.VM_READ) ? doNumaPage(address, e) : -Errno.EFAULT;
    }
    if ((write && !HostPte.isWritable(e)) || unshare) {
      return doWpPage(vma, address, e, write);
    }
    return 0;
  }

  /**
   * do_numa_page / do_huge_pmd_numa_page: a NUMA-hinting fault on a PROT_NONE entry of an
   * accessible VMA. The model has one node, so the folio is never misplaced: the entry is
   * made present again with the write permission it had, and young.
   */
  private int doNumaPage(long address, long e) {
    long base = address & ~(geometry.levelSize(HostPte.level(e)) - 1);
    ptl.acquireExclusive();
    try {
      if (pt.lookup(base) == e) {
        pt.set(base, HostPte.level(e),
            (e & ~HostPte.PROTNONE) | HostPte.PRESENT | HostPte.YOUNG);
      }
    } finally {
      ptl.releaseExclusive();
    }
    return 0;
  }

  private int faultNone(Vma vma, long address, int faultFlags) {
    boolean write = (faultFlags & FAULT_FLAG_WRITE) != 0;
    switch (vma.kind) {
      case ANON:
        return doAnonymousPage(vma, address, write);
      case ANON_THP:
        int rc = doHugePmdAnonymousPage(vma, address);
        return rc == 1 ? doAnonymousPage(vma, address, write) : rc;
      case HUGETLB_PMD:
      case HUGETLB_PUD:
        return hugetlbNoPage(vma, address, write);
      case FILE_SHARED:
        return doSharedFault(vma, address, faultFlags);
      case PFNMAP:
        return pfnmapFault(vma, address, write);
      case ZONE_DEVICE:
        return deviceFault(vma, address, write);
      default:
        throw new IllegalStateException("unknown VMA kind " + vma.kind);
    }
  }

  /** do_anonymous_page: the zero page for a read, a new exclusive folio for a write. */
  private int doAnonymousPage(Vma vma, long address, boolean write) {
    long a = address & ~(pageSize - 1);
    if (!write) {
      ptl.acquireExclusive();
      try {
        if (pt.lookup(a) == 0) {
          pt.set(a, HostPte.LEVEL_PTE,
              HostPte.make(memory.zeroPfn(), HostPte.LEVEL_PTE, HostPte.SPECIAL));
        }
      } finally {
        ptl.releaseExclusive();
      }
      return 0;
    }
    long pfn = newAnonFolio(vma, a, 0, vma.kind);
    if (pfn < 0) {
      return -Errno.ENOMEM;
    }
    long bits = HostPte.YOUNG | (vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
    return finishFault(a, HostPte.LEVEL_PTE, pfn, bits);
  }

  /**
   * finish_fault / set_pte_range: installs {@code pfn} at {@code address} under the page-table
   * lock unless another fault mapped something there first, in which case this fault's
   * reference on the folio is dropped. Returns 0 either way: the access is retried.
   */
  private int finishFault(long address, int level, long pfn, long bits) {
    if (!setPteRange(address, level, pfn, bits)) {
      memory.putPage(pfn);
    }
    return 0;
  }

  /**
   * The mapping step of finish_fault: under the page-table lock, installs {@code pfn} with
   * the fault's reference unless the entry is no longer empty. Returns whether it did.
   */
  private boolean setPteRange(long address, int level, long pfn, long bits) {
    ptl.acquireExclusive();
    try {
      if (pt.lookup(address) == 0) {
        pt.set(address, level, HostPte.make(pfn, level, bits));
        memory.addMapcount(pfn, 1);
        return true;
      }
      return false;
    } finally {
      ptl.releaseExclusive();
    }
  }

  /**
   * do_huge_pmd_anonymous_page: a 2 MiB folio mapped by a PMD when the aligned region lies in
   * the VMA and nothing is mapped there (transparent_hugepage/use_zero_page off). Returns 1 to
   * fall back to 4 KiB pages.
   */
  private int doHugePmdAnonymousPage(Vma vma, long address) {
    long haddr = address & ~(pmdSize - 1);
    if (haddr < vma.start || haddr + pmdSize > vma.end || !pt.pmdRegionEmpty(haddr)) {
      return 1;
    }
    long pfn = newAnonFolio(vma, haddr, geometry.pmdOrder(), vma.kind);
    if (pfn < 0) {
      return 1;
    }
    ptl.acquireExclusive();
    try {
      if (pt.pmdRegionEmpty(haddr)) {
        long bits = HostPte.YOUNG | (vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
        pt.set(haddr, HostPte.LEVEL_PMD, HostPte.make(pfn, HostPte.LEVEL_PMD, bits));
        memory.addMapcount(pfn, 1);
        return 0;
      }
    } finally {
      ptl.releaseExclusive();
    }
    memory.putPage(pfn);
    return 0;
  }

  /**
   * hugetlb_no_page for a private mapping: a new huge folio, read-only for a read fault,
   * writable and dirty for a write (hugetlb_wp reusing the exclusive folio). An empty pool
   * is SIGBUS.
   */
  private int hugetlbNoPage(Vma vma, long address, boolean write) {
    long size = vma.hugePageSize();
    long haddr = address & ~(size - 1);
    int level = size == geometry.pudSize() ? HostPte.LEVEL_PUD : HostPte.LEVEL_PMD;
    int order = level == HostPte.LEVEL_PUD ? geometry.pudOrder() : geometry.pmdOrder();
    long pfn = newAnonFolio(vma, haddr, order, vma.kind);
    if (pfn < 0) {
      return -Errno.EFAULT;
    }
    long bits = HostPte.YOUNG
        | (write && vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
    return finishFault(haddr, level, pfn, bits);
  }

  /**
   * do_read_fault / do_shared_fault on a shared file mapping: finds or reads the page-cache
   * folio (IO) and locks it, as filemap_fault returns it; a folio that left the file while the
   * fault waited for its lock is dropped and the fault retried. A read maps it read-only and
   * clean (write-notify) and unlocks it. A write unlocks it for page_mkwrite, which locks it
   * again and dirties it ({@link #doPageMkwrite}), maps it writable and dirty, and ends with
   * fault_dirty_shared_page, which dirties it once more and unlocks it: writeback, which
   * cleans under the folio lock, thus either cleans before this fault dirties or after it has
   * mapped the page writable, when page_mkclean write-protects the entry again.
   */
  private int doSharedFault(Vma vma, long address, int faultFlags) {
    long a = address & ~(pageSize - 1);
    long pgoff = vma.linearPageIndex(a);
    if (pgoff >= vma.file.sizePages()) {
      return -Errno.EFAULT;
    }
    long pfn = vma.file.findGet(pgoff);
    if (pfn < 0) {
      if ((faultFlags & FAULT_FLAG_RETRY_NOWAIT) != 0) {
        return -Errno.EAGAIN;
      }
      if ((faultFlags & FAULT_FLAG_INTERRUPTIBLE) != 0 && signalPending) {
        return -Errno.EINTR;
      }
      pfn = vma.file.readPageGet(pgoff);
      if (pfn < 0) {
        return -Errno.ENOMEM;
      }
    }
    memory.folioLock(pfn);
    if (memory.mapping(pfn) != vma.file) {
      memory.folioUnlock(pfn);
      memory.putPage(pfn);
      return 0;
    }
    boolean write = (faultFlags & FAULT_FLAG_WRITE) != 0;
    if (!write || !vma.has(Vma.VM_WRITE)) {
      boolean mapped = setPteRange(a, HostPte.LEVEL_PTE, pfn, HostPte.YOUNG);
      memory.folioUnlock(pfn);
      if (!mapped) {
        memory.putPage(pfn);
      }
      return 0;
    }
    memory.folioUnlock(pfn);
    if (!doPageMkwrite(vma, pfn)) {
      memory.putPage(pfn);
      return 0;
    }
    if (!setPteRange(a, HostPte.LEVEL_PTE, pfn, HostPte.YOUNG | HostPte.WRITE | HostPte.DIRTY)) {
      memory.folioUnlock(pfn);
      memory.putPage(pfn);
      return 0;
    }
    faultDirtySharedPage(pfn);
    return 0;
  }

  /**
   * do_page_mkwrite with the file's page_mkwrite (filemap_page_mkwrite): locks the folio, and
   * if it is still the file's marks it dirty and returns true with the folio locked
   * (VM_FAULT_LOCKED); if it was migrated or removed meanwhile, unlocks it and returns false
   * (VM_FAULT_NOPAGE, the fault is retried). The model's backing store does not ask for
   * stable pages, so folio_wait_stable does not wait for writeback.
   */
  private boolean doPageMkwrite(Vma vma, long pfn) {
    memory.folioLock(pfn);
    if (memory.mapping(pfn) != vma.file) {
      memory.folioUnlock(pfn);
      return false;
    }
    memory.setPageDirty(pfn);
    return true;
  }

  /**
   * fault_dirty_shared_page: marks the locked folio a write fault mapped writable dirty, then
   * unlocks it.
   */
  private void faultDirtySharedPage(long pfn) {
    memory.setPageDirty(pfn);
    memory.folioUnlock(pfn);
  }

  /** A PFNMAP driver's vm_ops->fault: vmf_insert_pfn of the IO pfn, a special entry. */
  private int pfnmapFault(Vma vma, long address, boolean write) {
    long a = address & ~(pageSize - 1);
    long pfn = vma.linearPageIndex(a);
    ptl.acquireExclusive();
    try {
      if (pt.lookup(a) == 0) {
        long bits = HostPte.SPECIAL | HostPte.YOUNG
            | (vma.has(Vma.VM_WRITE) ? HostPte.WRITE : 0)
            | (write ? HostPte.DIRTY : 0);
        pt.set(a, HostPte.LEVEL_PTE, HostPte.make(pfn, HostPte.LEVEL_PTE, bits));
      }
    } finally {
      ptl.releaseExclusive();
    }
    return 0;
  }

  /** A ZONE_DEVICE mapping's fault: a device page from the driver's pool, mapped shared. */
  private int deviceFault(Vma vma, long address, boolean write) {
    long a = address & ~(pageSize - 1);
    long pfn = memory.allocDevicePage(HostMemory.PG_UPTODATE);
    if (pfn < 0) {
      return -Errno.EFAULT;
    }
    long bits = HostPte.YOUNG
        | (vma.has(Vma.VM_WRITE) ? HostPte.WRITE : 0)
        | (write ? HostPte.DIRTY : 0);
    return finishFault(a, HostPte.LEVEL_PTE, pfn, bits);
  }

  /**
   * do_swap_page: reading the page back is IO; the data lands in a newly allocated exclusive
   * folio (its identity is not the one swapped out), writable only for a write fault.
   */
  private int doSwapPage(Vma vma, long address, long entry, int faultFlags) {
    if ((faultFlags & FAULT_FLAG_RETRY_NOWAIT) != 0) {
      return -Errno.EAGAIN;
    }
    if ((faultFlags & FAULT_FLAG_INTERRUPTIBLE) != 0 && signalPending) {
      return -Errno.EINTR;
    }
    long a = address & ~(pageSize - 1);
    long pfn = newAnonFolio(vma, a, 0, vma.kind);
    if (pfn < 0) {
      return -Errno.ENOMEM;
    }
    boolean write = (faultFlags & FAULT_FLAG_WRITE) != 0;
    ptl.acquireExclusive();
    try {
      if (pt.lookup(a) == entry) {
        long bits = HostPte.YOUNG
            | (write && vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
        pt.set(a, HostPte.LEVEL_PTE, HostPte.make(pfn, HostPte.LEVEL_PTE, bits));
        memory.addMapcount(pfn, 1);
        memory.countSwapIn();
        return 0;
      }
    } finally {
      ptl.releaseExclusive();
    }
    memory.putPage(pfn);
    return 0;
  }

  /**
   * do_wp_page (and do_huge_pmd_wp_page, hugetlb_wp): a write (or a FOLL_PIN unshare) to a
   * read-only entry. Shared mappings get write permission (page_mkwrite for files). Private
   * ones reuse an exclusive folio, or one only this entry references; otherwise the page is
   * copied (wp_page_copy) inside a CLEAR invalidation. A shared PMD-mapped THP is split and
   * its 4 KiB page copied.
   */
  private int doWpPage(Vma vma, long address, long e, boolean write) {
    int level = HostPte.level(e);
    long size = geometry.levelSize(level);
    long base = address & ~(size - 1);
    if (!vma.isCowMapping()) {
      if (!write || !vma.has(Vma.VM_WRITE)) {
        return -Errno.EFAULT;
      }
      return HostPte.isSpecial(e) ? wpPfnShared(base, level, e) : wpPageShared(vma, base, level, e);
    }
    long pfn = HostPte.pfn(e) + ((address - base) >>> pageShift);
    boolean zero = HostPte.isSpecial(e) && memory.isZeroPfn(HostPte.pfn(e));
    if (!zero) {
      long head = memory.folioHead(pfn);
      boolean small = memory.folioOrder(head) == 0;
      boolean exclusive = memory.isAnonExclusive(HostPte.pfn(e));
      boolean soleUser = memory.refcount(head) == 1 && memory.mapcount(head) == 1
          && (small || level != HostPte.LEVEL_PTE);
      if (exclusive || soleUser) {
        ptl.acquireExclusive();
        try {
          if (pt.lookup(base) == e) {
            if (!exclusive) {
              memory.setPageFlagOnFolio(head, HostMemory.PG_ANON_EXCLUSIVE, true);
            }
            if (write && vma.has(Vma.VM_WRITE)) {
              pt.set(base, level, e | HostPte.WRITE | HostPte.DIRTY | HostPte.YOUNG);
            }
          }
        } finally {
          ptl.releaseExclusive();
        }
        return 0;
      }
      if (level == HostPte.LEVEL_PMD && !memory.isHugetlb(head)) {
        splitHugePmd(base);
        return 0;
      }
    }
    return wpPageCopy(vma, address, e, write);
  }

  /** wp_pfn_shared: a special entry of a shared mapping has no folio; it is made writable. */
  private int wpPfnShared(long base, int level, long e) {
    ptl.acquireExclusive();
    try {
      if (pt.lookup(base) == e) {
        wpPageReuse(base, level, e);
      }
    } finally {
      ptl.releaseExclusive();
    }
    return 0;
  }

  /**
   * wp_page_shared: a write to a read-only entry of a shared mapping of a folio. With the
   * entry still current under the page-table lock the folio gets a reference. A file mapping
   * runs page_mkwrite without the page-table lock ({@link #doPageMkwrite}: folio locked and
   * dirtied), then finish_mkwrite_fault re-takes the page-table lock and, if the entry did not
   * change meanwhile, wp_page_reuse makes it writable; a mapping without page_mkwrite reuses
   * the entry first and locks the folio after. Either way fault_dirty_shared_page dirties and
   * unlocks the folio.
   */
  private int wpPageShared(Vma vma, long base, int level, long e) {
    long pfn = HostPte.pfn(e);
    boolean mkwrite = vma.kind == VmaKind.FILE_SHARED;
    ptl.acquireExclusive();
    try {
      if (pt.lookup(base) != e) {
        return 0;
      }
      memory.getPage(pfn);
      if (!mkwrite) {
        wpPageReuse(base, level, e);
      }
    } finally {
      ptl.releaseExclusive();
    }
    if (mkwrite) {
      if (!doPageMkwrite(vma, pfn)) {
        memory.putPage(pfn);
        return 0;
      }
      if (!finishMkwriteFault(base, level, e)) {
        memory.folioUnlock(pfn);
        memory.putPage(pfn);
        return 0;
      }
    } else {
      memory.folioLock(pfn);
    }
    faultDirtySharedPage(pfn);
    memory.putPage(pfn);
    return 0;
  }

  /**
   * finish_mkwrite_fault: after page_mkwrite, under the page-table lock, reuses the entry if it
   * is still {@code e}; returns false if it changed (the fault is retried).
   */
  private boolean finishMkwriteFault(long base, int level, long e) {
    ptl.acquireExclusive();
    try {
      if (pt.lookup(base) != e) {
        return false;
      }
      wpPageReuse(base, level, e);
      return true;
    } finally {
      ptl.releaseExclusive();
    }
  }

  /** wp_page_reuse: the entry, under the page-table lock, becomes writable, dirty and young. */
  private void wpPageReuse(long base, int level, long e) {
    pt.set(base, level, e | HostPte.WRITE | HostPte.DIRTY | HostPte.YOUNG);
  }

  private int wpPageCopy(Vma vma, long address, long e, boolean write) {
    int level = HostPte.level(e);
    long size = geometry.levelSize(level);
    long base = address & ~(size - 1);
    int order = level == HostPte.LEVEL_PUD ? geometry.pudOrder()
        : level == HostPte.LEVEL_PMD ? geometry.pmdOrder() : 0;
    long pfn = newAnonFolio(vma, base, order, vma.kind);
    if (pfn < 0) {
      return order == 0 ? -Errno.ENOMEM : -Errno.EFAULT;
    }
    MmuNotifierRange r = range(base, base + size, MmuNotifierEvent.CLEAR);
    invalidateStart(r);
    boolean installed = false;
    ptl.acquireExclusive();
    try {
      if (pt.lookup(base) == e) {
        long bits = HostPte.YOUNG
            | (write && vma.has(Vma.VM_WRITE) ? HostPte.WRITE | HostPte.DIRTY : 0);
        pt.set(base, level, HostPte.make(pfn, level, bits));
        memory.addMapcount(pfn, 1);
        flushTlbRange();
        if (!HostPte.isSpecial(e)) {
          memory.addMapping(HostPte.pfn(e), -1);
        }
        installed = true;
      }
    } finally {
      ptl.releaseExclusive();
    }
    invalidateEnd(r);
    if (!installed) {
      memory.putPage(pfn);
    }
    return 0;
  }

  // ---- user accesses ----------------------------------------------------------------------

  /**
   * A load by the owning process: faults the page in as needed, then sets the entry young
   * as the CPU does. Returns 0, or a negative errno for the signal the access would raise
   * (-EFAULT for SIGSEGV/SIGBUS, -EHWPOISON for a poisoned page, -EAGAIN while the page is
   * under migration, where the task would sleep in migration_entry_wait).
   */
  public int userRead(long address) {
    return userAccess(address, false, null);
  }

  /** A store by the owning process; sets the entry young and dirty. See {@link #userRead}. */
  public int userWrite(long address) {
    return userAccess(address, true, null);
  }

  /**
   * A store on the process's behalf by the kernel ({@code copy_to_user}): faults the page in
   * exactly as {@link #userWrite} does, and hands {@code store} the frame the data lands in at
   * the instant it lands, while the entry that translates it is still the one observed.
   */
  public int userWrite(long address, LongConsumer store) {
    return userAccess(address, true, store);
  }

  /*
   * The accessed and dirty bits are set with a compare-and-swap, as the MMU does, but under
   * the page-table lock: the model's page-table walkers rewrite entries with plain stores
   * under that lock, so taking it here is what keeps a concurrent walker from losing a bit.
   */
  private int userAccess(long address, boolean write, LongConsumer store) {
    mmapReadLock();
    try {
      Vma vma = vmaAt(address);
      if (vma == null || !vma.has(write ? Vma.VM_WRITE : Vma.VM_READ)) {
        return -Errno.EFAULT;
      }
      for (int attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
        long e = pt.lookup(address);
        if (HostPte.isPresent(e) && (!write || HostPte.isWritable(e))) {
          long set = HostPte.YOUNG | (write ? HostPte.DIRTY : 0);
          if ((e & set) == set) {
            stored(store, e, address);
            return 0;
          }
          ptl.acquireExclusive();
          try {
            if (pt.compareAndSet(address, e, e | set)) {
              stored(store, e, address);
              return 0;
            }
          } finally {
            ptl.releaseExclusive();
          }
          continue;
        }
        int rc = handleMmFault(vma, address, write ? FAULT_FLAG_WRITE : 0);
        if (rc < 0) {
          return rc;
        }
      }
      throw new IllegalStateException(
          String.format(Locale.US, "fault at 0x%x did not settle", address));
    } finally {
      mmapReadUnlock();
    }
  }

  private void stored(LongConsumer store, long e, long address) {
    if (store != null) {
      store.accept(subPfn(e, address));
    }
  }

  /** The current stage-1 entry translating {@code address} (lockless read), 0 if none. */
  public long hostPte(long address) {
    return pt.lookup(address);
  }

  // ---- GUP --------------------------------------------------------------------------------

  private static final long NEED_FAULT = Long.MIN_VALUE;
  private static final long NEED_UNSHARE = Long.MIN_VALUE + 1;

  /**
   * get_user_page_fast_only / pin_user_pages_fast: a lockless walk that succeeds only on a
   * present, non-special entry, writable if FOLL_WRITE is set, whose folio it can reference
   * (or pin, with FOLL_PIN) and whose entry is unchanged afterwards. Returns the pfn with the
   * reference or pin taken, else {@link #GUP_FAST_FAILED}; never faults.
   */
  public long getUserPagesFastOnly(long address, int foll) {
    boolean write = (foll & FollFlags.FOLL_WRITE) != 0;
    boolean pin = (foll & FollFlags.FOLL_PIN) != 0;
    long e = pt.lookup(address);
    if (!HostPte.isPresent(e) || HostPte.isSpecial(e) || (write && !HostPte.isWritable(e))) {
      return GUP_FAST_FAILED;
    }
    long pfn = subPfn(e, address);
    if (!memory.pfnValid(pfn)) {
      return GUP_FAST_FAILED;
    }
    if (pin && !write && memory.isAnon(pfn) && !memory.isAnonExclusive(pfn)) {
      return GUP_FAST_FAILED;
    }
    if (!memory.tryGetFolio(pfn, pin)) {
      return GUP_FAST_FAILED;
    }
    if (pt.lookup(address) != e) {
      if (pin) {
        memory.unpinUserPage(pfn);
      } else {
        memory.putPage(pfn);
      }
      return GUP_FAST_FAILED;
    }
    return pfn;
  }

  private long subPfn(long e, long address) {
    long size = geometry.levelSize(HostPte.level(e));
    return HostPte.pfn(e) + ((address & (size - 1)) >>> pageShift);
  }

  /**
   * get_user_pages_unlocked (pin_user_pages_unlocked with FOLL_PIN): takes mmap_lock for
   * read, faults as needed (zero page, COW break, THP and hugetlb folios, page-cache IO,
   * page_mkwrite) and returns the pfn with a reference (FOLL_GET, implied) or a pin
   * (FOLL_PIN). Errors: -EFAULT (no VMA, access the VMA forbids, VM_IO | VM_PFNMAP),
   * -EHWPOISON (poisoned, with FOLL_HWPOISON), -EAGAIN (page under migration, or IO needed
   * with FOLL_NOWAIT), -EINTR (IO needed, FOLL_INTERRUPTIBLE, signal pending), -ENOMEM,
   * -EINVAL (FOLL_GET with FOLL_PIN). Where Linux would sleep for a migration to finish
   * this returns -EAGAIN for the caller to retry.
   */
  public long getUserPages(long address, int foll) {
    if ((foll & FollFlags.FOLL_PIN) != 0 && (foll & FollFlags.FOLL_GET) != 0) {
      return -Errno.EINVAL;
    }
    boolean write = (foll & FollFlags.FOLL_WRITE) != 0;
    mmapReadLock();
    try {
      Vma vma = vmaAt(address);
      if (vma == null || vma.has(Vma.VM_IO | Vma.VM_PFNMAP)
          || !vma.has(write ? Vma.VM_WRITE : Vma.VM_READ)) {
        return -Errno.EFAULT;
      }
      int faultFlags = (write ? FAULT_FLAG_WRITE : 0)
          | ((foll & FollFlags.FOLL_NOWAIT) != 0 ? FAULT_FLAG_RETRY_NOWAIT : 0)
          | ((foll & FollFlags.FOLL_INTERRUPTIBLE) != 0 ? FAULT_FLAG_INTERRUPTIBLE : 0);
      for (int attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
        long r = followPage(vma, address, foll);
        if (r >= 0 || (r != NEED_FAULT && r != NEED_UNSHARE)) {
          return r;
        }
        int rc = handleMmFault(
            vma, address, faultFlags | (r == NEED_UNSHARE ? FAULT_FLAG_UNSHARE : 0));
        if (rc < 0) {
          return rc;
        }
      }
      throw new IllegalStateException(
          String.format(Locale.US, "GUP at 0x%x did not settle", address));
    } finally {
      mmapReadUnlock();
    }
  }

  /** follow_page_mask with FOLL_TOUCH, under the page-table lock. */
  private long followPage(Vma vma, long address, int foll) {
    boolean write = (foll & FollFlags.FOLL_WRITE) != 0;
    boolean pin = (foll & FollFlags.FOLL_PIN) != 0;
    ptl.acquireExclusive();
    try {
      long e = pt.lookup(address);
      if (e == 0) {
        return NEED_FAULT;
      }
      if (!HostPte.mapsPfn(e)) {
        if (HostPte.isMigration(e)) {
          return -Errno.EAGAIN;
        }
        if (HostPte.isHwpoison(e)) {
          return (foll & FollFlags.FOLL_HWPOISON) != 0 ? -Errno.EHWPOISON : -Errno.EFAULT;
        }
        return NEED_FAULT;
      }
      if (HostPte.isProtNone(e) && (foll & FollFlags.FOLL_HONOR_NUMA_FAULT) != 0) {
        return NEED_FAULT;
      }
      if (write && !HostPte.isWritable(e)) {
        return NEED_FAULT;
      }
      long pfn = subPfn(e, address);
      if (HostPte.isSpecial(e)) {
        if (!memory.isZeroPfn(pfn)) {
          return -Errno.EFAULT;
        }
        if (!pin) {
          memory.getPage(pfn);
        }
        return pfn;
      }
      if (pin && !write && memory.isAnon(pfn) && !memory.isAnonExclusive(pfn)) {
        return NEED_UNSHARE;
      }
      if (pin) {
        memory.pinUserPage(pfn);
      } else {
        memory.getPage(pfn);
      }
      if (HostPte.level(e) != HostPte.LEVEL_PTE) {
        long touched = e | HostPte.YOUNG | (write ? HostPte.DIRTY : 0);
        if (touched != e) {
          pt.compareAndSet(address, e, touched);
        }
      }
      if (write && !HostPte.isDirty(e) && !memory.isDirty(pfn)) {
        memory.setPageDirty(pfn);
      }
      memory.markPageAccessed(pfn);
      return pfn;
    } finally {
      ptl.releaseExclusive();
    }
  }

  /**
   * follow_pfnmap_start on a VM_IO / VM_PFNMAP VMA: the pfn mapped at {@code address} and
   * whether the entry is writable, or null when nothing is mapped there yet. Caller holds
   * mmap_lock; a VMA of another kind is the kernel's -EINVAL, an argument error here.
   */
  public PfnmapEntry followPfnmap(long address) {
    assertMmapLocked();
    Vma vma = vmaAt(address);
    if (vma == null || !vma.has(Vma.VM_IO | Vma.VM_PFNMAP)) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "0x%x is not in a VM_IO | VM_PFNMAP VMA", address));
    }
    long e = pt.lookup(address);
    if (!HostPte.isPresent(e)) {
      return null;
    }
    return new PfnmapEntry(subPfn(e, address), HostPte.isWritable(e));
  }

  /**
   * fixup_user_fault: faults {@code address} in for a read or write, as the VMA permits.
   * Caller holds mmap_lock. Returns 0 or a negative errno (-EFAULT if not permitted).
   */
  public int fixupUserFault(long address, boolean write) {
    assertMmapLocked();
    Vma vma = vmaAt(address);
    if (vma == null || !vma.has(write ? Vma.VM_WRITE : Vma.VM_READ)) {
      return -Errno.EFAULT;
    }
    for (int attempt = 0; attempt < MAX_FAULT_RETRIES; attempt++) {
      long e = pt.lookup(address);
      if (HostPte.isPresent(e) && (!write || HostPte.isWritable(e))) {
        return 0;
      }
      int rc = handleMmFault(vma, address, write ? FAULT_FLAG_WRITE : 0);
      if (rc < 0) {
        return rc;
      }
    }
    throw new IllegalStateException(
        String.format(Locale.US, "fault at 0x%x did not settle", address));
  }

  /**
   * host_pfn_mapping_level: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB), the level of the present
   * leaf translating {@code address}, from a lockless walk; 1 when nothing is present.
   */
  public int hostMappingLevel(long address) {
    long e = pt.lookup(address);
    return HostPte.mapsPfn(e) ? HostPte.level(e) : HostPte.LEVEL_PTE;
  }

  /**
   * The shift of the present leaf translating {@code address} (arm64's
   * {@code get_user_mapping_size}): {@code PAGE_SHIFT}, {@code PMD_SHIFT} or {@code PUD_SHIFT},
   * from the same lockless walk as {@link #hostMappingLevel}.
   */
  public int hostMappingShift(long address) {
    switch (hostMappingLevel(address)) {
      case HostPte.LEVEL_PUD:
        return geometry.pudShift();
      case HostPte.LEVEL_PMD:
        return geometry.pmdShift();
      default:
        return pageShift;
    }
  }

  /**
   * NUMA balancing's scan (task_numa_work → change_prot_numa): under mmap_lock for read,
   * turns the present entries of every private, non-hugetlb VMA in the range into PROT_NONE
   * hinting entries (keeping pfn, write permission and dirty), inside a PROTECTION_VMA
   * invalidation per VMA. The zero page, special entries and ones already PROT_NONE are left
   * alone. The next access takes a NUMA-hinting fault; GUP follows such entries without a
   * fault unless FOLL_HONOR_NUMA_FAULT is set. Returns how many entries changed.
   */
  public int changeProtNuma(long start, long end) {
    int changed = 0;
    mmapReadLock();
    try {
      for (Vma v : vmasIn(start, end)) {
        if (v.has(Vma.VM_HUGETLB | Vma.VM_PFNMAP | Vma.VM_IO | Vma.VM_MIXEDMAP | Vma.VM_SHARED)
            || !v.has(Vma.VM_READ)) {
          continue;
        }
        long s = Math.max(start, v.start);
        long e = Math.min(end, v.end);
        if (!hasEntries(s, e)) {
          continue;
        }
        MmuNotifierRange r = range(s, e, MmuNotifierEvent.PROTECTION_VMA);
        invalidateStart(r);
        int[] count = new int[1];
        ptl.acquireExclusive();
        try {
          pt.walk(s, e, (a, entry) -> {
            if (!HostPte.isPresent(entry) || HostPte.isSpecial(entry)) {
              return entry;
            }
            count[0]++;
            return (entry & ~HostPte.PRESENT) | HostPte.PROTNONE;
          });
          if (count[0] > 0) {
            flushTlbRange();
          }
        } finally {
          ptl.releaseExclusive();
        }
        invalidateEnd(r);
        changed += count[0];
      }
      return changed;
    } finally {
      mmapReadUnlock();
    }
  }

  // ---- access-bit aging -------------------------------------------------------------------

  /**
   * Aging without reclaim (page_idle, MGLRU look-around): test-and-clear young on every entry
   * in the range (ptep_test_and_clear_young, no flush) and mmu_notifier_clear_young on the
   * range. Returns whether anything was young.
   */
  public boolean clearYoungNotify(long start, long end) {
    boolean[] young = new boolean[1];
    ptl.acquireExclusive();
    try {
      pt.walk(start, end, (a, e) -> {
        if (HostPte.isPresent(e) && HostPte.isYoung(e)) {
          young[0] = true;
          return e & ~HostPte.YOUNG;
        }
        return e;
      });
      for (MmuNotifier n : notifiers) {
        young[0] |= n.clearYoung(this, start, end);
      }
    } finally {
      ptl.releaseExclusive();
    }
    return young[0];
  }

  /** Whether {@code address} was accessed, by the host entry or any secondary MMU (test_young). */
  public boolean testYoungNotify(long address) {
    long e = pt.lookup(address);
    if (HostPte.isPresent(e) && HostPte.isYoung(e)) {
      return true;
    }
    for (MmuNotifier n : notifiers) {
      if (n.testYoung(this, address)) {
        return true;
      }
    }
    return false;
  }

  // ---- reverse-map visits -----------------------------------------------------------------

  /**
   * One VMA's part of a reverse-map walk over the folio {@code [head, head + nr)}: the
   * entries in {@code [start, end)} mapping it get {@code op}. Invalidating ops raise their
   * event before taking the page-table lock and end it after the flush. {@code arg} is the
   * swap slot for UNMAP of an anonymous folio and the new head pfn for REMOVE_MIGRATION.
   * Returns how many entries were affected (for REFERENCED: how many were young).
   */
  int rmapOne(Vma vma, long start, long end, long head, int nr, RmapOp op, long arg) {
    MmuNotifierEvent event;
    switch (op) {
      case MKCLEAN:
        event = MmuNotifierEvent.PROTECTION_PAGE;
        break;
      case UNMAP:
      case MIGRATE:
      case HWPOISON:
        event = MmuNotifierEvent.CLEAR;
        break;
      default:
        event = null;
        break;
    }
    MmuNotifierRange r = event == null ? null : range(start, end, event);
    if (r != null) {
      invalidateStart(r);
    }
    int[] count = new int[1];
    boolean anon = memory.isAnon(head);
    ptl.acquireExclusive();
    try {
      pt.walk(start, end, (a, e) -> {
        boolean maps = HostPte.mapsPfn(e) && !HostPte.isSpecial(e)
            && HostPte.pfn(e) >= head && HostPte.pfn(e) < head + nr;
        int level = HostPte.level(e);
        switch (op) {
          case MKCLEAN:
            if (maps && (e & (HostPte.WRITE | HostPte.DIRTY)) != 0) {
              count[0]++;
              return e & ~(HostPte.WRITE | HostPte.DIRTY);
            }
            return e;
          case UNMAP:
          case MIGRATE:
          case HWPOISON:
            if (!maps) {
              return e;
            }
            if (HostPte.isDirty(e)) {
              memory.setPageDirty(head);
            }
            memory.addMapping(head, -1);
            count[0]++;
            if (op == RmapOp.UNMAP) {
              return anon ? HostPte.makeSwp(HostPte.SWP_SWAP, arg, level, 0) : 0;
            }
            if (op == RmapOp.MIGRATE) {
              int type = HostPte.isWritable(e)
                  ? HostPte.SWP_MIGRATION_WRITE : HostPte.SWP_MIGRATION_READ;
              return HostPte.makeSwp(type, HostPte.pfn(e), level, e);
            }
            return HostPte.makeSwp(HostPte.SWP_HWPOISON, HostPte.pfn(e), level, 0);
          case REFERENCED:
            if (!maps) {
              return e;
            }
            boolean young = HostPte.isYoung(e);
            for (MmuNotifier n : notifiers) {
              young |= n.clearFlushYoung(this, a, a + geometry.levelSize(level));
            }
            if (young) {
              count[0]++;
            }
            return e & ~HostPte.YOUNG;
          case REMOVE_MIGRATION:
            if (!HostPte.isMigration(e) || HostPte.pfn(e) < head || HostPte.pfn(e) >= head + nr) {
              return e;
            }
            long pfn = arg + (HostPte.pfn(e) - head);
            long bits = (e & (HostPte.YOUNG | HostPte.DIRTY))
                | (HostPte.isMigrationWrite(e) && vma.has(Vma.VM_WRITE) ? HostPte.WRITE : 0);
            memory.addMapping(arg, 1);
            count[0]++;
            return HostPte.make(pfn, level, bits);
          default:
            throw new IllegalStateException("unknown rmap op " + op);
        }
      });
      if (count[0] > 0 && op != RmapOp.REMOVE_MIGRATION) {
        flushTlbRange();
      }
    } finally {
      ptl.releaseExclusive();
    }
    if (r != null) {
      invalidateEnd(r);
    }
    return count[0];
  }

  /** A number identifying this mm among those of its host, in creation order. */
  public int id() {
    return id;
  }

  @Override
  public String toString() {
    return String.format(Locale.US, "mm#%d", id);
  }
}

package org.kvmmodel.core.kvm;

import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.api.pt.DeferredFree;
import org.kvmmodel.api.pt.PageTableAllocator;
import org.kvmmodel.api.pt.EntryRaceHook;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.api.pt.PageTableObserver;
import org.kvmmodel.api.pt.PageTablePage;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.sched.Rcu;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * Where one VM's stage-2 table pages come from and go to. Allocation follows KVM's MMU memory
 * caches ({@code kvm_mmu_topup_memory_cache} / {@code kvm_mmu_memory_cache_alloc} in
 * {@code virt/kvm/kvm_main.c}): a fault path tops up its cache before taking mmu_lock, where it
 * may sleep and fail with -ENOMEM, and draws from it under the lock, where it must not sleep;
 * drawing from an empty cache is a KVM bug that falls back to an atomic allocation, counted
 * here. Each actor (a vCPU) has its own cache. Unlinked pages are freed by an RCU callback, so
 * lockless walkers that still hold them stay safe.
 */
public final class VmPageTables implements PageTableAllocator, DeferredFree {

  /** Physical base of page-table pages: above any host RAM the model gives out. */
  static final long TABLE_BASE = 1L << 44;

  private static final PageTableObserver.WriteKind[] WRITE_KINDS =
      PageTableObserver.WriteKind.values();

  private final MmuLock mmuLock;
  private final FaultInjector inject;
  private final Scheduler scheduler;
  private final Rcu rcu;
  private final TablePageStore pages;
  private final ThreadLocal<int[]> cache = ThreadLocal.withInitial(() -> new int[1]);
  private final LongAdder emptyCacheAllocations = new LongAdder();
  private final EventLog log;
  private final List<RadixPageTable> tables = new CopyOnWriteArrayList<>();
  private final List<RadixPageTable> tablesView = Collections.unmodifiableList(tables);
  private final ThreadLocal<int[]> lastWrite = ThreadLocal.withInitial(() -> new int[2]);

  public VmPageTables(
      MmuLock mmuLock,
      FaultInjector inject,
      Scheduler scheduler,
      Rcu rcu,
      long limitPages,
      EventLog log) {
    this.log = log;
    this.mmuLock = mmuLock;
    this.inject = inject;
    this.scheduler = scheduler;
    this.rcu = rcu;
    this.pages = new TablePageStore(TABLE_BASE, limitPages);
  }

  /** The environment a plugin builds its tables in. */
  public PageTableEnvironment environment() {
    return new PageTableEnvironment(
        this,
        this,
        new PageTableObserver() {
          @Override
          public void pageTableCreated(RadixPageTable table) {
            tables.add(table);
          }

          @Override
          public void entryWritten(
              WriteKind kind,
              PageTablePage table,
              int index,
              int level,
              long gfn,
              long old,
              long value) {
            int[] last = lastWrite.get();
            last[0] = kind.ordinal();
            last[1] = level;
            log.emit(Tracepoint.SPTE_CHANGED, gfn, old, value);
          }

          @Override
          public void tableUnlinked(PageTablePage table, int level, long gfn) {
            log.emit(Tracepoint.TABLE_UNLINKED, table.physicalAddress(), level, gfn);
          }
        },
        new EntryRaceHook() {
          @Override
          public boolean beforeAtomicUpdate(PageTablePage table, int index, int level, long gfn) {
            scheduler.point("cmpxchg spte");
            return inject.cmpxchgLoss();
          }

          @Override
          public void beforeLocklessRead(int level, long gfn) {
            scheduler.point("READ_ONCE spte");
          }
        });
  }

  /**
   * {@code kvm_mmu_topup_memory_cache}: fill the calling actor's cache to {@code min} pages.
   * Allocating pages may sleep ({@code GFP_KERNEL_ACCOUNT}), so it belongs outside mmu_lock;
   * a cache already full allocates nothing. Returns 0 or -ENOMEM.
   */
  public int topup(int min) {
    int[] cached = cache.get();
    if (cached[0] < min) {
      log.emit(Tracepoint.MIGHT_SLEEP, SleepSite.MMU_TOPUP_MEMORY_CACHE.ordinal(), 0, 0);
    }
    while (cached[0] < min) {
      if (inject.cacheEnomem() || !pages.reserve()) {
        return Errno.ENOMEM.negative();
      }
      cached[0]++;
    }
    return 0;
  }

  /** {@code kvm_mmu_free_memory_cache}: return the calling actor's unused pages. */
  public void freeCache() {
    int[] cached = cache.get();
    pages.unreserve(cached[0]);
    cached[0] = 0;
  }

  /** Pages in the calling actor's cache. */
  public int cachedPages() {
    return cache.get()[0];
  }

  /** Allocations made under mmu_lock with an empty cache ({@code WARN_ON_ONCE} in KVM). */
  public long emptyCacheAllocations() {
    return emptyCacheAllocations.sum();
  }

  /**
   * How the calling actor's most recent entry change was written: read by a check while it
   * judges that change's {@link Tracepoint#SPTE_CHANGED}, which is emitted on the same actor.
   */
  public PageTableObserver.WriteKind lastWriteKind() {
    return WRITE_KINDS[lastWrite.get()[0]];
  }

  /** The kernel level of the entry the calling actor's most recent change wrote. */
  public int lastWriteLevel() {
    return lastWrite.get()[1];
  }

  /**
   * Every page table the arch built in this VM (roots), oldest first: a read-only view that
   * grows as the arch builds more, so that checks asking for it on every event copy nothing.
   */
  public List<RadixPageTable> pageTables() {
    return tablesView;
  }

  /** Table pages handed out and not yet freed. */
  public long livePages() {
    return pages.livePages();
  }

  /** Table pages freed after their grace period. */
  public long freedPages() {
    return pages.freedPages();
  }

  /**
   * {@code kvm_mmu_memory_cache_alloc} for one page under mmu_lock; a multi-page root, or any
   * page outside the lock, is an ordinary sleeping allocation.
   */
  @Override
  public PageTablePage allocate(int count, int entriesPerPage) {
    if (count == 1 && mmuLock.isHeld()) {
      int[] cached = cache.get();
      if (cached[0] > 0) {
        cached[0]--;
        return pages.allocateReserved(entriesPerPage);
      }
      emptyCacheAllocations.increment();
    }
    return pages.allocate(count, entriesPerPage);
  }

  @Override
  public PageTablePage tableAt(long physicalAddress) {
    return pages.tableAt(physicalAddress);
  }

  /** Frees {@code page} once a grace period has passed ({@code call_rcu}). */
  @Override
  public void deferFree(PageTablePage page) {
    rcu.callRcu(
        () -> {
          log.emit(Tracepoint.TABLE_FREED, page.physicalAddress(), 0, 0);
          pages.free(page);
        });
  }
}

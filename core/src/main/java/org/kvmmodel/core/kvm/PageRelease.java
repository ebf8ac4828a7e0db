package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * The page release API after the 6.13 overhaul ({@code virt/kvm/kvm_main.c},
 * {@code include/linux/kvm_host.h}): clean (accessed, then put), dirty (dirty, then clean),
 * unused (put only), and {@code kvm_release_faultin_page}, which insists on mmu_lock unless
 * the page is unused, because a folio may only be dirtied on an mmu_notifier-protected path.
 * All are NULL-safe ({@link KvmPfn#NO_PAGE}); reserved pages are never marked.
 */
public final class PageRelease {

  private final HostMemory memory;
  private final MmuLock mmuLock;
  private final EventLog log;

  public PageRelease(HostMemory memory, MmuLock mmuLock, EventLog log) {
    this.memory = memory;
    this.mmuLock = mmuLock;
    this.log = log;
  }

  /** {@code kvm_release_page_clean}. */
  public void releasePageClean(long page) {
    if (page == KvmPfn.NO_PAGE) {
      return;
    }
    log.emit(Tracepoint.KVM_RELEASE_PAGE_CLEAN, page, 0, 0);
    setPageAccessed(page);
    memory.putPage(page);
  }

  /** {@code kvm_release_page_dirty}. */
  public void releasePageDirty(long page) {
    if (page == KvmPfn.NO_PAGE) {
      return;
    }
    log.emit(Tracepoint.KVM_RELEASE_PAGE_DIRTY, page, 0, 0);
    setPageDirty(page, false);
    setPageAccessed(page);
    memory.putPage(page);
  }

  /** {@code kvm_release_page_unused}. */
  public void releasePageUnused(long page) {
    if (page == KvmPfn.NO_PAGE) {
      return;
    }
    log.emit(Tracepoint.KVM_RELEASE_PAGE_UNUSED, page, 0, 0);
    memory.putPage(page);
  }

  /** {@code kvm_release_faultin_page}. */
  public void releaseFaultinPage(long page, boolean unused, boolean dirty) {
    if (!unused && !mmuLock.isHeld()) {
      throw new IllegalStateException(
          "kvm_release_faultin_page: mmu_lock not held for a used page (unused=false)");
    }
    if (page == KvmPfn.NO_PAGE) {
      return;
    }
    if (unused) {
      releasePageUnused(page);
    } else if (dirty) {
      releasePageDirty(page);
    } else {
      releasePageClean(page);
    }
  }

  /**
   * {@code kvm_set_page_dirty}: skipped for reserved pages. {@code pinned} says it is a page
   * KVM pinned and is unmapping ({@code kvm_vcpu_unmap}).
   */
  void setPageDirty(long page, boolean pinned) {
    if (!memory.isReserved(page)) {
      log.emit(Tracepoint.FOLIO_MARK_DIRTY, page, mmuLock.isHeld() ? 1 : 0, pinned ? 1 : 0);
      memory.setPageDirty(page);
    }
  }

  /** {@code kvm_set_page_accessed}: skipped for reserved pages. */
  void setPageAccessed(long page) {
    if (!memory.isReserved(page)) {
      memory.markPageAccessed(page);
    }
  }
}

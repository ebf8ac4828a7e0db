package org.kvmmodel.tests.doubles;

import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.UpdateStatus;

/**
 * The MMU of a test double: a slow fault path in the order every 6.13 arch follows (snapshot,
 * faultin, mmu_lock, retry check, install, {@code kvm_release_faultin_page} under the lock)
 * and the notifier, memslot and dirty-log hooks, written against nothing but the SPI.
 */
final class ToyMmu implements ArchMmu {

  private final Kvm kvm;
  private final boolean wholeVmRetry;
  private final Breakage breakage;
  private final RadixPageTable root;
  private final RadixMmuOps ops;
  private final PageTableCursor cursor;
  private final FaultinResult faultin = new FaultinResult();

  ToyMmu(Kvm kvm, ToyFormat format, boolean wholeVmRetry, Breakage breakage) {
    this.kvm = kvm;
    this.wholeVmRetry = wholeVmRetry;
    this.breakage = breakage;
    this.root = RadixPageTable.create(format, kvm.pageTables());
    this.ops = new RadixMmuOps(kvm, root);
    this.cursor = ops.cursor();
  }

  RadixPageTable root() {
    return root;
  }

  /** The leaf mapping {@code gfn}, or 0. */
  long leafOf(long gfn) {
    return cursor.walk(gfn) ? cursor.entry() : 0;
  }

  /** The slow path: 0, -EAGAIN when the retry check failed, or -EFAULT. */
  int fault(long gfn, boolean write) {
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    if (breakage == Breakage.FAST_PATH_DIRTIES_FOLIO && write && leafOf(gfn) != 0) {
      return brokenFastPath(slot, gfn);
    }
    long seq = kvm.mmuInvalidateSeq();
    long pfn = kvm.faultinPfn(slot, gfn, write ? Foll.WRITE : 0, faultin);
    if (KvmPfn.isErrorOrNoslot(pfn)) {
      return Errno.EFAULT.negative();
    }
    boolean writable = faultin.writable() && !(slot.dirtyLogEnabled() && !write);
    if (kvm.mmuTopupMemoryCache(root.geometry().levels()) != 0) {
      kvm.releasePageUnused(faultin.refcountedPage());
      return Errno.ENOMEM.negative();
    }
    lock();
    try {
      boolean retry =
          breakage != Breakage.SKIPS_RETRY_CHECK
              && (wholeVmRetry ? kvm.mmuInvalidateRetry(seq) : kvm.mmuInvalidateRetryGfn(seq, gfn));
      boolean installed = false;
      if (!retry) {
        installed = cursor.map(gfn, 0, ToyFormat.leaf(pfn, writable)) != UpdateStatus.RETRY;
      }
      if (breakage != Breakage.NEVER_RELEASES) {
        kvm.releaseFaultinPage(faultin.refcountedPage(), !installed, writable);
      }
      if (breakage == Breakage.RELEASES_TWICE) {
        kvm.releaseFaultinPage(faultin.refcountedPage(), !installed, writable);
      }
      if (!installed) {
        return Errno.EAGAIN.negative();
      }
    } finally {
      unlock();
    }
    if (writable) {
      kvm.markPageDirtyInSlot(slot, gfn);
    }
    return 0;
  }

  private void lock() {
    if (kvm.mmuLock().kind() == MmuLockKind.RWLOCK) {
      kvm.mmuLock().readLock();
    } else {
      kvm.mmuLock().lock();
    }
  }

  private void unlock() {
    if (kvm.mmuLock().kind() == MmuLockKind.RWLOCK) {
      kvm.mmuLock().readUnlock();
    } else {
      kvm.mmuLock().unlock();
    }
  }

  @Override
  public boolean unmapGfnRange(GfnRange range) {
    return breakage != Breakage.UNMAP_LEAVES_LEAF && ops.unmap(range);
  }

  /**
   * A write fault on a present leaf fixed without mmu_lock that also marks the folio dirty:
   * what no fast path may do.
   */
  private int brokenFastPath(MemorySlot slot, long gfn) {
    long pfn = kvm.faultinPfn(slot, gfn, Foll.WRITE, faultin);
    if (KvmPfn.isErrorOrNoslot(pfn)) {
      return Errno.EFAULT.negative();
    }
    kvm.releasePageDirty(faultin.refcountedPage());
    return 0;
  }

  @Override
  public boolean ageGfn(GfnRange range) {
    return ops.age(range);
  }

  @Override
  public boolean testAgeGfn(GfnRange range) {
    return ops.testAge(range);
  }

  @Override
  public int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    return 0;
  }

  @Override
  public void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.FLAGS_ONLY && updated.dirtyLogEnabled() && !old.dirtyLogEnabled()) {
      kvm.mmuLock().lock();
      try {
        ops.writeProtectSlot(updated);
      } finally {
        kvm.mmuLock().unlock();
      }
      kvm.flushRemoteTlbs();
    }
  }

  @Override
  public void flushShadowMemslot(MemorySlot slot) {
    kvm.mmuLock().lock();
    try {
      ops.zapSlot(slot);
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  @Override
  public void flushShadowAll() {
    kvm.mmuLock().lock();
    try {
      ops.zapAll();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    ops.writeProtectMasked(slot, gfnOffset, mask);
  }
}

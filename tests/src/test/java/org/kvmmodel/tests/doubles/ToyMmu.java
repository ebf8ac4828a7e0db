package org.kvmmodel.tests.doubles;

import java.util.Set;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;

/**
 * The MMU of a test double: a slow fault path in the order every 6.13 arch follows (snapshot,
 * faultin, mmu_lock, retry check, install, {@code kvm_release_faultin_page} under the lock)
 * and the notifier, memslot and dirty-log hooks, written against nothing but the SPI. Its
 * hardware walker translates through a present leaf (writes only through a W leaf) and sets A.
 */
final class ToyMmu implements ArchMmu {

  private final Kvm kvm;
  private final boolean wholeVmRetry;
  private final Set<Breakage> breakages;
  private final RadixPageTable root;
  private final RadixMmuOps ops;
  private final ThreadLocal<PageTableCursor> cursors;

  ToyMmu(Kvm kvm, ToyFormat format, boolean wholeVmRetry, Set<Breakage> breakages) {
    this.kvm = kvm;
    this.wholeVmRetry = wholeVmRetry;
    this.breakages = breakages;
    this.root = RadixPageTable.create(format, kvm.pageTables());
    this.ops = new RadixMmuOps(kvm, root);
    this.cursors = ThreadLocal.withInitial(ops::newCursor);
  }

  private boolean broken(Breakage breakage) {
    return breakages.contains(breakage);
  }

  RadixPageTable root() {
    return root;
  }

  /** The leaf mapping {@code gfn}, or 0. */
  long leafOf(long gfn) {
    PageTableCursor cursor = cursors.get();
    return cursor.walk(gfn) ? cursor.entry() : 0;
  }

  /**
   * The slow path: 0, -EAGAIN when the retry check failed, {@link KvmExit#MMIO} for an access
   * with no memslot or a write to a read-only one (which every arch hands to userspace), or
   * -EFAULT.
   */
  int fault(long gfn, boolean write) {
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    if (broken(Breakage.FAULT_WITHOUT_PROGRESS) && write && (leafOf(gfn) & ToyFormat.V) != 0
        && (leafOf(gfn) & ToyFormat.W) == 0) {
      return 0;
    }
    if (broken(Breakage.FAST_PATH_DIRTIES_FOLIO) && write && leafOf(gfn) != 0) {
      return brokenFastPath(slot, gfn);
    }
    FaultinResult faultin = new FaultinResult();
    long seq = kvm.mmuInvalidateSeq();
    if (kvm.mmuInvalidateRetryGfnUnsafe(seq, gfn)) {
      return Errno.EAGAIN.negative(); // an invalidation covers it: retry before faultin
    }
    boolean lockedEarly = broken(Breakage.FAULTIN_UNDER_MMU_LOCK);
    if (lockedEarly) {
      lock();
    }
    long pfn = kvm.faultinPfn(slot, gfn, write ? Foll.WRITE : 0, faultin);
    int r = 0;
    if (KvmPfn.isNoslot(pfn) || pfn == KvmPfn.ERR_RO_FAULT) {
      r = pfn == KvmPfn.ERR_RO_FAULT && broken(Breakage.EFAULTS_READONLY_SLOT_WRITES)
          ? Errno.EFAULT.negative()
          : KvmExit.MMIO;
    } else if (KvmPfn.isErrorOrNoslot(pfn)) {
      r = Errno.EFAULT.negative();
    }
    boolean writable = faultin.writable() && !(slot.dirtyLogEnabled() && !write);
    if (r == 0 && kvm.mmuTopupMemoryCache(root.geometry().levels()) != 0) {
      kvm.releasePageUnused(faultin.refcountedPage());
      r = Errno.ENOMEM.negative();
    }
    if (r != 0) {
      if (lockedEarly) {
        unlock();
      }
      return r;
    }
    if (!lockedEarly) {
      lock();
    }
    try {
      boolean retry =
          !broken(Breakage.SKIPS_RETRY_CHECK)
              && (wholeVmRetry ? kvm.mmuInvalidateRetry(seq) : kvm.mmuInvalidateRetryGfn(seq, gfn));
      boolean installed = false;
      if (!retry) {
        boolean leafWritable =
            writable
                || broken(Breakage.IGNORES_MAP_WRITABLE)
                || (broken(Breakage.MAPS_READONLY_SLOT_WRITABLE) && slot.isReadonly());
        long leaf = ToyFormat.leaf(pfn, leafWritable);
        if (broken(Breakage.INSTALLS_OLD_LEAVES)) {
          leaf &= ~ToyFormat.A;
        }
        installed = cursors.get().map(gfn, 0, leaf) != UpdateStatus.RETRY;
      }
      if (!broken(Breakage.NEVER_RELEASES) && !broken(Breakage.RELEASES_DIRTY_ONLY_FOR_WRITE)) {
        kvm.releaseFaultinPage(faultin.refcountedPage(),
            !installed && !(retry && broken(Breakage.RETRY_RELEASES_USED)), writable);
      }
      if (broken(Breakage.RELEASES_TWICE)) {
        kvm.releaseFaultinPage(faultin.refcountedPage(), !installed, writable);
      }
      if (broken(Breakage.RELEASES_DIRTY_ONLY_FOR_WRITE)) {
        kvm.releaseFaultinPage(faultin.refcountedPage(), !installed, write);
      }
      if (!installed) {
        return Errno.EAGAIN.negative();
      }
    } finally {
      unlock();
    }
    if (writable || broken(Breakage.LOGS_EVERY_FAULT)) {
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
    if (broken(Breakage.UNMAP_WITHOUT_FLUSH)) {
      root.newCursor(WalkOnly.NEVER_FLUSHES).zapRange(range.start(), range.end());
      return false;
    }
    if (broken(Breakage.YIELDS_WITH_FLUSH_PENDING)) {
      PageTableCursor walk = ops.newReschedulingCursor(false);
      walk.zapRangeExclusive(range.start(), range.end());
      boolean flush = walk.flushPending();
      walk.clearFlushPending();
      return flush;
    }
    return !broken(Breakage.UNMAP_LEAVES_LEAF) && ops.unmap(range);
  }

  /**
   * A write fault on a present leaf fixed without mmu_lock that also marks the folio dirty:
   * what no fast path may do.
   */
  private int brokenFastPath(MemorySlot slot, long gfn) {
    FaultinResult faultin = new FaultinResult();
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
    if (broken(Breakage.ZAPS_SLOT_WITHOUT_MMU_LOCK)) {
      ops.zapSlot(slot);
      return;
    }
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
      if (broken(Breakage.FLUSH_ALL_LEAVES_A_LEAF)) {
        ops.cursor().zapRange(1, 1L << root.geometry().gfnBits());
        return;
      }
      ops.zapAll();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    ops.writeProtectMasked(
        slot, gfnOffset, broken(Breakage.REPROTECT_SKIPS_A_GFN) ? mask & (mask - 1) : mask);
  }

  /** A walker with its own cursor: one per vCPU. */
  @Override
  public Stage2Walker walker() {
    return new ToyWalker(root.newCursor(WalkOnly.INSTANCE), !broken(Breakage.INSTALLS_OLD_LEAVES));
  }

  /** The toy's name for its slow path, where it faults pages in and releases them. */
  @Override
  public String guestFaultFunction() {
    return ToyPlugin.FAULT_FUNCTION;
  }

  /** The slow path for the walk's gfn; a failed retry check re-enters the guest (0). */
  @Override
  public int handleGuestFault(int vcpuId, Stage2Walk walk) {
    int r = fault(walk.gfn(HostPageSize.SIZE_4K.shift()), walk.isWrite());
    return r == Errno.EAGAIN.negative() ? 0 : r;
  }

  /**
   * The toy MMU hardware: a present leaf (V) translates a read or execute, and a write if W is
   * set; a translation sets A atomically when the hardware manages it, walking again if the
   * leaf changed meanwhile. Anything else faults, as a permission fault when a present leaf
   * refused a write.
   */
  private static final class ToyWalker implements Stage2Walker {
    private final PageTableCursor walker;
    private final boolean setsAccessed;

    ToyWalker(PageTableCursor walker, boolean setsAccessed) {
      this.walker = walker;
      this.setsAccessed = setsAccessed;
    }

    @Override
    public void walk(Stage2Walk walk) {
      for (; ; ) {
        if (!walker.walk(walk.gfn(HostPageSize.SIZE_4K.shift()))) {
          walk.faulted(false, 0, 0);
          return;
        }
        long leaf = walker.entry();
        int permissions =
            GuestAccess.READ | GuestAccess.EXEC | ((leaf & ToyFormat.W) != 0 ? GuestAccess.WRITE : 0);
        if (walk.isWrite() && (leaf & ToyFormat.W) == 0) {
          walk.faulted(true, permissions, 0);
          return;
        }
        if (setsAccessed && !walker.hardwareSetBits(leaf, ToyFormat.A)) {
          continue;
        }
        walk.translated(
            (leaf & ToyFormat.ADDR) | (walk.gpa() & (HostPageSize.SIZE_4K.bytes() - 1)),
            walker.level(),
            permissions);
        return;
      }
    }
  }

  /**
   * The walk control of a cursor that only walks: it never yields or flushes. The broken
   * variant lets a zap through and drops the flush it asks for.
   */
  private static final class WalkOnly implements WalkControl {
    static final WalkOnly INSTANCE = new WalkOnly(false);
    static final WalkOnly NEVER_FLUSHES = new WalkOnly(true);

    private final boolean dropsFlushes;

    private WalkOnly(boolean dropsFlushes) {
      this.dropsFlushes = dropsFlushes;
    }

    @Override
    public boolean shouldYield() {
      if (!dropsFlushes) {
        throw new IllegalStateException("a hardware walk runs no range operation");
      }
      return false;
    }

    @Override
    public void yieldLock() {
      throw new IllegalStateException("a hardware walk holds no lock");
    }

    @Override
    public void flushTlbs() {
      if (!dropsFlushes) {
        throw new IllegalStateException("a hardware walk issues no flush");
      }
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      if (!dropsFlushes) {
        throw new IllegalStateException("a hardware walk issues no flush");
      }
    }
  }
}

package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.trace.KvmCallSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * One {@code struct gfn_to_pfn_cache} ({@code virt/kvm/pfncache.c}, 6.13): a gpa's memslot,
 * hva and host pfn, with a kernel mapping of that pfn (modelled as the pfn it maps), that KVM
 * reads and writes without faulting. It holds no page reference: {@code hva_to_pfn_retry}
 * releases the page clean as soon as it is mapped, and the cache stays correct only because
 * {@code invalidate_range_start} clears {@code valid} before the host changes the hva. Readers
 * hold {@code gpc->lock} for read around {@link #check} and the access; refreshes are
 * serialised by {@code refresh_lock} and take {@code gpc->lock} for write.
 */
public final class GfnToPfnCache {

  /** {@code INVALID_GPA}. */
  public static final long INVALID_GPA = -1L;

  /** {@code KVM_HVA_ERR_BAD}. */
  public static final long HVA_ERR_BAD = -1L;

  private final KvmInstance kvm;
  private final SchedLock lock;
  private final SchedLock refreshLock;
  private final FaultinResult kfp = new FaultinResult();
  private long gpa = INVALID_GPA;
  private long generation;
  private MemorySlot memslot;
  private long uhva = HVA_ERR_BAD;
  private long pfn = KvmPfn.ERR_FAULT;
  private long khva = KvmPfn.ERR_FAULT;
  private boolean active;
  private boolean valid;

  /** {@code kvm_gpc_init}: an inactive, invalid cache of {@code kvm}. */
  public GfnToPfnCache(KvmInstance kvm) {
    this.kvm = kvm;
    this.lock = kvm.scheduler().newLock("gpc->lock");
    this.refreshLock = kvm.scheduler().newLock("gpc->refresh_lock");
  }

  /** {@code read_lock(&gpc->lock)}, around {@link #check} and the access it allows. */
  public void readLock() {
    lock.acquireShared();
  }

  public void readUnlock() {
    lock.releaseShared();
  }

  /**
   * {@code kvm_gpc_activate}: put the cache on the VM's list (so notifiers reach it) before
   * marking it active, then refresh it for {@code gpa}. 0, -EINVAL or -EFAULT.
   */
  public int activate(long gpa, int len) {
    if (!validLen(gpa, len)) {
      return Errno.EINVAL.negative();
    }
    refreshLock.acquireExclusive();
    try {
      if (!active) {
        if (valid) {
          throw new IllegalStateException("KVM_BUG_ON: an inactive gfn_to_pfn_cache is valid");
        }
        kvm.pfnCaches().add(this);
        lock.acquireExclusive();
        active = true;
        lock.releaseExclusive();
      }
      return refreshLocked(gpa);
    } finally {
      refreshLock.releaseExclusive();
    }
  }

  /**
   * {@code kvm_gpc_check}, with {@code gpc->lock} held for read: usable for {@code len} bytes
   * only if active, the memslots have not changed generation, the hva is good and it is valid.
   */
  public boolean check(int len) {
    if (!lock.heldShared() && !lock.heldExclusive()) {
      throw new IllegalStateException("kvm_gpc_check without gpc->lock");
    }
    if (!active) {
      return false;
    }
    if (gpa != INVALID_GPA && generation != kvm.memslotsGeneration(0)) {
      return false;
    }
    if (uhva == HVA_ERR_BAD || !validLen(gpa, len)) {
      return false;
    }
    return valid;
  }

  /** {@code kvm_gpc_refresh}: 0, -EINVAL (inactive, or too long) or -EFAULT. */
  public int refresh(int len) {
    return KvmCallSites.call(
        kvm.log(), KvmCallSite.GPC_REFRESH, gpa, () -> refreshUnderRefreshLock(len));
  }

  private int refreshUnderRefreshLock(int len) {
    refreshLock.acquireExclusive();
    try {
      if (!validLen(gpa, len)) {
        return Errno.EINVAL.negative();
      }
      return refreshLocked(gpa);
    } finally {
      refreshLock.releaseExclusive();
    }
  }

  /**
   * {@code __kvm_gpc_refresh} for a gpa, with {@code refresh_lock} held: re-resolve the memslot
   * and hva if the gpa or the memslots changed, and the pfn if the hva changed or the cache is
   * invalid; on failure the pfn and mapping are purged, and a replaced mapping is unmapped
   * after the lock is dropped.
   */
  private int refreshLocked(long newGpa) {
    lock.acquireExclusive();
    long oldPfn;
    int ret;
    try {
      if (!active) {
        return Errno.EINVAL.negative();
      }
      oldPfn = pfn;
      long oldUhva = pageAlignDown(uhva);
      boolean hvaChange = false;
      ret = 0;
      if (gpa != newGpa || generation != kvm.memslotsGeneration(0) || uhva == HVA_ERR_BAD) {
        long gfn = newGpa >>> kvm.pageShift();
        gpa = newGpa;
        generation = kvm.memslotsGeneration(0);
        memslot = kvm.gfnToMemslot(0, gfn);
        uhva = memslot == null || memslot.isInvalid() ? HVA_ERR_BAD : memslot.gfnToHva(gfn);
        if (uhva == HVA_ERR_BAD) {
          ret = Errno.EFAULT.negative();
        } else {
          hvaChange = uhva != oldUhva;
        }
      } else {
        uhva = oldUhva;
      }
      if (ret == 0) {
        uhva += newGpa & (pageSize() - 1);
        if (!valid || hvaChange) {
          ret = hvaToPfnRetry();
        } else {
          oldPfn = KvmPfn.ERR_FAULT;
        }
      }
      if (ret != 0) {
        valid = false;
        pfn = KvmPfn.ERR_FAULT;
        khva = KvmPfn.ERR_FAULT;
      }
      if (oldPfn == pfn) {
        oldPfn = KvmPfn.ERR_FAULT;
      }
    } finally {
      lock.releaseExclusive();
    }
    gpcUnmap(oldPfn);
    return ret;
  }

  /**
   * {@code hva_to_pfn_retry}, with both locks held ({@code gpc->lock} for write): mark the
   * cache invalid, then loop: snapshot {@code mmu_invalidate_seq}, drop {@code gpc->lock},
   * release the previous attempt's page unused, resolve the hva writable through
   * {@code hva_to_pfn}, map it, retake the lock, and go again while
   * {@code mmu_notifier_retry_cache} says an invalidation raced. The final page is released
   * clean at once: the cache keeps the pfn, not a reference.
   */
  private int hvaToPfnRetry() {
    long oldKhva = khva;
    long newPfn = KvmPfn.ERR_FAULT;
    long newKhva = KvmPfn.ERR_FAULT;
    long page = KvmPfn.NO_PAGE;
    long mmuSeq;
    valid = false;
    do {
      mmuSeq = kvm.invalidate().seq();
      lock.releaseExclusive();
      if (newPfn != KvmPfn.ERR_FAULT) {
        if (newKhva != oldKhva) {
          gpcUnmap(newKhva);
        }
        kvm.releasePageUnused(page);
        kvm.scheduler().spinPoint("cond_resched while an invalidation is active");
      }
      kfp.reset();
      newPfn = kvm.followPfn().hvaToPfn(uhva, Foll.WRITE, false, false, kfp);
      page = kfp.refcountedPage();
      if (KvmPfn.isErrorOrNoslot(newPfn)) {
        lock.acquireExclusive();
        return Errno.EFAULT.negative();
      }
      newKhva = newPfn == pfn ? oldKhva : newPfn;
      lock.acquireExclusive();
      if (valid) {
        throw new IllegalStateException("WARN_ON_ONCE: gfn_to_pfn_cache became valid during a refresh");
      }
    } while (mmuNotifierRetryCache(mmuSeq));
    valid = true;
    pfn = newPfn;
    khva = newKhva;
    kvm.log().emit(Tracepoint.GPC_REFRESHED, gpa, uhva, pfn);
    kvm.releasePageClean(page);
    return 0;
  }

  /**
   * {@code mmu_notifier_retry_cache}: an invalidation is active (caches are invalidated before
   * {@code mmu_invalidate_in_progress} rises, so the active count stands in for it), or the
   * sequence moved since the snapshot.
   */
  private boolean mmuNotifierRetryCache(long mmuSeq) {
    if (kvm.mnActive().count() != 0) {
      return true;
    }
    kvm.scheduler().point("smp_rmb in mmu_notifier_retry_cache");
    return kvm.invalidate().seq() != mmuSeq;
  }

  /** {@code gpc_unmap}: drop a kernel mapping (kunmap / memunmap); none for an error pfn. */
  private void gpcUnmap(long mapped) {
    if (!KvmPfn.isErrorOrNoslot(mapped)) {
      kvm.scheduler().point("gpc_unmap");
    }
  }

  /**
   * {@code kvm_gpc_deactivate}: mark the cache inactive and invalid and purge its pfn under
   * {@code gpc->lock}, so refreshes fail from now on, then take it off the VM's list and unmap.
   */
  public void deactivate() {
    refreshLock.acquireExclusive();
    try {
      if (!active) {
        return;
      }
      lock.acquireExclusive();
      active = false;
      valid = false;
      long oldKhva = khva;
      khva = KvmPfn.ERR_FAULT;
      pfn = KvmPfn.ERR_FAULT;
      lock.releaseExclusive();
      kvm.pfnCaches().remove(this);
      gpcUnmap(oldKhva);
    } finally {
      refreshLock.releaseExclusive();
    }
  }

  /**
   * The per-cache step of {@code gfn_to_pfn_cache_invalidate_start}: a valid cache whose hva
   * lies in {@code [start, end)} is marked invalid, re-checked under the write lock because a
   * refresh may have changed it after the read-locked test.
   */
  void invalidate(long start, long end) {
    lock.acquireShared();
    boolean hit = covers(start, end);
    lock.releaseShared();
    if (!hit) {
      return;
    }
    lock.acquireExclusive();
    try {
      if (covers(start, end)) {
        valid = false;
        kvm.log().emit(Tracepoint.GPC_INVALIDATED, gpa, uhva, 0);
      }
    } finally {
      lock.releaseExclusive();
    }
  }

  private boolean covers(long start, long end) {
    return valid && !KvmPfn.isErrorOrNoslot(pfn) && uhva >= start && uhva < end;
  }

  /**
   * {@code kvm_gpc_is_valid_len}: {@code len} bytes from the gpa's (or hva's) page offset stay
   * within the page.
   */
  private boolean validLen(long forGpa, int len) {
    long offset = (forGpa != INVALID_GPA ? forGpa : uhva) & (pageSize() - 1);
    return len >= 0 && offset + len <= pageSize();
  }

  private long pageAlignDown(long hva) {
    return hva == HVA_ERR_BAD ? HVA_ERR_BAD : hva & -pageSize();
  }

  private long pageSize() {
    return 1L << kvm.pageShift();
  }

  /** The pfn the kernel mapping reaches ({@code gpc->khva}); read with the lock held. */
  public long khvaPfn() {
    return khva;
  }

  public long gpa() {
    return gpa;
  }

  public long uhva() {
    return uhva;
  }

  public MemorySlot memslot() {
    return memslot;
  }

  public boolean active() {
    return active;
  }

  /** Whether the cache is valid ({@code gpc->valid}); lockless, for checks. */
  public boolean valid() {
    return valid;
  }
}

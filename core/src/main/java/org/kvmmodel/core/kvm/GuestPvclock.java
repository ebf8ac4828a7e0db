package org.kvmmodel.core.kvm;

import java.util.function.IntSupplier;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * A vCPU's kvm-clock page as KVM keeps it up to date ({@code kvm_setup_guest_pvclock} in
 * {@code arch/x86/kvm/x86.c}, the pattern every pfn-cache user follows): under the cache's read
 * lock, refresh until {@code kvm_gpc_check} passes, store the time record through the cache's
 * kernel mapping, drop the lock, then log the gfn with {@code mark_page_dirty_in_slot}. The
 * store is a write the guest sees, counted in {@link GuestWrites}.
 */
public final class GuestPvclock {

  /** {@code sizeof(struct pvclock_vcpu_time_info)}. */
  public static final int TIME_INFO_SIZE = 32;

  private final KvmInstance kvm;
  private final GfnToPfnCache gpc;
  private final long gpa;

  /** The clock of one vCPU at {@code gpa}; its cache is initialised, not yet active. */
  public GuestPvclock(KvmInstance kvm, long gpa) {
    this.kvm = kvm;
    this.gpa = gpa;
    this.gpc = new GfnToPfnCache(kvm);
  }

  /** {@code MSR_KVM_SYSTEM_TIME_NEW} write: {@code kvm_gpc_activate}; 0 or a negative errno. */
  public int enable() {
    return withSrcu(() -> gpc.activate(gpa, TIME_INFO_SIZE));
  }

  /**
   * One update (a {@code KVM_REQ_CLOCK_UPDATE} before entry): 0 when the record was written,
   * else the refresh's negative errno, in which case nothing was written.
   */
  public int update() {
    return withSrcu(this::setupGuestPvclock);
  }

  private int setupGuestPvclock() {
    gpc.readLock();
    while (!gpc.check(TIME_INFO_SIZE)) {
      gpc.readUnlock();
      int r = gpc.refresh(TIME_INFO_SIZE);
      if (r != 0) {
        return r;
      }
      gpc.readLock();
    }
    long gfn = gpc.gpa() >>> kvm.pageShift();
    long pfn = gpc.khvaPfn();
    kvm.guestWrites().record(pfn);
    kvm.log().emit(Tracepoint.GPC_WRITE, gfn, pfn, gpc.uhva());
    MemorySlot slot = gpc.memslot();
    gpc.readUnlock();
    kvm.markPageDirtyInSlot(slot, gfn);
    kvm.log().emit(Tracepoint.KVM_WRITE_GUEST_DONE, gfn, 0, 0);
    return 0;
  }

  private int withSrcu(IntSupplier body) {
    int idx = kvm.srcu().readLock();
    try {
      return body.getAsInt();
    } finally {
      kvm.srcu().readUnlock(idx);
    }
  }

  /** The cache the clock is written through. */
  public GfnToPfnCache cache() {
    return gpc;
  }
}

package org.kvmmodel.core.vcpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntToLongFunction;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.VcpuRequestTarget;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * One vCPU ({@code struct kvm_vcpu} and the loop of {@code vcpu_enter_guest}): it runs a guest
 * program access by access through its TLB and the arch's hardware walker, exits to the arch's
 * fault handler on a stage-2 fault, and handles requests before every entry. Outside guest mode
 * the vCPU holds {@code kvm->srcu} for read (as {@code vcpu_run} does), so a memslot update
 * waits for a fault using the old memslots before the arch flushes them. {@code vcpu->mode}
 * and the kick make remote TLB flushes wait until the vCPU has left guest mode.
 */
public final class Vcpu implements VcpuRequestTarget {

  /** Re-executions of one access after which the vCPU is livelocked (free mode's bound). */
  private static final int MAX_ATTEMPTS = 1 << 20;

  /** The request bit under which {@link #invalidateRangeAndKick} queues a gfn range. */
  private static final int TLB_INVALIDATE_RANGE = 1 << 1;

  private final int id;
  private final KvmInstance kvm;
  private final Stage2Walker walker;
  private final GuestFaultHandler faultHandler;
  private final Scheduler scheduler;
  private final Tlb tlb = new Tlb(64);
  private final Stage2Walk walk = new Stage2Walk();
  private final AtomicInteger requests = new AtomicInteger();
  private final TlbRangeQueue rangeInvalidations = new TlbRangeQueue();
  /** {@link KvmInstance#leafPages}, bound once so that draining the queue allocates nothing. */
  private final IntToLongFunction leafPages;
  private final AtomicReference<VcpuMode> mode = new AtomicReference<>(VcpuMode.OUTSIDE_GUEST_MODE);
  private volatile Thread runningOn;
  private long accesses;
  private long faults;
  private long userspaceExits;
  private int lastExitError;
  private int lastExitReason;

  public Vcpu(
      int id,
      KvmInstance kvm,
      Stage2Walker walker,
      GuestFaultHandler faultHandler,
      Scheduler scheduler) {
    this.id = id;
    this.kvm = kvm;
    this.walker = walker;
    this.faultHandler = faultHandler;
    this.scheduler = scheduler;
    this.leafPages = kvm::leafPages;
    kvm.addVcpu(this);
  }

  public int id() {
    return id;
  }

  /**
   * The actor name the scheduler and the event log know this vCPU by: {@code vcpu0} in the
   * host's first VM, qualified by the VM's name in the others ({@code vm1.vcpu0}), so vCPUs of
   * several VMs on one deterministic schedule stay distinct.
   */
  @Override
  public String name() {
    return kvm.actorName("vcpu" + id);
  }

  public Tlb tlb() {
    return tlb;
  }

  public VcpuMode mode() {
    return mode.get();
  }

  /** Runs every access of {@code program}; returns how many ended in an exit to userspace. */
  public long run(GuestProgram program) {
    long exitsBefore = userspaceExits;
    for (int i = 0; i < program.length(); i++) {
      access(program.gpa(i), program.access(i));
    }
    mode.set(VcpuMode.OUTSIDE_GUEST_MODE);
    return userspaceExits - exitsBefore;
  }

  /**
   * One guest access, re-executed after each fault until it completes or the fault handler
   * exits to userspace.
   */
  public void access(long gpa, int access) {
    int pageShift = kvm.pageShift();
    long gfn = gpa >>> pageShift;
    runningOn = Thread.currentThread();
    int faultsThisAccess = 0;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      enterGuest();
      if (faultsThisAccess < 2) {
        scheduler.point("guest access");
      } else {
        scheduler.spinPoint("guest access after a retried fault");
      }
      if (mode.get() == VcpuMode.EXITING_GUEST_MODE) {
        exitGuest();
        continue;
      }
      long pfn = tlb.lookup(gfn, access);
      if (pfn < 0) {
        walk.begin(gpa, access);
        walker.walk(walk);
        if (walk.translated()) {
          pfn = walk.hpa() >>> pageShift;
          int perms = walk.permissions() | ((access & GuestAccess.WRITE) != 0 ? Tlb.DIRTY_SEEN : 0);
          tlb.fill(gfn, pfn, perms, walk.level());
        }
      }
      if (pfn >= 0) {
        accesses++;
        if ((access & GuestAccess.WRITE) != 0) {
          kvm.guestWrites().record(pfn);
        }
        kvm.log().emit(Tracepoint.GUEST_ACCESS, gpa, access, pfn << pageShift);
        return;
      }
      exitGuest();
      faults++;
      faultsThisAccess++;
      kvm.log().emit(Tracepoint.KVM_PAGE_FAULT, gpa, access, walk.entryPresent() ? 1 : 0);
      int r;
      int srcuIdx = kvm.srcu().readLock();
      try {
        r = faultHandler.handle(id, walk);
      } finally {
        kvm.srcu().readUnlock(srcuIdx);
      }
      kvm.log().emit(Tracepoint.KVM_PAGE_FAULT_DONE, gpa, r, 0);
      if (r != 0) {
        userspaceExits++;
        lastExitError = Math.min(r, 0);
        lastExitReason = Math.max(r, 0);
        return;
      }
    }
    throw new IllegalStateException(
        name() + ": access to gpa 0x" + Long.toHexString(gpa) + " re-executed " + MAX_ATTEMPTS
            + " times without completing");
  }

  /** {@code vcpu_enter_guest}: handle pending requests, then be in guest mode. */
  private void enterGuest() {
    while (true) {
      mode.set(VcpuMode.IN_GUEST_MODE);
      if (requests.get() == 0) {
        return;
      }
      mode.set(VcpuMode.OUTSIDE_GUEST_MODE);
      handleRequests();
    }
  }

  /** A VM exit: leave guest mode, acknowledging any kick. */
  private void exitGuest() {
    mode.set(VcpuMode.OUTSIDE_GUEST_MODE);
  }

  private void handleRequests() {
    int pending = requests.getAndSet(0);
    if ((pending & KVM_REQ_TLB_FLUSH) != 0) {
      tlb.flush();
    }
    rangeInvalidations.drainInto(tlb, leafPages);
  }

  /**
   * {@code kvm_make_request} + {@code kvm_vcpu_kick} with wait: if the vCPU is in guest mode it
   * is moved to exiting and the caller waits until it has left. The move is a compare-and-swap
   * from guest mode ({@code kvm_vcpu_exiting_guest_mode}), so a vCPU that left guest mode
   * meanwhile is not marked exiting and waited for forever. A vCPU never waits for itself (the
   * kick skips the calling CPU); it handles the request at its next entry.
   */
  @Override
  public void requestAndKick(int request) {
    requests.getAndUpdate(r -> r | request);
    if (runningOn == Thread.currentThread()
        || !mode.compareAndSet(VcpuMode.IN_GUEST_MODE, VcpuMode.EXITING_GUEST_MODE)) {
      return;
    }
    while (mode.get() == VcpuMode.EXITING_GUEST_MODE) {
      scheduler.spinPoint("kvm_make_all_cpus_request wait");
      Thread.yield();
    }
  }

  @Override
  public void invalidateRangeAndKick(long gfn, long pages) {
    boolean queued = rangeInvalidations.offer(gfn, gfn + pages);
    requestAndKick(queued ? TLB_INVALIDATE_RANGE : KVM_REQ_TLB_FLUSH);
  }

  @Override
  public boolean requestPending(int request) {
    return (requests.get() & request) != 0;
  }

  @Override
  public boolean tlbInvalidationPending(long gfn, int level) {
    if (requestPending(KVM_REQ_TLB_FLUSH)) {
      return true;
    }
    long span = leafPages.applyAsLong(level);
    return rangeInvalidations.overlaps(gfn & -span, span);
  }

  @Override
  public void forEachCachedTranslation(CachedTranslation visitor) {
    tlb.forEach(visitor::visit);
  }

  @Override
  public long cachedPfn(long gfn) {
    return tlb.cachedPfn(gfn);
  }

  @Override
  public int cachedLevel(long gfn) {
    return tlb.cachedLevel(gfn);
  }

  public long accesses() {
    return accesses;
  }

  public long faults() {
    return faults;
  }

  public long userspaceExits() {
    return userspaceExits;
  }

  /** The errno of the last exit to userspace, 0 if none or if it was not an error. */
  public int lastExitError() {
    return lastExitError;
  }

  /**
   * The {@link org.kvmmodel.api.kvm.KvmExit} reason of the last exit to userspace that was not
   * an error (e.g. {@code KVM_EXIT_MMIO}), 0 if none or if it was an error.
   */
  public int lastExitReason() {
    return lastExitReason;
  }
}

package org.kvmmodel.core.kvm;

import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEMSLOT_INVALID;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_GUEST_MEMFD;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_READONLY;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;
import java.util.function.LongConsumer;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * KVM_SET_USER_MEMORY_REGION2: {@code kvm_vm_ioctl_set_memory_region},
 * {@code __kvm_set_memory_region} and {@code kvm_set_memslot}. Every bad input gets the errno
 * KVM returns and leaves the memslots as they were; DELETE and MOVE first publish an INVALID
 * copy of the slot and have the arch flush it, and restore the old slot if preparing fails.
 *
 * <p>{@code kvm->slots_lock} is a sleeping mutex: it is made by the VM's scheduler (taken only
 * exclusively, never recursively, as {@code mutex_lock} deadlocks on a mutex its task holds), so
 * that actors contending for it are scheduled and a cycle through it is reported as a deadlock.
 */
public final class SetMemoryRegion {

  private final KvmMemslots memslots;
  private final MemslotLimits limits;
  private final Supplier<DirtyLogMode> dirtyLogMode;
  private final ArchMmu arch;
  private final LongConsumer memslotsUpdated;
  private final SchedLock slotsLock;
  private final ReentrantLock slotsArchLock = new ReentrantLock();
  private final EventLog log;
  /** The host's {@code PAGE_SHIFT}: base, size and hva must be multiples of its page. */
  private final int pageShift;
  private long nrMemslotPages;

  public SetMemoryRegion(
      KvmMemslots memslots,
      MemslotLimits limits,
      Supplier<DirtyLogMode> dirtyLogMode,
      ArchMmu arch,
      LongConsumer memslotsUpdated,
      SchedLock slotsLock,
      EventLog log,
      int pageShift) {
    this.slotsLock = slotsLock;
    this.log = log;
    this.pageShift = pageShift;
    this.memslots = memslots;
    this.limits = limits;
    this.dirtyLogMode = dirtyLogMode;
    this.arch = arch;
    this.memslotsUpdated = memslotsUpdated;
  }

  /** {@code kvm->slots_lock}. */
  public SchedLock slotsLock() {
    return slotsLock;
  }

  /** Runs {@code action} with slots_lock held and returns its result. */
  public int withSlotsLock(IntSupplier action) {
    lockSlots();
    try {
      return action.getAsInt();
    } finally {
      unlockSlots();
    }
  }

  /** {@code kvm_are_all_memslots_empty}, slots_lock held. */
  public boolean areAllMemslotsEmpty() {
    if (!slotsLock.heldExclusive()) {
      throw new IllegalStateException("kvm_are_all_memslots_empty without slots_lock");
    }
    for (int as = 0; as < memslots.addressSpaces(); as++) {
      if (!memslots.active(as).slots().isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /** The pages in all memslots ({@code kvm->nr_memslot_pages}). */
  public long nrMemslotPages() {
    lockSlots();
    try {
      return nrMemslotPages;
    } finally {
      unlockSlots();
    }
  }

  /** The ioctl: returns 0 or a negative errno. */
  public int setUserMemoryRegion2(UserspaceMemoryRegion2 mem) {
    if (mem.id() >= limits.userMemSlots()) {
      return Errno.EINVAL.negative();
    }
    int slot = mem.asId() << 16 | mem.id();
    log.emit(Tracepoint.SET_MEMORY_REGION, slot, mem.flags(), 0);
    int r = 0;
    lockSlots();
    try {
      r = setMemoryRegionLocked(mem);
      return r;
    } finally {
      unlockSlots();
      log.emit(Tracepoint.SET_MEMORY_REGION_DONE, slot, r, 0);
    }
  }

  /**
   * {@code mutex_lock(&kvm->slots_lock)}, reported (before it may sleep waiting, as
   * {@code might_sleep} checks on entry) so the lock order and sleeping can be judged.
   */
  public void lockSlots() {
    log.emit(Tracepoint.SLOTS_LOCK, 0, 0, 0);
    slotsLock.acquireExclusive();
  }

  /** {@code mutex_unlock(&kvm->slots_lock)}, reported likewise. */
  public void unlockSlots() {
    log.emit(Tracepoint.SLOTS_UNLOCK, 0, 0, 0);
    slotsLock.releaseExclusive();
  }

  private int checkFlags(UserspaceMemoryRegion2 mem) {
    int valid = KVM_MEM_LOG_DIRTY_PAGES;
    if (limits.readonlyMemory() && (mem.flags() & KVM_MEM_GUEST_MEMFD) == 0) {
      valid |= KVM_MEM_READONLY;
    }
    return (mem.flags() & ~valid) != 0 ? Errno.EINVAL.negative() : 0;
  }

  private int setMemoryRegionLocked(UserspaceMemoryRegion2 mem) {
    int r = checkFlags(mem);
    if (r != 0) {
      return r;
    }
    long size = mem.memorySize();
    long gpa = mem.guestPhysAddr();
    if ((size & ((1L << pageShift) - 1)) != 0 || size < 0) {
      return Errno.EINVAL.negative();
    }
    if ((gpa & ((1L << pageShift) - 1)) != 0) {
      return Errno.EINVAL.negative();
    }
    if ((mem.userspaceAddr() & ((1L << pageShift) - 1)) != 0
        || !limits.accessOk(mem.userspaceAddr(), size)) {
      return Errno.EINVAL.negative();
    }
    if (mem.asId() >= memslots.addressSpaces() || mem.id() >= MemslotLimits.KVM_MEM_SLOTS_NUM) {
      return Errno.EINVAL.negative();
    }
    if (Long.compareUnsigned(gpa + size, gpa) < 0) {
      return Errno.EINVAL.negative();
    }
    if ((size >>> pageShift) > MemslotLimits.KVM_MEM_MAX_NR_PAGES) {
      return Errno.EINVAL.negative();
    }

    MemslotSet slots = memslots.active(mem.asId());
    KvmMemslot old = slots.byId(mem.id());
    if (size == 0) {
      if (old == null || old.slot().npages() == 0) {
        return Errno.EINVAL.negative();
      }
      if (nrMemslotPages < old.slot().npages()) {
        return Errno.EIO.negative();
      }
      return setMemslot(old, null, MemoryChange.DELETE);
    }

    long baseGfn = gpa >>> pageShift;
    long npages = size >>> pageShift;
    MemoryChange change;
    if (old == null) {
      change = MemoryChange.CREATE;
      if (nrMemslotPages + npages < nrMemslotPages) {
        return Errno.EINVAL.negative();
      }
    } else {
      MemorySlot o = old.slot();
      if (mem.userspaceAddr() != o.userspaceAddr()
          || npages != o.npages()
          || ((mem.flags() ^ o.flags()) & (KVM_MEM_READONLY | KVM_MEM_GUEST_MEMFD)) != 0) {
        return Errno.EINVAL.negative();
      }
      if (baseGfn != o.baseGfn()) {
        change = MemoryChange.MOVE;
      } else if (mem.flags() != o.flags()) {
        change = MemoryChange.FLAGS_ONLY;
      } else {
        return 0;
      }
    }
    if ((change == MemoryChange.CREATE || change == MemoryChange.MOVE)
        && slots.overlaps(mem.id(), baseGfn, baseGfn + npages)) {
      return Errno.EEXIST.negative();
    }
    MemorySlot updated =
        new MemorySlot(mem.asId(), mem.id(), baseGfn, npages, mem.userspaceAddr(), mem.flags(),
            pageShift);
    return setMemslot(old, updated, change);
  }

  /** {@code kvm_set_memslot}. */
  private int setMemslot(KvmMemslot old, MemorySlot updated, MemoryChange change) {
    slotsArchLock.lock();
    int asId = old != null ? old.slot().asId() : updated.asId();
    boolean invalidated = change == MemoryChange.DELETE || change == MemoryChange.MOVE;
    if (invalidated) {
      invalidateMemslot(old);
    }
    AtomicLongArray bitmap = prepareDirtyBitmap(old, updated, change);
    int r = arch.prepareMemoryRegion(old == null ? null : old.slot(), updated, change);
    if (r != 0) {
      if (invalidated) {
        activate(asId, memslots.active(asId).with(old, 0));
      } else {
        slotsArchLock.unlock();
      }
      return r;
    }
    MemslotSet current = memslots.active(asId);
    switch (change) {
      case CREATE:
      case MOVE:
      case FLAGS_ONLY:
        activate(asId, current.with(new KvmMemslot(updated, bitmap), 0));
        break;
      case DELETE:
        activate(asId, current.without(old.slot().id(), 0));
        break;
      default:
        throw new IllegalStateException("unknown change " + change);
    }
    commit(old, updated, change);
    return 0;
  }

  /**
   * {@code kvm_invalidate_memslot}: publish a copy flagged {@code KVM_MEMSLOT_INVALID} so new
   * faults retry, then have the arch drop every mapping of the old slot.
   */
  private void invalidateMemslot(KvmMemslot old) {
    MemorySlot invalid = old.slot().withFlags(old.slot().flags() | KVM_MEMSLOT_INVALID);
    int asId = old.slot().asId();
    activate(asId, memslots.active(asId).with(new KvmMemslot(invalid, old.dirtyBitmap()), 0));
    arch.flushShadowMemslot(old.slot());
    slotsArchLock.lock();
  }

  /** {@code kvm_swap_active_memslots}; releases slots_arch_lock as KVM does. */
  private void activate(int asId, MemslotSet next) {
    memslots.swapActive(asId, next, slotsArchLock::unlock, memslotsUpdated);
  }

  /** The bitmap half of {@code kvm_prepare_memory_region}. */
  private AtomicLongArray prepareDirtyBitmap(
      KvmMemslot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.DELETE || (updated.flags() & KVM_MEM_LOG_DIRTY_PAGES) == 0) {
      return null;
    }
    if (old != null && old.hasDirtyBitmap()) {
      return old.dirtyBitmap();
    }
    return KvmMemslot.allocDirtyBitmap(updated.npages(), dirtyLogMode.get().initiallySet());
  }

  /** {@code kvm_commit_memory_region}. */
  private void commit(KvmMemslot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.CREATE) {
      nrMemslotPages += updated.npages();
    } else if (change == MemoryChange.DELETE) {
      nrMemslotPages -= old.slot().npages();
    }
    MemorySlot named = updated != null ? updated : old.slot();
    int slot = named.asId() << 16 | named.id();
    log.emit(Tracepoint.COMMIT_MEMORY_REGION, slot, change.ordinal(), 0);
    arch.commitMemoryRegion(old == null ? null : old.slot(), updated, change);
    log.emit(Tracepoint.COMMIT_MEMORY_REGION_DONE, slot, change.ordinal(), 0);
  }
}

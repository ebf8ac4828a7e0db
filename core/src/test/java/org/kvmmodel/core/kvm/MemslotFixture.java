package org.kvmmodel.core.kvm;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.lenient;
import static org.mockito.Mockito.mock;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.sched.Srcu;
import org.kvmmodel.core.trace.EventLog;

/** The memslot, notifier and dirty-log machinery of one VM over a mocked arch. */
final class MemslotFixture {

  private static final MemslotLimits DEFAULT_LIMITS =
      new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL);

  final ArchMmu arch = mock(ArchMmu.class);
  final EventLog log = new EventLog(16);
  final KvmMmuLock lock;
  final Srcu srcu;
  final MnActiveInvalidations mnActive;
  final KvmMemslots memslots;
  final MmuInvalidate invalidate;
  final SetMemoryRegion setMemoryRegion;
  final DirtyLog dirtyLog;
  final KvmMmuNotifier notifier;
  final List<Long> generations = new ArrayList<>();
  int flushes;

  /** The machinery with every lock, SRCU and wait made by {@code scheduler}. */
  MemslotFixture(MemslotLimits limits, DirtyLogMode mode, Scheduler scheduler) {
    lenient().when(arch.prepareMemoryRegion(any(), any(), any())).thenReturn(0);
    lock = new KvmMmuLock(MmuLockKind.RWLOCK, scheduler, new EventLog(16));
    srcu = new Srcu(scheduler);
    mnActive = new MnActiveInvalidations(scheduler);
    invalidate = new MmuInvalidate(lock, scheduler);
    memslots = new KvmMemslots(limits.addressSpaces(), srcu, mnActive);
    dirtyLog = new DirtyLog(memslots, lock, arch, mode, () -> flushes++, limits.userMemSlots(), log,
        scheduler);
    setMemoryRegion = new SetMemoryRegion(memslots, limits, () -> dirtyLog.mode(), arch,
        generations::add, scheduler.newLock("slots_lock"), log, 12);
    notifier =
        new KvmMmuNotifier(
            memslots, lock, invalidate, mnActive, arch, () -> flushes++, false, (s, e) -> {},
            new EventLog(16));
  }

  MemslotFixture(MemslotLimits limits, DirtyLogMode mode) {
    this(limits, mode, FreeScheduler.INSTANCE);
  }

  MemslotFixture(Scheduler scheduler) {
    this(DEFAULT_LIMITS, DirtyLogMode.DEFAULT, scheduler);
  }

  MemslotFixture() {
    this(FreeScheduler.INSTANCE);
  }

  int set(int asId, int id, int flags, long gpa, long size, long hva) {
    return setMemoryRegion.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(UserspaceMemoryRegion2.slotId(asId, id), flags, gpa, size, hva));
  }

  int set(int id, int flags, long gpa, long size, long hva) {
    return set(0, id, flags, gpa, size, hva);
  }
}

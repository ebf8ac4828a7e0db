package org.kvmmodel.core.kvm;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.lenient;
import static org.mockito.Mockito.mock;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.Srcu;
import org.kvmmodel.core.trace.EventLog;

/** The memslot, notifier and dirty-log machinery of one VM over a mocked arch. */
final class MemslotFixture {

  final ArchMmu arch = mock(ArchMmu.class);
  final EventLog log = new EventLog(16);
  final KvmMmuLock lock = new KvmMmuLock(MmuLockKind.RWLOCK, FreeScheduler.INSTANCE, new EventLog(16));
  final Srcu srcu = new Srcu(FreeScheduler.INSTANCE);
  final MnActiveInvalidations mnActive = new MnActiveInvalidations(FreeScheduler.INSTANCE);
  final KvmMemslots memslots;
  final MmuInvalidate invalidate = new MmuInvalidate(lock);
  final SetMemoryRegion setMemoryRegion;
  final DirtyLog dirtyLog;
  final KvmMmuNotifier notifier;
  final List<Long> generations = new ArrayList<>();
  int flushes;

  MemslotFixture(MemslotLimits limits, DirtyLogMode mode) {
    lenient().when(arch.prepareMemoryRegion(any(), any(), any())).thenReturn(0);
    memslots = new KvmMemslots(limits.addressSpaces(), srcu, mnActive);
    setMemoryRegion = new SetMemoryRegion(memslots, limits, mode, arch, generations::add, log, 12);
    dirtyLog = new DirtyLog(memslots, lock, arch, mode, () -> flushes++, limits.userMemSlots(), log);
    notifier =
        new KvmMmuNotifier(
            memslots, lock, invalidate, mnActive, arch, () -> flushes++, false, (s, e) -> {},
            new EventLog(16));
  }

  MemslotFixture() {
    this(new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL), DirtyLogMode.DEFAULT);
  }

  int set(int asId, int id, int flags, long gpa, long size, long hva) {
    return setMemoryRegion.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(UserspaceMemoryRegion2.slotId(asId, id), flags, gpa, size, hva));
  }

  int set(int id, int flags, long gpa, long size, long hva) {
    return set(0, id, flags, gpa, size, hva);
  }
}

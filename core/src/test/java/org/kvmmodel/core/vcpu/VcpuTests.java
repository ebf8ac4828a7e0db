package org.kvmmodel.core.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.VcpuRequestTarget;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;

/** The vCPU loop over a scripted walker: TLB fills and hits, faults, requests and kicks. */
class VcpuTests {

  /** A stage-2 "table" of gfn → pfn (or -1), with write permission per gfn. */
  private final long[] pfnOf = new long[16];
  private final boolean[] writable = new boolean[16];
  private final List<String> handled = new ArrayList<>();

  private KvmInstance vm(Scheduler scheduler) {
    ArchMmu arch = mock(ArchMmu.class);
    when(arch.prepareMemoryRegion(any(), any(), any())).thenReturn(0);
    return KvmInstance.create(
        new KvmInstance.Spec(KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
            new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            DirtyLogMode.DEFAULT, false, false),
        new MmStruct(new HostMemory(1024, 0, 16)), scheduler, FaultInjector.none(),
        new EventLog(256), k -> arch);
  }

  private Vcpu vcpu(KvmInstance kvm, Scheduler scheduler) {
    java.util.Arrays.fill(pfnOf, -1);
    return new Vcpu(
        0, kvm,
        walk -> {
          int gfn = (int) walk.gfn(12);
          long pfn = pfnOf[gfn];
          int perms = GuestAccess.READ | (writable[gfn] ? GuestAccess.WRITE : 0);
          if (pfn >= 0 && (perms & walk.access()) == walk.access()) {
            walk.translated(pfn << 12, 1, perms);
          } else {
            walk.faulted(pfn >= 0, pfn >= 0 ? perms : 0, 0);
          }
        },
        (id, fault) -> {
          int gfn = (int) fault.gfn(12);
          handled.add(gfn + (fault.isWrite() ? "w" : "r"));
          if (gfn == 15) {
            return Errno.EFAULT.negative();
          }
          pfnOf[gfn] = 100 + gfn;
          writable[gfn] = writable[gfn] || fault.isWrite();
          return 0;
        },
        scheduler);
  }

  @Test
  void faultsFillTheTlbAndLaterAccessesHitIt() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    v.access(3 << 12, GuestAccess.READ);
    v.access(3 << 12, GuestAccess.READ);
    assertEquals(List.of("3r"), handled);
    assertEquals(103, v.tlb().cachedPfn(3));
    v.access(3 << 12, GuestAccess.WRITE);
    assertEquals(List.of("3r", "3w"), handled, "the cached entry was read-only");
    assertEquals(3, v.accesses());
    assertEquals(2, v.faults());
  }

  @Test
  void aRangedInvalidationDropsOnlyItsRangeBeforeTheNextAccess() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    v.access(2 << 12, GuestAccess.READ);
    v.access(3 << 12, GuestAccess.READ);
    v.invalidateRangeAndKick(2, 1);
    assertTrue(v.tlbInvalidationPending(2, 1));
    assertFalse(v.tlbInvalidationPending(3, 1));
    v.access(3 << 12, GuestAccess.READ);
    assertEquals(-1, v.tlb().cachedPfn(2), "dropped at entry");
    assertEquals(103, v.tlb().cachedPfn(3), "outside the range, kept");
    assertEquals(0, v.tlb().flushes());
    assertFalse(v.tlbInvalidationPending(2, 1), "the queue is drained");
  }

  @Test
  void aRangedInvalidationThatFindsTheQueueFullAsksForAWholeFlush() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    for (int i = 0; i < TlbRangeQueue.CAPACITY; i++) {
      v.invalidateRangeAndKick(i, 1);
    }
    assertFalse(v.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH));
    v.invalidateRangeAndKick(15, 1);
    assertTrue(v.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH));
    assertTrue(v.tlbInvalidationPending(15, 1));
  }

  @Test
  void aFlushRequestEmptiesTheTlbBeforeTheNextAccess() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    v.access(4 << 12, GuestAccess.READ);
    kvm.flushRemoteTlbs();
    pfnOf[4] = 200;
    v.access(4 << 12, GuestAccess.READ);
    assertEquals(200, v.tlb().cachedPfn(4), "refilled from the table after the flush");
    assertEquals(1, v.tlb().flushes());
  }

  @Test
  void withoutAFlushTheTlbKeepsAStaleTranslation() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    v.access(5 << 12, GuestAccess.READ);
    pfnOf[5] = -1;
    v.access(5 << 12, GuestAccess.READ);
    assertEquals(105, v.tlb().cachedPfn(5), "a TLB is exactly what needs flushing");
  }

  @Test
  void aFaultHandlerErrorExitsToUserspace() {
    KvmInstance kvm = vm(FreeScheduler.INSTANCE);
    Vcpu v = vcpu(kvm, FreeScheduler.INSTANCE);
    v.access(15 << 12, GuestAccess.READ);
    assertEquals(1, v.userspaceExits());
    assertEquals(Errno.EFAULT.negative(), v.lastExitError());
  }

  @Test
  void aKickedVcpuInGuestModeLeavesBeforeTheFlusherGoesOn() {
    for (long seed = 0; seed < 16; seed++) {
      DeterministicScheduler s =
          new DeterministicScheduler(ChoiceStream.seeded(seed), SchedulePolicy.RANDOM, 1, 1, 100_000);
      KvmInstance kvm = vm(s);
      Vcpu v = vcpu(kvm, s);
      pfnOf[6] = 106;
      List<String> order = new ArrayList<>();
      s.spawn("vcpu0", () -> {
        for (int i = 0; i < 20; i++) {
          v.access(6 << 12, GuestAccess.READ);
        }
      });
      s.spawn("flusher", () -> {
        kvm.flushRemoteTlbs();
        order.add("flushed mode=" + v.mode());
      });
      assertTrue(s.run().passed());
      assertTrue(order.get(0).equals("flushed mode=OUTSIDE_GUEST_MODE")
          || order.get(0).equals("flushed mode=IN_GUEST_MODE"), order.toString());
      assertEquals(20, v.accesses());
    }
  }
}

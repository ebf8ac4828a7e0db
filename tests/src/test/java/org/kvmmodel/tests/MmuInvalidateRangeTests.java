package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.MmuNotifier;
import org.kvmmodel.core.mm.MmuNotifierRange;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * What a fault sees while an mmu_notifier invalidation is in progress: x86 retries only a gfn
 * inside the merged range ({@code mmu_invalidate_retry_gfn} and its lockless
 * {@code mmu_invalidate_retry_gfn_unsafe} pre-check: {@code gfn >= start && gfn < end}), and
 * the range is reset when a new invalidation begins with none other in progress
 * ({@code kvm_mmu_invalidate_begin}); RISC-V and arm64 retry every gfn
 * ({@code mmu_invalidate_retry}). Each fault is taken from a second notifier that runs after
 * KVM's {@code invalidate_range_start} and before its {@code invalidate_range_end}, and is judged
 * by what the stage-2 table maps afterwards.
 */
class MmuInvalidateRangeTests {

  private static final long BYTES = 16 << 12;

  /** A notifier that runs {@code during} inside every invalidation, after KVM's start. */
  private static void duringInvalidations(KvmInstance kvm, Runnable during) {
    kvm.vmm().registerNotifier(new MmuNotifier() {
      @Override
      public int invalidateRangeStart(MmuNotifierRange range) {
        during.run();
        return 0;
      }

      @Override
      public void invalidateRangeEnd(MmuNotifierRange range) {}

      @Override
      public boolean clearFlushYoung(MmStruct mm, long start, long end) {
        return false;
      }

      @Override
      public boolean clearYoung(MmStruct mm, long start, long end) {
        return false;
      }

      @Override
      public boolean testYoung(MmStruct mm, long address) {
        return false;
      }

      @Override
      public void release(MmStruct mm) {}
    });
  }

  /**
   * Runs {@code body} as another task and waits for it: arm64 and RISC-V fault under mmap_lock
   * for read, which the invalidating thread holds already.
   */
  private static void onOtherThread(Runnable body) {
    Thread t = new Thread(body);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private static void zapPage(KvmInstance kvm, long gfn) {
    assertEquals(0, kvm.vmm().madviseDontneed(ArchVms.HVA + (gfn << 12), 1 << 12));
  }

  @Test
  void anX86FaultRetriesOnlyInsideTheInvalidatedRangeWhoseEndIsExclusive() {
    KvmInstance kvm = ArchVms.withTouchedSlot("x86", "ept4-ad", "", BYTES, 0);
    List<Long> inProgress = new ArrayList<>();
    duringInvalidations(kvm, () -> {
      inProgress.add((long) kvm.invalidate().inProgress());
      for (long gfn : new long[] {2, 3, 4}) {
        assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
      }
    });
    zapPage(kvm, 3);
    assertEquals(List.of(1L), inProgress, "the second notifier ran inside KVM's invalidation");
    assertNotEquals(0, ArchVms.leaf(kvm, 2), "below the range: mapped");
    assertEquals(0, ArchVms.leaf(kvm, 3), "the invalidated gfn: retried, nothing mapped");
    assertNotEquals(0, ArchVms.leaf(kvm, 4), "the range's end is exclusive: mapped");
    assertEquals(0, kvm.invalidate().inProgress());
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE));
    assertNotEquals(0, ArchVms.leaf(kvm, 3), "once the invalidation ended the fault maps");
  }

  @Test
  void aNewInvalidationStartsFromAnEmptyRangeNotThePreviousOne() {
    KvmInstance kvm = ArchVms.withTouchedSlot("x86", "ept4-ad", "", BYTES, 0);
    zapPage(kvm, 8);
    assertEquals(0, kvm.vmm().userWrite(ArchVms.HVA + (8L << 12)));
    long[] seen = new long[2];
    duringInvalidations(kvm, () -> {
      seen[0] = kvm.invalidate().rangeStart();
      seen[1] = kvm.invalidate().rangeEnd();
      assertEquals(0, ArchVms.access(kvm, 0, 8L << 12, GuestAccess.WRITE));
      assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE));
    });
    zapPage(kvm, 3);
    assertEquals(List.of(3L, 4L), List.of(seen[0], seen[1]));
    assertNotEquals(0, ArchVms.leaf(kvm, 8), "gfn 8's earlier invalidation no longer counts");
    assertEquals(0, ArchVms.leaf(kvm, 3));
    assertEquals(2, kvm.invalidate().seq(), "each invalidation bumped the sequence once");
  }

  /**
   * One invalidation over the hvas of two slots adds each slot's gfn range
   * ({@code kvm_mmu_invalidate_range_add}): the first is taken as is, the second widens it.
   */
  @Test
  void twoSlotsInOneInvalidationWidenTheRangeToCoverBoth() {
    KvmInstance kvm = ArchVms.create("x86", "ept4-ad", "");
    assertEquals(ArchVms.HVA,
        kvm.vmm().mmap(ArchVms.HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, 8 << 12, ArchVms.HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, 0, 16 << 12, 8 << 12, ArchVms.HVA + (8 << 12))));
    long[] seen = new long[2];
    duringInvalidations(kvm, () -> {
      seen[0] = kvm.invalidate().rangeStart();
      seen[1] = kvm.invalidate().rangeEnd();
    });
    assertEquals(0, kvm.vmm().madviseDontneed(ArchVms.HVA + (7L << 12), 2 << 12));
    assertEquals(List.of(7L, 17L), List.of(seen[0], seen[1]), "gfn 7 of slot 0 and 16 of slot 1");
  }

  @Test
  void riscvAndArm64RetryEveryGfnWhileAnyInvalidationIsInProgress() {
    for (String[] vm : new String[][] {{"riscv", "sv39x4-svade"}, {"arm64", "4k-ipa40"}}) {
      KvmInstance kvm = ArchVms.withTouchedSlot(vm[0], vm[1], "", BYTES, 0);
      int[] during = {Integer.MIN_VALUE};
      duringInvalidations(kvm, () -> onOtherThread(
          () -> during[0] = ArchVms.access(kvm, 0, 9L << 12, GuestAccess.WRITE)));
      zapPage(kvm, 3);
      assertEquals(0, during[0], vm[0] + ": the retried fault re-enters the guest");
      assertEquals(0, ArchVms.leaf(kvm, 9), vm[0] + ": mmu_invalidate_retry is whole-VM");
      assertEquals(0, ArchVms.access(kvm, 0, 9L << 12, GuestAccess.WRITE), vm[0]);
      assertTrue(ArchVms.writable(kvm, 9), vm[0] + ": mapped once the invalidation ended");
    }
  }
}

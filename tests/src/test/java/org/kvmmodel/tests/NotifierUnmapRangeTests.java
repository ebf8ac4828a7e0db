package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * Which stage-2 leaves an mmu_notifier invalidation zaps, on each real arch:
 * {@code __kvm_handle_hva_range} turns the host range into each overlapping slot's gfn range,
 * rounding its end up to a page ({@code hva_to_gfn_memslot(hva_end + PAGE_SIZE - 1)}), so
 * exactly the pages of the range are unmapped and their neighbours stay mapped; a range that
 * overlaps no slot takes no mmu_lock and leaves {@code mmu_invalidate_seq} alone; x86 asks for
 * one remote flush when it zapped something ({@code flush_on_ret}).
 */
class NotifierUnmapRangeTests {

  private static final long PAGES = 16;
  private static final List<String[]> ARCHES = List.of(
      new String[] {"x86", "ept4-ad"},
      new String[] {"arm64", "4k-ipa40"},
      new String[] {"riscv", "sv39x4-svade"});

  private static long hva(long page) {
    return ArchVms.HVA + (page << 12);
  }

  private static void map(KvmInstance kvm, long... gfns) {
    for (long gfn : gfns) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
      assertNotEquals(0, ArchVms.leaf(kvm, gfn));
    }
  }

  @Test
  void anInvalidationZapsExactlyItsPagesAndNotTheirNeighbours() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = ArchVms.withTouchedSlot(arch[0], arch[1], "", PAGES << 12, 0);
      map(kvm, 2, 3, 4, 5, 6);
      assertEquals(0, kvm.vmm().madviseDontneed(hva(3), 2 << 12));
      assertNotEquals(0, ArchVms.leaf(kvm, 2), arch[0] + ": below the range");
      assertEquals(0, ArchVms.leaf(kvm, 3), arch[0]);
      assertEquals(0, ArchVms.leaf(kvm, 4), arch[0]);
      assertNotEquals(0, ArchVms.leaf(kvm, 5), arch[0] + ": the range's end is exclusive");
      assertNotEquals(0, ArchVms.leaf(kvm, 6), arch[0]);
      assertEquals(1, kvm.invalidate().seq(), arch[0]);
    }
  }

  /**
   * A host range across two slots over one VMA zaps the tail of the first and the head of the
   * second, each by its own gfns.
   */
  @Test
  void aRangeAcrossTwoSlotsZapsEachSlotsOwnGfns() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = ArchVms.create(arch[0], arch[1], "");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, PAGES << 12,
          Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, 8 << 12, ArchVms.HVA)));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(1, 0, 64 << 12, 8 << 12, hva(8))));
      map(kvm, 6, 7, 64, 65);
      assertEquals(0, kvm.vmm().madviseDontneed(hva(7), 2 << 12));
      assertNotEquals(0, ArchVms.leaf(kvm, 6), arch[0]);
      assertEquals(0, ArchVms.leaf(kvm, 7), arch[0] + ": slot 0's last page");
      assertEquals(0, ArchVms.leaf(kvm, 64), arch[0] + ": slot 1's first page");
      assertNotEquals(0, ArchVms.leaf(kvm, 65), arch[0]);
      assertEquals(1, kvm.invalidate().seq(), arch[0] + ": one invalidation for both slots");
    }
  }

  @Test
  void aRangeOutsideEverySlotTakesNoLockAndLeavesTheSequence() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = ArchVms.withTouchedSlot(arch[0], arch[1], "", PAGES << 12, 0);
      map(kvm, 0);
      long outside = ArchVms.HVA + ArchVms.MB;
      assertEquals(outside, kvm.vmm().mmap(outside, PAGES << 12, Vma.VM_READ | Vma.VM_WRITE,
          VmaKind.ANON));
      assertEquals(0, kvm.vmm().userWrite(outside));
      long[] locks = new long[1];
      kvm.log().addListener((seq, tp, actor, a, b, c) -> {
        if (tp == Tracepoint.MMU_LOCK) {
          locks[0]++;
        }
      });
      long flushes = kvm.remoteTlbFlushes();
      assertEquals(0, kvm.vmm().madviseDontneed(outside, 1 << 12));
      assertEquals(0, locks[0], arch[0] + ": mmu_lock is taken only when a slot overlaps");
      assertEquals(0, kvm.invalidate().seq(), arch[0]);
      assertEquals(0, kvm.invalidate().inProgress(), arch[0]);
      assertEquals(flushes, kvm.remoteTlbFlushes(), arch[0]);
      assertNotEquals(0, ArchVms.leaf(kvm, 0), arch[0]);
    }
  }

  /** x86's {@code kvm_tdp_mmu_unmap_gfn_range} returns whether it zapped; common code flushes. */
  @Test
  void x86FlushesOnceWhenTheZapFoundALeafAndNotOtherwise() {
    KvmInstance kvm = ArchVms.withTouchedSlot("x86", "ept4-ad", "", PAGES << 12, 0);
    map(kvm, 3);
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.vmm().madviseDontneed(hva(9), 1 << 12));
    assertEquals(flushes, kvm.remoteTlbFlushes(), "nothing mapped there, nothing to flush");
    assertEquals(1, kvm.invalidate().seq(), "but the invalidation ran");
    assertEquals(0, kvm.vmm().madviseDontneed(hva(3), 1 << 12));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes());
    assertEquals(0, ArchVms.leaf(kvm, 3));
  }
}

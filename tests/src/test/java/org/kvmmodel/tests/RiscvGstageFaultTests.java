package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * RISC-V 6.13's G-stage fault path ({@code gstage_page_fault} → {@code kvm_riscv_gstage_map}),
 * judged by its return values, the leaves it leaves in page-table memory, the dirty bitmap and
 * the remote flushes: MMIO exits and {@code -EOPNOTSUPP} for accesses with no usable slot, the
 * errors of each step, dirty logging forcing read-only 4 KiB leaves for reads and marking the
 * gfn of every writable mapping, and {@code gstage_set_pte}'s {@code -EEXIST} for a huge leaf
 * in the way and its flush when the same leaf is stored again.
 */
class RiscvGstageFaultTests {

  private static final String CONFIG = "sv39x4-svade";
  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;

  private static KvmInstance vm(int flags) {
    return ArchVms.withTouchedSlot("riscv", CONFIG, "", BYTES, flags);
  }

  private static long[] harvest(KvmInstance kvm) {
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    return bitmap;
  }

  @Test
  void accessesWithNoSlotOrAStoreToAReadOnlySlotExitForUserspace() {
    KvmInstance kvm = vm(0);
    assertEquals(ArchVms.HVA + BYTES, kvm.vmm().mmap(ArchVms.HVA + BYTES, BYTES,
        Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        1, MemorySlot.KVM_MEM_READONLY, 0x100000, BYTES, ArchVms.HVA + BYTES)));
    long noSlot = 0x200000;
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, noSlot, GuestAccess.READ));
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, noSlot, GuestAccess.WRITE));
    assertEquals(Errno.EOPNOTSUPP.negative(), ArchVms.access(kvm, 0, noSlot, GuestAccess.EXEC));
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x100000, GuestAccess.WRITE),
        "a store to a read-only slot is MMIO");
    assertEquals(0, ArchVms.leaf(kvm, 0x100), "and maps nothing");
    assertEquals(0, ArchVms.access(kvm, 0, 0x100000, GuestAccess.READ));
    assertNotEquals(0, ArchVms.leaf(kvm, 0x100), "a load from a read-only slot is mapped");
    assertFalse(ArchVms.writable(kvm, 0x100), "read-only");
  }

  /**
   * Without dirty logging a read of a page the host maps writable gets a writable leaf
   * ({@code writable} from faultin); with logging a read gets a read-only one and logs
   * nothing, and a write a writable one and logs its gfn ({@code mark_page_dirty}).
   */
  @Test
  void dirtyLoggingMapsReadsReadOnlyAndLogsEveryWritableMapping() {
    KvmInstance plain = vm(0);
    assertEquals(0, ArchVms.access(plain, 0, 2L << 12, GuestAccess.READ));
    assertTrue(ArchVms.writable(plain, 2), "map_writable from faultin");

    KvmInstance kvm = vm(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.READ));
    assertNotEquals(0, ArchVms.leaf(kvm, 2));
    assertFalse(ArchVms.writable(kvm, 2), "a read while logging maps read-only");
    assertEquals(0, harvest(kvm)[0], "and logs nothing");
    assertEquals(0, ArchVms.access(kvm, 0, 5L << 12, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 5));
    assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 2), "the write fault made gfn 2 writable");
    assertEquals(1L << 2 | 1L << 5, harvest(kvm)[0], "both writable mappings were logged");
  }

  @Test
  void aSlotWhoseMemoryTheVmmUnmappedFaultsWithEfault() {
    KvmInstance kvm = vm(0);
    assertEquals(0, kvm.vmm().munmap(ArchVms.HVA, BYTES));
    assertEquals(Errno.EFAULT.negative(), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    assertEquals(0, ArchVms.leaf(kvm, 3));
  }

  @Test
  void errorsFromGupAndFromTheCacheTopupAreReturnedAndMapNothing() {
    String[][] cases = {
        {"gup-hwpoison", Integer.toString(Errno.EHWPOISON.negative())},
        {"gup-efault", Integer.toString(Errno.EFAULT.negative())},
        {"cache-enomem", Integer.toString(Errno.ENOMEM.negative())}};
    for (String[] c : cases) {
      KvmInstance kvm = ArchVms.create("riscv", CONFIG,
          "kvmmodel.fault-injection." + c[0] + " = 100");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE,
          VmaKind.ANON));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
      assertEquals(Integer.parseInt(c[1]), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE),
          c[0]);
      assertEquals(0, ArchVms.leaf(kvm, 3), c[0]);
    }
  }

  /**
   * A hugetlbfs slot maps a 2 MiB leaf; once logging is on a fault maps 4 KiB, and
   * {@code gstage_set_pte} finds the huge leaf on its way down: {@code -EEXIST}, the leaf kept
   * (6.13 neither splits nor replaces it).
   */
  @Test
  void aFourKibMappingUnderAHugeLeafIsEexistAndKeepsTheLeaf() {
    KvmInstance kvm = ArchVms.create("riscv", CONFIG, "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, 2 * ArchVms.MB,
        Vma.VM_READ | Vma.VM_WRITE, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, 2 * ArchVms.MB, ArchVms.HVA)));
    assertEquals(0, ArchVms.access(kvm, 0, 0x3000, GuestAccess.READ));
    assertEquals(1, ArchVms.leafLevel(kvm, 3), "a 2 MiB leaf");
    long huge = ArchVms.leaf(kvm, 3);
    assertEquals(huge, ArchVms.leaf(kvm, 0), "covering the whole block");
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * ArchVms.MB, ArchVms.HVA)));
    assertFalse(ArchVms.writable(kvm, 3), "enabling logging write-protected the aligned leaf");
    long protectedLeaf = ArchVms.leaf(kvm, 3);
    assertEquals(Errno.EEXIST.negative(), ArchVms.access(kvm, 0, 0x5000, GuestAccess.WRITE));
    assertEquals(protectedLeaf, ArchVms.leaf(kvm, 5), "the huge leaf is neither split nor replaced");
    assertEquals(1, ArchVms.leafLevel(kvm, 5));
  }

  /**
   * Two vCPUs fault on the same gfn; the second stores the leaf the first installed:
   * {@code gstage_set_pte} writes it again and flushes it all the same.
   */
  @Test
  void storingTheSameLeafAgainFlushesIt() {
    KvmInstance kvm = vm(0);
    Stage2Walk late = new Stage2Walk();
    late.begin(6L << 12, GuestAccess.WRITE);
    kvm.arch().walker().walk(late);
    assertFalse(late.translated());
    assertEquals(0, ArchVms.access(kvm, 0, 6L << 12, GuestAccess.WRITE));
    long leaf = ArchVms.leaf(kvm, 6);
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.arch().handleGuestFault(1, late));
    assertEquals(leaf, ArchVms.leaf(kvm, 6));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes(), "the unchanged leaf was flushed");
  }

  /** A hugetlbfs slot maps 2 MiB leaves unless it logs dirty pages; then 4 KiB ones. */
  @Test
  void hugetlbMemoryMapsHugeLeavesUnlessTheSlotLogs() {
    for (boolean logging : new boolean[] {false, true}) {
      KvmInstance kvm = ArchVms.create("riscv", CONFIG, "");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, 2 * ArchVms.MB,
          Vma.VM_READ | Vma.VM_WRITE, VmaKind.HUGETLB_PMD));
      assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0,
          logging ? MemorySlot.KVM_MEM_LOG_DIRTY_PAGES : 0, 0, 2 * ArchVms.MB, ArchVms.HVA)));
      assertEquals(0, ArchVms.access(kvm, 0, 0x7000, GuestAccess.WRITE));
      assertEquals(logging ? 0 : 1, ArchVms.leafLevel(kvm, 7), "logging " + logging);
      assertEquals(logging ? 1L << 7 : 0, harvestIfLogging(kvm, logging), "logging " + logging);
    }
  }

  private static long harvestIfLogging(KvmInstance kvm, boolean logging) {
    if (!logging) {
      return 0;
    }
    long[] bitmap = new long[8];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    return bitmap[0];
  }
}

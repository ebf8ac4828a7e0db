package org.kvmmodel.arch.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.arch.riscv.RiscvVm.MB;

import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/** kvm_riscv_gstage_map, gstage_page_fault, the walker and the hooks on a real VM. */
class GstageMmuTests {

  private static final long HVA = 0x7f0000000000L;
  private static final int READ = GuestAccess.READ;
  private static final int WRITE = GuestAccess.WRITE;

  private RiscvVm vm;
  private String expectedViolation;

  private RiscvVm vm(String configuration) {
    vm = new RiscvVm(new RiscvPlugin(), configuration);
    return vm;
  }

  /** Whatever a test did, no check found a violation but the one it expects. */
  @AfterEach
  void everyCheckHeld() {
    for (CheckResult r : vm.finish().values()) {
      if (expectedViolation != null && r.id().equals(DirtyProtectedCheck.ID)) {
        assertEquals(expectedViolation, r.violations().get(0).message());
      } else {
        assertTrue(r.violations().isEmpty(), r.toString());
      }
    }
  }

  /** An aging hook as common code calls it, with mmu_lock held. */
  private boolean locked(Predicate<GfnRange> hook, GfnRange range) {
    vm.kvm.mmuLock().lock();
    try {
      return hook.test(range);
    } finally {
      vm.kvm.mmuLock().unlock();
    }
  }

  private boolean age(GfnRange range) {
    return locked(vm.mmu::ageGfn, range);
  }

  private boolean testAge(GfnRange range) {
    return locked(vm.mmu::testAgeGfn, range);
  }

  @Test
  void aReadOfAnUntouchedPageMapsItReadOnlyAndAWriteMakesItWritableAfterAQuirkyRetry() {
    vm("sv39x4-svade").slot(0, 0, 0, 4 * MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x3000, READ);
    long ro = vm.leaf(3);
    assertEquals(GstagePte.mapPage(GstagePte.pfn(ro), true, true), ro);
    assertEquals(0, vm.leafLevel());
    vm.vcpu.access(0x3000, WRITE);
    long rw = vm.leaf(3);
    assertEquals(GstagePte.mapPage(GstagePte.pfn(rw), false, true), rw);
    assertEquals(0, vm.vcpu.userspaceExits());
    assertEquals(3, vm.vcpu.faults());
    expectedViolation = String.format("folio %#x marked dirty under mmu_lock after the retry check"
        + " failed (the invalidation sequence moved since the snapshot)", GstagePte.pfn(rw));
  }

  @Test
  void noSlotIsMmioAndAFetchThereIsEopnotsupp() {
    vm("sv48x4-svadu").slot(0, 0, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(16 * MB, READ);
    assertEquals(KvmExit.MMIO, vm.vcpu.lastExitReason());
    vm.vcpu.access(16 * MB, WRITE);
    assertEquals(KvmExit.MMIO, vm.vcpu.lastExitReason());
    vm.vcpu.access(16 * MB, GuestAccess.EXEC);
    assertEquals(Errno.EOPNOTSUPP.negative(), vm.vcpu.lastExitError());
    assertEquals(0, vm.leaf(16 * MB >>> 12));
  }

  @Test
  void aStoreToAReadOnlySlotIsMmioWhileALoadMapsItReadOnly() {
    vm("sv39x4-svade").slot(0, MemorySlot.KVM_MEM_READONLY, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x1000, WRITE);
    assertEquals(KvmExit.MMIO, vm.vcpu.lastExitReason());
    assertEquals(0, vm.leaf(1));
    vm.vcpu.access(0x1000, READ);
    assertEquals(1, vm.vcpu.userspaceExits());
    assertEquals(0, vm.leaf(1) & GstagePte.W);
    assertTrue(GstagePte.isLeaf(vm.leaf(1)));
  }

  @Test
  void hugetlbMemoryIsMappedWithTwoMibLeavesAtTheAlignedGfn() {
    vm("sv57x4-svade").slot(0, 0, 0, 8 * MB, HVA, VmaKind.HUGETLB_PMD);
    vm.vcpu.access(2 * MB + 0x5000, WRITE);
    long leaf = vm.leaf(0x205);
    assertEquals(1, vm.leafLevel());
    assertEquals(0, GstagePte.pfn(leaf) & 0x1ff);
    assertEquals(GstagePte.mapPage(GstagePte.pfn(leaf), false, true), leaf);
    assertEquals(leaf, vm.leaf(0x200));
  }

  @Test
  void dirtyLoggingForcesFourKibLeavesAndReadFaultsMapReadOnly() {
    vm("sv39x4-svadu")
        .slot(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA, VmaKind.HUGETLB_PMD);
    vm.vcpu.access(0x7000, WRITE);
    assertEquals(0, vm.leafLevel());
    assertTrue((vm.leaf(7) & GstagePte.W) != 0);
    vm.vcpu.access(0x8000, READ);
    assertEquals(0, vm.leaf(8) & GstagePte.W, "logging and a read fault: writable = false");
  }

  @Test
  void enablingLoggingOverAHugeLeafMakesTheNextStoreExitWithEexist() {
    vm("sv39x4-svade").slot(0, 0, 0, 4 * MB, HVA, VmaKind.HUGETLB_PMD);
    vm.vcpu.access(0x1000, WRITE);
    assertTrue((vm.leaf(1) & GstagePte.W) != 0);
    assertEquals(1, vm.leafLevel());
    assertEquals(0, vm.region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA));
    assertEquals(0, vm.leaf(1) & GstagePte.W, "gstage_wp_memory_region");
    vm.vcpu.access(0x1000, WRITE);
    assertEquals(Errno.EEXIST.negative(), vm.vcpu.lastExitError());
    assertEquals(0, vm.leaf(1) & GstagePte.W);
    assertEquals(1, vm.leafLevel(), "6.13 neither splits nor replaces the huge leaf");
  }

  @Test
  void prepareRejectsSlotsPastTheGpaSpaceReadOnlyVmasAndLoggingOverPfnmap() {
    vm("sv39x4-svade");
    long pastSv39x4 = (1L << 41) - MB;
    assertEquals(HVA, vm.kvm.vmm().mmap(HVA, MB, RiscvVm.RW, VmaKind.ANON));
    assertEquals(Errno.EFAULT.negative(), vm.region(0, 0, pastSv39x4, MB, HVA));
    assertEquals(0, vm.region(0, 0, pastSv39x4 - MB, MB, HVA));
    long readOnly = HVA + 16 * MB;
    assertEquals(readOnly, vm.kvm.vmm().mmap(readOnly, MB, Vma.VM_READ, VmaKind.ANON));
    assertEquals(Errno.EPERM.negative(), vm.region(1, 0, 16 * MB, MB, readOnly));
    assertEquals(0, vm.region(1, MemorySlot.KVM_MEM_READONLY, 16 * MB, MB, readOnly));
    long io = HVA + 32 * MB;
    assertEquals(io, vm.kvm.vmm().mmapPfn(io, MB, RiscvVm.RW, vm.kvm.memory().ioPfnBase()));
    assertEquals(Errno.EINVAL.negative(),
        vm.region(2, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 32 * MB, MB, io));
    assertEquals(0, vm.region(2, 0, 32 * MB, MB, io));
  }

  @Test
  void maskedReprotectionCoversTheFirstToTheLastSetGfn() {
    vm("sv48x4-svade").slot(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, MB, HVA, VmaKind.ANON);
    for (long gfn = 0; gfn < 6; gfn++) {
      vm.vcpu.access(gfn << 12, WRITE);
    }
    MemorySlot slot = vm.kvm.gfnToMemslot(0, 0);
    vm.kvm.mmuLock().lock();
    try {
      vm.mmu.enableLogDirtyPtMasked(slot, 1, 0b1001);
    } finally {
      vm.kvm.mmuLock().unlock();
    }
    for (long gfn = 0; gfn < 6; gfn++) {
      assertEquals(gfn >= 1 && gfn <= 4, (vm.leaf(gfn) & GstagePte.W) == 0, "gfn " + gfn);
    }
  }

  @Test
  void agingClearsAOfTheLeafAtTheRangeStartAndSvadeThenFaults() {
    vm("sv39x4-svade").slot(0, 0, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x2000, WRITE);
    GfnRange page = new GfnRange(vm.kvm.gfnToMemslot(0, 2), 2, 3, false);
    assertTrue(testAge(page));
    assertTrue(age(page));
    assertFalse(testAge(page));
    assertFalse(age(page));
    Stage2Walk walk = new Stage2Walk();
    walk.begin(0x2000, READ);
    vm.mmu.walker().walk(walk);
    assertFalse(walk.translated());
    assertTrue(walk.entryPresent());
    assertEquals(GstageWalker.EXC_LOAD_GUEST_PAGE_FAULT, walk.faultKind());
    vm.vcpu.tlb().flush();
    vm.vcpu.access(0x2000, READ);
    assertTrue(GstagePte.isYoung(vm.leaf(2)), "the refault maps the leaf again with A set");
  }

  @Test
  void svaduSetsAAndDInsteadOfFaulting() {
    vm("sv48x4-svadu").slot(0, 0, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x2000, WRITE);
    GfnRange page = new GfnRange(vm.kvm.gfnToMemslot(0, 2), 2, 3, false);
    assertTrue(age(page));
    Stage2Walker walker = vm.mmu.walker();
    Stage2Walk walk = new Stage2Walk();
    walk.begin(0x2008, WRITE);
    walker.walk(walk);
    assertTrue(walk.translated());
    assertEquals(0x8, walk.hpa() & 0xfff);
    assertTrue(testAge(page));
    walk.begin(0x3000, READ);
    walker.walk(walk);
    assertFalse(walk.translated());
    assertFalse(walk.entryPresent());
    assertEquals(GstageWalker.EXC_LOAD_GUEST_PAGE_FAULT, walk.faultKind());
  }

  @Test
  void theWalkerReportsMissingPermissionsWithTheAccessKind() {
    vm("sv57x4-svadu").slot(0, 0, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x4000, READ);
    Stage2Walk walk = new Stage2Walk();
    walk.begin(0x4000, WRITE);
    vm.mmu.walker().walk(walk);
    assertFalse(walk.translated());
    assertTrue(walk.entryPresent());
    assertEquals(GuestAccess.READ | GuestAccess.EXEC, walk.permissions());
    assertEquals(GstageWalker.EXC_STORE_GUEST_PAGE_FAULT, walk.faultKind());
    assertEquals(GstageWalker.EXC_INST_GUEST_PAGE_FAULT, GstageWalker.scause(GuestAccess.EXEC));
  }

  @Test
  void deletingASlotUnmapsItsLeaves() {
    vm("sv39x4-svadu").slot(0, 0, 0, MB, HVA, VmaKind.ANON);
    vm.vcpu.access(0x5000, WRITE);
    assertTrue(vm.leaf(5) != 0);
    assertEquals(0, vm.region(0, 0, 0, 0, HVA));
    assertEquals(0, vm.leaf(5));
  }
}

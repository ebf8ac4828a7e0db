package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.IsolationCheck;
import org.kvmmodel.core.check.LockDisciplineCheck;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.check.RefcountBalancedCheck;
import org.kvmmodel.core.check.TlbCoherentCheck;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyDriver;
import org.kvmmodel.tests.doubles.ToyVms;

/**
 * Every check is caught failing by a double with one deliberate bug, with the message asserted,
 * and passes on the correct double running the same program.
 */
class BrokenVariantsTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;
  private static final long READONLY_HVA = HVA + 4 * MB;
  private static final long READONLY_GFN = 0x400;

  /**
   * Demand-faults four pages for write, rewrites one, has a vCPU write all four through its
   * TLB, unmaps one, read-faults an untouched page (the host maps the zero page) and a page of a
   * read-only memslot, deletes that slot, and judges the run.
   */
  private static Map<String, CheckResult> run(Breakage breakage) {
    KvmInstance kvm = ToyVms.create(breakage);
    // The program harvests no dirty log, so DIRTY-LOG-COMPLETE has nothing to judge here.
    Checker checker = Checker.attach(kvm, Checker.ALL, id -> !id.equals(DirtyLogCompleteCheck.ID));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 4 * MB, HVA)));
    assertEquals(READONLY_HVA,
        kvm.vmm().mmap(READONLY_HVA, MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        1, MemorySlot.KVM_MEM_READONLY, READONLY_GFN << 12, MB, READONLY_HVA)));
    ToyDriver driver = new ToyDriver(kvm);
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    try {
      for (long gfn = 0; gfn < 4; gfn++) {
        driver.fault(gfn, true);
      }
      driver.fault(2, true);
      for (long gfn = 0; gfn < 4; gfn++) {
        vcpu.access(gfn << 12, GuestAccess.WRITE);
      }
      assertEquals(0, kvm.vmm().munmap(HVA + 4096, 4096));
      vcpu.access(1 << 12, GuestAccess.READ);
      assertEquals(0, driver.fault(8, false));
      assertEquals(0, driver.fault(READONLY_GFN, false));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(1, 0, READONLY_GFN << 12, 0, READONLY_HVA)));
    } catch (IllegalStateException hostNoticed) {
      // A double release frees a mapped folio, which the host reports as a bad page state;
      // the check has judged the release before that.
      assertEquals(Breakage.RELEASES_TWICE, breakage, hostNoticed.getMessage());
    }
    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    return results;
  }

  private static String firstMessage(CheckResult r) {
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    return r.violations().get(0).message();
  }

  @Test
  void theCorrectDoublePassesEveryCheck() {
    for (CheckResult r : run(Breakage.NONE).values()) {
      assertEquals(CheckStatus.PASS, r.status(), r.toString());
      assertTrue(r.judged() > 0, r.id());
    }
  }

  @Test
  void aFastPathThatMarksTheFolioDirtyIsCaughtByDirtyProtected() {
    assertTrue(firstMessage(run(Breakage.FAST_PATH_DIRTIES_FOLIO).get(DirtyProtectedCheck.ID))
        .matches("folio 0x[0-9a-f]+ marked dirty without mmu_lock held"));
  }

  @Test
  void aSlowPathThatSkipsTheRetryCheckIsCaughtByDirtyProtected() {
    assertTrue(firstMessage(run(Breakage.SKIPS_RETRY_CHECK).get(DirtyProtectedCheck.ID))
        .matches("folio 0x[0-9a-f]+ marked dirty under mmu_lock with no retry check passed under"
            + " this hold of mmu_lock after a snapshot taken before faultin"));
  }

  @Test
  void aFaultThatDoesNotReleaseIsCaughtByRefcountBalanced() {
    assertTrue(firstMessage(run(Breakage.NEVER_RELEASES).get(RefcountBalancedCheck.ID))
        .matches("1 reference\\(s\\) to folio 0x[0-9a-f]+ taken through kvm_follow_pfn were never"
            + " released"));
  }

  @Test
  void aDoubleReleaseIsCaughtByRefcountBalanced() {
    assertTrue(firstMessage(run(Breakage.RELEASES_TWICE).get(RefcountBalancedCheck.ID))
        .matches("kvm_release_page_dirty of folio 0x[0-9a-f]+, on which KVM holds no reference"
            + " \\(a double release\\)"));
  }

  @Test
  void anUnmapHookThatLeavesALeafIsCaughtByNoStaleMapping() {
    assertEquals(
        "invalidate_range_start returned while gfn 0x1 (hva 0x7f0000001000) is still mapped at"
            + " stage 2",
        firstMessage(run(Breakage.UNMAP_LEAVES_LEAF).get(NoStaleMappingCheck.ID)));
  }

  @Test
  void anUnmapHookThatDoesNotFlushIsCaughtByTlbCoherent() {
    CheckResult r = run(Breakage.UNMAP_WITHOUT_FLUSH).get(TlbCoherentCheck.ID);
    assertEquals(
        "mmu_lock released while vcpu0's TLB still translates gfn 0x1, which has no stage-2 leaf",
        firstMessage(r));
    assertEquals(
        "invalidate_range_start returned while vcpu0's TLB still translates gfn 0x1"
            + " (hva 0x7f0000001000)",
        r.violations().get(1).message());
  }

  @Test
  void anUnmapHookThatLeavesALeafAlsoLeavesItInTheTlb() {
    assertEquals(
        "invalidate_range_start returned while vcpu0's TLB still translates gfn 0x1"
            + " (hva 0x7f0000001000)",
        firstMessage(run(Breakage.UNMAP_LEAVES_LEAF).get(TlbCoherentCheck.ID)));
  }

  @Test
  void aGuestReachingAFreedFrameThroughAStaleLeafIsCaughtByIsolation() {
    assertTrue(firstMessage(run(Breakage.UNMAP_LEAVES_LEAF).get(IsolationCheck.ID))
        .matches("guest access to gpa 0x1000 reached frame 0x[0-9a-f]+, which is free"));
  }

  @Test
  void aWritableLeafInAReadOnlySlotIsCaughtByPermissions() {
    assertEquals("gfn 0x400 of read-only memslot 1 mapped writable at stage 2",
        firstMessage(run(Breakage.MAPS_READONLY_SLOT_WRITABLE).get(PermissionsCheck.ID)));
  }

  @Test
  void aWritableLeafOverTheZeroPageIsCaughtByPermissions() {
    assertTrue(firstMessage(run(Breakage.IGNORES_MAP_WRITABLE).get(PermissionsCheck.ID))
        .matches("gfn 0x8 mapped writable at stage 2 while its host page at hva 0x7f0000008000"
            + " is not writable \\(host pte 0x[0-9a-f]+\\)"));
  }

  @Test
  void aZapWithoutMmuLockIsCaughtByLockDiscipline() {
    assertEquals(
        "spte of gfn 0x400 changed atomically without mmu_lock outside an RCU read section",
        firstMessage(run(Breakage.ZAPS_SLOT_WITHOUT_MMU_LOCK).get(LockDisciplineCheck.ID)));
  }

  /**
   * The bugs this program reaches; the write-tracking ones need guest writes and the teardown
   * one a destroyed VM, the retried-release one a retry and the livelock a write-protected
   * leaf (their own tests). This program's walks never yield, so a yield's bug stays hidden.
   * The page-fault-test ones break no check: only that scenario's expectations catch them.
   */
  @ParameterizedTest
  @EnumSource(
      value = Breakage.class,
      mode = EnumSource.Mode.EXCLUDE,
      names = {"RELEASES_DIRTY_ONLY_FOR_WRITE", "REPROTECT_SKIPS_A_GFN", "FLUSH_ALL_LEAVES_A_LEAF",
          "RETRY_RELEASES_USED", "FAULT_WITHOUT_PROGRESS"})
  void eachBugFailsOnlyTheChecksItBreaks(Breakage breakage) {
    Map<String, CheckResult> results = run(breakage);
    for (CheckResult r : results.values()) {
      boolean expected =
          switch (breakage) {
            case FAST_PATH_DIRTIES_FOLIO, SKIPS_RETRY_CHECK -> r.id().equals(DirtyProtectedCheck.ID);
            case NEVER_RELEASES, RELEASES_TWICE -> r.id().equals(RefcountBalancedCheck.ID);
            case UNMAP_LEAVES_LEAF ->
                r.id().equals(NoStaleMappingCheck.ID)
                    || r.id().equals(TlbCoherentCheck.ID)
                    || r.id().equals(IsolationCheck.ID);
            case UNMAP_WITHOUT_FLUSH ->
                r.id().equals(TlbCoherentCheck.ID) || r.id().equals(IsolationCheck.ID);
            case MAPS_READONLY_SLOT_WRITABLE, IGNORES_MAP_WRITABLE ->
                r.id().equals(PermissionsCheck.ID);
            case ZAPS_SLOT_WITHOUT_MMU_LOCK, FAULTIN_UNDER_MMU_LOCK ->
                r.id().equals(LockDisciplineCheck.ID);
            case NONE, RELEASES_DIRTY_ONLY_FOR_WRITE, REPROTECT_SKIPS_A_GFN,
                FLUSH_ALL_LEAVES_A_LEAF, RETRY_RELEASES_USED, FAULT_WITHOUT_PROGRESS,
                EFAULTS_READONLY_SLOT_WRITES, INSTALLS_OLD_LEAVES,
                LOGS_EVERY_FAULT, YIELDS_WITH_FLUSH_PENDING -> false;
          };
      assertEquals(expected, r.status() == CheckStatus.FAIL, breakage + " " + r);
    }
  }
}

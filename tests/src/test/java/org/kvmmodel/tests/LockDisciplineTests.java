package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.LockDisciplineCheck;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.Tracepoint;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyDriver;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * The parts of LOCK-DISCIPLINE no plugin can break, because core owns them: table pages freed
 * only after a grace period that began after their unlink, and the slots_lock → mmu_lock order.
 */
class LockDisciplineTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  private KvmInstance kvm;
  private Checker checker;

  @BeforeEach
  void createVm() {
    createVm(ToyPlugin.spinlockWholeVm());
  }

  private void createVm(ToyPlugin plugin) {
    ModelSettings settings =
        ModelSettings.from(
            ConfigFactory.parseString("kvmmodel.arch = " + plugin.name())
                .withFallback(ConfigFactory.defaultReference())
                .resolve());
    kvm =
        KvmModel.create(settings, ArchPluginRegistry.of(List.of(plugin)), FreeScheduler.INSTANCE,
                ChoiceStream.seeded(1))
            .createVm();
    checker = Checker.attach(kvm, List.of(LockDisciplineCheck::new));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 4 * MB, HVA)));
  }

  private CheckResult result() {
    return checker.finish().get(0);
  }

  @Test
  void tablesZappedAndFreedAfterAGracePeriodPass() {
    ToyDriver driver = new ToyDriver(kvm);
    assertEquals(0, driver.fault(0, true));
    assertEquals(0, driver.fault(0x200, true));
    kvm.arch().flushShadowAll();
    long freedBefore = kvm.pageTablePages().freedPages();
    long judgedBefore = result().judged();
    kvm.synchronizeRcu();
    long freed = kvm.pageTablePages().freedPages() - freedBefore;
    assertTrue(freed > 0);
    CheckResult r = result();
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(freed + 1, r.judged() - judgedBefore, "each free judged, and synchronize_rcu");
  }

  @Test
  void aTableFreedWhenOnlyAGracePeriodBegunBeforeItsUnlinkHasEndedFails() {
    long table = 0x100000001000L;
    kvm.log().emit(Tracepoint.RCU_GRACE_PERIOD_START, 7, 0, 0);
    kvm.log().emit(Tracepoint.TABLE_UNLINKED, table, 1, 0);
    kvm.log().emit(Tracepoint.RCU_GRACE_PERIOD_END, 7, 0, 0);
    kvm.log().emit(Tracepoint.TABLE_FREED, table, 0, 0);
    CheckResult r = result();
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    assertEquals(
        "page table 0x100000001000 freed before an RCU grace period that began after its unlink"
            + " had ended",
        r.violations().get(0).message());
  }

  @Test
  void slotsLockTakenWithMmuLockHeldFails() {
    kvm.mmuLock().lock();
    try {
      assertEquals(0,
          kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(1, 0, 8 * MB, MB, HVA + 8 * MB)));
    } finally {
      kvm.mmuLock().unlock();
    }
    CheckResult r = result();
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    assertEquals(
        "slots_lock taken with mmu_lock held (KVM's order is kvm->lock, slots_lock, mmu_lock)",
        r.violations().get(0).message());
    assertTrue(r.violations().get(1).message().startsWith(
        "mutex_lock(&kvm->slots_lock) may sleep but was reached with mmu_lock held ("),
        r.violations().get(1).message());
  }

  @Test
  void faultinOutsideMmuLockPassesAndEverySleepingPointIsJudged() {
    ToyDriver driver = new ToyDriver(kvm);
    long judgedBefore = result().judged();
    assertEquals(0, driver.fault(0, true));
    CheckResult r = result();
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    // hva_to_pfn, slow GUP's mmap_lock (judged as a sleep and for order), the cache top-up,
    // and the SPTE writes of the install.
    assertTrue(r.judged() - judgedBefore > 4, r.toString());
  }

  @Test
  void faultinUnderASpinlockMmuLockIsCaughtSleeping() {
    createVm(ToyPlugin.broken(Breakage.FAULTIN_UNDER_MMU_LOCK));
    assertEquals(0, kvm.vmm().userWrite(HVA));
    // The host process faulted the page in, so fast GUP finds it and mmap_lock is not taken.
    assertEquals(0, new ToyDriver(kvm).fault(0, true));
    CheckResult r = result();
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    assertEquals(
        "hva_to_pfn may sleep but was reached with mmu_lock held (a spinlock): nothing may sleep"
            + " under a spinning lock",
        r.violations().get(0).message());
    assertTrue(r.violations().stream().noneMatch(v -> v.message().contains("mmap_lock")),
        r.toString());
  }

  @Test
  void mmapLockTakenUnderMmuLockIsCaughtAsTheInverseOrder() {
    createVm(ToyPlugin.broken(Breakage.FAULTIN_UNDER_MMU_LOCK));
    // No host page yet: slow GUP takes mmap_lock for read, under mmu_lock.
    assertEquals(0, new ToyDriver(kvm).fault(0, true));
    List<String> messages =
        result().violations().stream().map(v -> v.message()).collect(Collectors.toList());
    assertTrue(messages.contains(
        "mmap_lock taken with mmu_lock held (mmu_notifier callbacks run under mmap_lock and take"
            + " mmu_lock, so the order is mmap_lock, then mmu_lock)"), messages.toString());
    assertTrue(messages.contains(
        "mmap_read_lock may sleep but was reached with mmu_lock held (a spinlock): nothing may"
            + " sleep under a spinning lock"), messages.toString());
  }

  @Test
  void aNotifierCallbackTakesMmuLockUnderMmapLockWhichIsKvmsOrder() {
    ToyDriver driver = new ToyDriver(kvm);
    assertEquals(0, driver.fault(0, true));
    long judgedBefore = result().judged();
    assertEquals(0, kvm.vmm().munmap(HVA, 4096));
    CheckResult r = result();
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertTrue(r.judged() > judgedBefore, "munmap's mmap_write_lock judged");
  }

  @Test
  void synchronizeRcuUnderMmuLockIsCaughtSleeping() {
    kvm.mmuLock().lock();
    try {
      kvm.synchronizeRcu();
    } finally {
      kvm.mmuLock().unlock();
    }
    assertEquals(
        "synchronize_rcu may sleep but was reached with mmu_lock held (a spinlock): nothing may"
            + " sleep under a spinning lock",
        result().violations().get(0).message());
  }
}

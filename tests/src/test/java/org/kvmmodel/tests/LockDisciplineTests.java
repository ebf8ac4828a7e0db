package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
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
    ToyPlugin plugin = ToyPlugin.spinlockWholeVm();
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
    assertEquals(freed, r.judged() - judgedBefore, "each free judged");
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
  }
}

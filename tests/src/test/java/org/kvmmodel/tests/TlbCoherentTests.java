package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.TlbCoherentCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceReport;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.CoverageRow;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyDriver;
import org.kvmmodel.tests.doubles.ToyVms;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * TLB-COHERENT leaves alone the flushes KVM defers past mmu_lock on purpose: dirty logging's
 * write-protection when logging is turned on and when a harvest re-protects the gfns it
 * reported. It judges a long walk's yield of mmu_lock like an unlock, so a zap that yields
 * with its flush pending is caught.
 */
class TlbCoherentTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  @Test
  void dirtyLogWriteProtectionFlushedAfterUnlockIsNotAViolation() {
    ToyPlugin plugin = ToyPlugin.spinlockWholeVm();
    ModelSettings settings =
        ModelSettings.from(
            ConfigFactory.parseString("kvmmodel.arch = " + plugin.name())
                .withFallback(ConfigFactory.defaultReference())
                .resolve());
    KvmInstance kvm =
        KvmModel.create(settings, ArchPluginRegistry.of(List.of(plugin)), FreeScheduler.INSTANCE,
                ChoiceStream.seeded(1))
            .createVm();
    Checker checker = Checker.attach(kvm, List.of(TlbCoherentCheck::new));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 4 * MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu.access(0, GuestAccess.WRITE);
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA)));
    vcpu.access(0, GuestAccess.WRITE);
    assertTrue((vcpu.tlb().cachedPermissions(0) & GuestAccess.WRITE) != 0);
    long[] bitmap = new long[16];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1, bitmap[0]);
    vcpu.access(4096, GuestAccess.READ);
    assertTrue((vcpu.tlb().cachedPermissions(0) & GuestAccess.WRITE) == 0,
        "the harvest's flush reached the vCPU before its next access");
    CheckResult r = checker.finish().get(0);
    assertEquals(List.of(), r.violations(), r.toString());
  }

  /**
   * The guest writes page 0 through a leaf its TLB caches; the host drops the page; the guest's
   * next fault on it (driven directly, past the TLB) maps the new frame. Returns TLB-COHERENT.
   */
  private static CheckResult refaultAfterDrop(Breakage breakage) {
    KvmInstance kvm = ToyVms.create(breakage);
    Checker checker = Checker.attach(kvm, List.of(TlbCoherentCheck::new));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 4 * MB, HVA)));
    ToyVms.vcpu(kvm, 0).access(0, GuestAccess.WRITE);
    kvm.vmm().madviseDontneed(HVA, 4096);
    assertEquals(0, new ToyDriver(kvm).fault(0, true));
    return checker.finish().get(0);
  }

  @Test
  void aLeafInstalledWhileTheTlbHoldsTheOldFrameIsCaught() {
    CheckResult r = refaultAfterDrop(Breakage.UNMAP_WITHOUT_FLUSH);
    Violation v = r.violations().stream()
        .filter(x -> x.kind().equals("stale-translation-at-install")).findFirst().orElseThrow();
    assertTrue(v.message().matches("a leaf mapping gfn 0x0 to pfn 0x[0-9a-f]+ was installed while"
        + " vcpu0's TLB still translates it to pfn 0x[0-9a-f]+"), v.message());
  }

  @Test
  void aLeafInstalledAfterTheFlushFindsTheTlbClean() {
    CheckResult r = refaultAfterDrop(Breakage.NONE);
    assertEquals(List.of(), r.violations(), r.toString());
    assertTrue(r.situations().getOrDefault("install-over=empty", 0L) > 0, r.toString());
  }

  private static ConformanceReport hugePages(ToyPlugin plugin) {
    return Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
        List.of(plugin), List.of(Scenarios.byName("huge-pages")), 8, done -> {});
  }

  private static ConformanceRow tlbCoherent(ConformanceReport report) {
    return report.rows().stream().filter(r -> r.check().equals(TlbCoherentCheck.ID)).findFirst()
        .orElseThrow();
  }

  @Test
  void aZapThatYieldsWithItsFlushPendingIsCaught() {
    ConformanceRow row =
        tlbCoherent(hugePages(ToyPlugin.broken(Breakage.YIELDS_WITH_FLUSH_PENDING)));
    assertEquals(CheckStatus.FAIL, row.status(), row.toString());
    assertTrue(row.message().matches("mmu_lock yielded by cond_resched while vcpu\\d's TLB still"
        + " translates gfn 0x[0-9a-f]+, which has no stage-2 leaf"), row.message());
  }

  @Test
  void theCorrectZapYieldsAfterFlushing() {
    ConformanceReport report = hugePages(ToyPlugin.broken(Breakage.NONE));
    assertEquals(CheckStatus.PASS, tlbCoherent(report).status(), tlbCoherent(report).toString());
    CoverageRow yielded = report.coverage().stream()
        .filter(c -> c.check().equals(TlbCoherentCheck.ID)
            && c.kind().equals("when=mmu-lock-yielded"))
        .findFirst().orElseThrow();
    assertTrue(yielded.judged() > 0, "the walks yielded: " + yielded);
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.LivenessCheck;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyVms;
import org.kvmmodel.mutants.X86Variant;

/**
 * LIVENESS catches a fault handler that returns without changing what made the access fault,
 * and passes the correct double running the same accesses, which re-fault only where something
 * changed; and it catches faults that keep taking mmu_lock from a zap only to retry, where x86
 * checks for the invalidation before faultin and lets the zap finish.
 */
class LivenessTests {

  private static final long HVA = 0x7f0000000000L;

  /**
   * A logged slot, driven from the test's own thread (the actor {@code main}): the guest writes page 3, a harvest write-protects it, the guest writes it
   * again (a permission fault on a present read-only leaf); returns LIVENESS' verdict.
   */
  private static CheckResult writeHarvestWrite(Breakage breakage) {
    KvmInstance kvm = ToyVms.create(breakage);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 0x10000, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 0x10000, HVA)));
    Checker checker = Checker.attach(kvm, List.of(LivenessCheck::new));
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    vcpu.access(0x3000, GuestAccess.WRITE);
    assertEquals(0, kvm.getDirtyLog(0, new long[1]));
    if (breakage == Breakage.NONE) {
      vcpu.access(0x3000, GuestAccess.WRITE);
    } else {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> vcpu.access(0x3000, GuestAccess.WRITE));
      assertTrue(e.getMessage().startsWith("vcpu0: access to gpa 0x3000 re-executed"),
          e.getMessage());
    }
    return checker.finish().get(0);
  }

  @Test
  void aFaultThatFixesNothingIsALivelock() {
    CheckResult r = writeHarvestWrite(Breakage.FAULT_WITHOUT_PROGRESS);
    assertEquals(CheckStatus.FAIL, r.status());
    assertEquals(1, r.violations().size(), r.toString());
    assertEquals("fault-livelock", r.violations().get(0).kind());
    assertEquals("main faulted 17 times in a row at gpa 0x3000 with nothing changing in between:"
        + " the fault handler does not change the state that made the access fault",
        r.violations().get(0).message());
  }

  private static ConformanceRow livenessOnHugePages(ArchPlugin plugin) {
    return Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
            List.of(plugin), List.of(Scenarios.byName("huge-pages")), 8, done -> {}).rows()
        .stream().filter(r -> r.check().equals(LivenessCheck.ID)
            && r.configuration().equals("ept4-ad"))
        .findFirst().orElseThrow();
  }

  @Test
  void faultsThatTakeTheLockOnlyToRetryLivelockAZap() {
    ConformanceRow row = livenessOnHugePages(new X86Variant(X86Variant.X86Breakage.NO_EARLY_RETRY));
    assertEquals(CheckStatus.FAIL, row.status(), row.toString());
    assertTrue(row.message().matches("host's invalidation of hva \\[0x[0-9a-f]+, 0x[0-9a-f]+\\) was"
        + " still zapping when vcpu\\d's fault became the 17th to take mmu_lock only to retry:"
        + " faults in a range under invalidation contend for the lock the zap needs, and a"
        + " contended zap yields to each of them"), row.message());
  }

  @Test
  void faultsThatRetryBeforeTakingTheLockLetTheZapFinish() {
    ConformanceRow row = livenessOnHugePages(new X86Plugin());
    assertEquals(CheckStatus.PASS, row.status(), row.toString());
  }

  @Test
  void theCorrectDoubleMakesProgress() {
    CheckResult r = writeHarvestWrite(Breakage.NONE);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(2, r.judged(), "two faults, one per write");
  }
}

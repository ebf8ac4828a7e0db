package org.kvmmodel.arch.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.arch.riscv.RiscvVm.MB;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.Scenarios;

/**
 * Variants of kvm_riscv_gstage_map: the 6.13 release rule against one that releases a retried
 * fault's page unused, and a broken map that ignores a read-only slot.
 */
class GstageMapVariantTests {

  /** Releases the page unused when the retry check fired: a corrected variant. */
  private static final class ReleaseUnusedOnRetry extends GstageMap {
    ReleaseUnusedOnRetry(Kvm kvm, GstageMode mode, RadixMmuOps ops) {
      super(kvm, mode, ops);
    }

    @Override
    boolean releaseUnused(int ret, boolean retried) {
      return retried || super.releaseUnused(ret, retried);
    }
  }

  /** Maps every leaf writable, whatever faultin and the slot said. */
  private static final class WritableForReadOnlySlot extends GstageMap {
    WritableForReadOnlySlot(Kvm kvm, GstageMode mode, RadixMmuOps ops) {
      super(kvm, mode, ops);
    }

    @Override
    long leaf(long hfn, boolean writable) {
      return super.leaf(hfn, true);
    }
  }

  private static List<ConformanceRow> dirtyProtected(RiscvPlugin plugin) {
    List<ConformanceRow> rows =
        Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
            List.of(plugin), Scenarios.all(), 8, done -> {}).rows();
    return rows.stream().filter(r -> r.check().equals(DirtyProtectedCheck.ID)
        && r.status() != CheckStatus.NOT_APPLICABLE).toList();
  }

  /** The cells the plugin can run: every configuration × every scenario that runs on it. */
  private static long runnableCells(RiscvPlugin plugin) {
    return plugin.configurations().stream()
        .mapToLong(c -> Scenarios.all().stream().filter(s -> s.unsupportedReason(c) == null).count())
        .sum();
  }

  @Test
  void the613RetryReleaseIsAKnownDivergenceOfDirtyProtected() {
    RiscvPlugin plugin = new RiscvPlugin();
    List<ConformanceRow> rows = dirtyProtected(plugin);
    assertEquals(runnableCells(plugin), rows.size());
    for (ConformanceRow row : rows) {
      assertEquals(CheckStatus.KNOWN_DIVERGENCE, row.status(), row.toString());
      assertTrue(row.message().startsWith("unfixed in mainline (kvm_riscv_gstage_map: a fault whose"
          + " retry check fired maps nothing and releases its page dirty): folio 0x"),
          row.message());
      assertTrue(row.message().endsWith(" marked dirty under mmu_lock after the retry check failed"
          + " (the invalidation sequence moved since the snapshot)"), row.message());
    }
  }

  @Test
  void releasingARetriedFaultsPageUnusedPassesDirtyProtected() {
    for (ConformanceRow row : dirtyProtected(new RiscvPlugin(ReleaseUnusedOnRetry::new))) {
      assertEquals(CheckStatus.PASS, row.status(), row.toString());
      assertTrue(row.judged() > 0, row.toString());
    }
  }

  @Test
  void aWritableLeafForAReadOnlySlotIsCaughtByPermissions() {
    RiscvVm vm = new RiscvVm(new RiscvPlugin(WritableForReadOnlySlot::new), "sv48x4-svadu");
    vm.slot(1, MemorySlot.KVM_MEM_READONLY, 0x400L << 12, MB, 0x7f0000000000L, VmaKind.ANON);
    vm.vcpu.access(0x400L << 12, GuestAccess.READ);
    Map<String, CheckResult> results = vm.finish();
    CheckResult permissions = results.get(PermissionsCheck.ID);
    assertEquals(CheckStatus.FAIL, permissions.status());
    assertEquals("gfn 0x400 of read-only memslot 1 mapped writable at stage 2",
        permissions.violations().get(0).message());
  }

  @Test
  void theKernelsMapOfTheSameReadOnlySlotPassesPermissions() {
    RiscvVm vm = new RiscvVm(new RiscvPlugin(), "sv48x4-svadu");
    vm.slot(1, MemorySlot.KVM_MEM_READONLY, 0x400L << 12, MB, 0x7f0000000000L, VmaKind.ANON);
    vm.vcpu.access(0x400L << 12, GuestAccess.READ);
    CheckResult permissions = vm.finish().get(PermissionsCheck.ID);
    assertEquals(CheckStatus.PASS, permissions.status());
    assertTrue(permissions.judged() > 0);
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * A failure the plugin declares for the modelled kernel version, in the kernel function it
 * names, is reported, not failed; the same check broken in another function still fails.
 */
class KnownDivergenceTests {

  private static ConformanceRow dirtyProtected(ToyPlugin plugin) {
    List<ConformanceRow> rows =
        Conformance.run(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
            List.of(plugin), List.of(Scenarios.byName("demand-paging")), 4, done -> {});
    return rows.stream().filter(r -> r.check().equals(DirtyProtectedCheck.ID)).findFirst()
        .orElseThrow();
  }

  @Test
  void aDeclaredDivergenceIsReportedWithItsCitation() {
    ToyPlugin declared =
        ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK)
            .declaring(new KnownDivergence(DirtyProtectedCheck.ID, ToyPlugin.FAULT_FUNCTION, null));
    ConformanceRow row = dirtyProtected(declared);
    assertEquals(CheckStatus.KNOWN_DIVERGENCE, row.status());
    assertTrue(row.message().startsWith("unfixed in mainline (toy_page_fault): folio 0x"),
        row.message());
    assertTrue(!row.status().failsRun());
  }

  @Test
  void aDivergenceDeclaredInAnotherFunctionDoesNotCoverTheFaultPath() {
    ToyPlugin declared =
        ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK)
            .declaring(new KnownDivergence(DirtyProtectedCheck.ID, "kvm_vm_ioctl_mte_copy_tags",
                null));
    ConformanceRow row = dirtyProtected(declared);
    assertEquals(CheckStatus.FAIL, row.status());
    assertTrue(row.message().contains("marked dirty under mmu_lock"), row.message());
  }

  @Test
  void anUndeclaredFailureStillFails() {
    ConformanceRow row = dirtyProtected(ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK));
    assertEquals(CheckStatus.FAIL, row.status());
  }

  @Test
  void aFixedDivergenceCitesTheFixingCommit() {
    assertEquals("fixed by \"KVM: x: fix\" (f)", new KnownDivergence("C", "f", "KVM: x: fix").citation());
  }

  @Test
  void aDivergenceCoversItsCheckOnlyInItsFunction() {
    KnownDivergence d = new KnownDivergence("C", "f", null);
    assertTrue(d.covers("C", "f"));
    assertTrue(!d.covers("C", "g"));
    assertTrue(!d.covers("C", null));
    assertTrue(!d.covers("D", "f"));
  }
}

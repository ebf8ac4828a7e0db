package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KernelEvent;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.ViolationEvidence;
import org.kvmmodel.api.ViolationSignature;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.arch.riscv.RiscvPlugin;
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
 * names and with the signature of what happens there, is reported, not failed; the same check
 * broken in another function, or broken differently in the same function, still fails.
 */
class KnownDivergenceTests {

  /** The toy's rendering of RISC-V 6.13's retried fault that releases its page used. */
  private static final ViolationSignature RETRIED_RELEASED_DIRTY =
      ViolationSignature.of(
          "a fault whose retry check fired releases its page dirty",
          v -> v.kind().equals("retry-fired")
              && v.sinceLast("mmu_lock").saw("mmu_invalidate_retry", "retry", 1)
              && v.sinceLast("mmu_lock").saw("kvm_release_page_dirty"));

  private static final KnownDivergence IN_TOY_FAULT =
      new KnownDivergence(DirtyProtectedCheck.ID, ToyPlugin.FAULT_FUNCTION, RETRIED_RELEASED_DIRTY,
          null);

  private static ConformanceRow dirtyProtected(ToyPlugin plugin) {
    List<ConformanceRow> rows =
        Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
            List.of(plugin), List.of(Scenarios.byName("writeback-storm")), 6, done -> {}).rows();
    return rows.stream().filter(r -> r.check().equals(DirtyProtectedCheck.ID)).findFirst()
        .orElseThrow();
  }

  @Test
  void aDeclaredDivergenceIsReportedWithItsCitation() {
    ConformanceRow row =
        dirtyProtected(ToyPlugin.broken(Breakage.RETRY_RELEASES_USED).declaring(IN_TOY_FAULT));
    assertEquals(CheckStatus.KNOWN_DIVERGENCE, row.status(), row.toString());
    assertTrue(row.message().startsWith("unfixed in mainline (toy_page_fault: a fault whose retry"
        + " check fired releases its page dirty): folio 0x"), row.message());
    assertTrue(row.message().endsWith("marked dirty under mmu_lock after the retry check failed"
        + " (the invalidation sequence moved since the snapshot)"), row.message());
    assertFalse(row.status().failsRun());
  }

  @Test
  void aSecondBugInTheSameFunctionStillFails() {
    ConformanceRow row =
        dirtyProtected(ToyPlugin.broken(Breakage.RETRY_RELEASES_USED,
            Breakage.FAST_PATH_DIRTIES_FOLIO).declaring(IN_TOY_FAULT));
    assertEquals(CheckStatus.FAIL, row.status(), row.toString());
    assertTrue(row.message().endsWith("marked dirty without mmu_lock held"), row.message());
  }

  @Test
  void aBugOfAnotherKindInTheSameFunctionIsNotCovered() {
    ConformanceRow row =
        dirtyProtected(ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK).declaring(IN_TOY_FAULT));
    assertEquals(CheckStatus.FAIL, row.status(), row.toString());
    assertTrue(row.message().endsWith("marked dirty under mmu_lock with no retry check passed"
        + " under this hold of mmu_lock after a snapshot taken before faultin"), row.message());
  }

  @Test
  void aDivergenceDeclaredInAnotherFunctionDoesNotCoverTheFaultPath() {
    ToyPlugin declared =
        ToyPlugin.broken(Breakage.RETRY_RELEASES_USED)
            .declaring(new KnownDivergence(DirtyProtectedCheck.ID, "kvm_vm_ioctl_mte_copy_tags",
                RETRIED_RELEASED_DIRTY, null));
    ConformanceRow row = dirtyProtected(declared);
    assertEquals(CheckStatus.FAIL, row.status());
    assertTrue(row.message().contains("marked dirty under mmu_lock"), row.message());
  }

  @Test
  void anUndeclaredFailureStillFails() {
    ConformanceRow row = dirtyProtected(ToyPlugin.broken(Breakage.RETRY_RELEASES_USED));
    assertEquals(CheckStatus.FAIL, row.status());
  }

  @Test
  void aFixedDivergenceCitesTheFixingCommitAndItsSignature() {
    assertEquals("fixed by \"KVM: x: fix\" (f: a violation of kind k)",
        new KnownDivergence("C", "f", ViolationSignature.ofKind("k"), "KVM: x: fix").citation());
  }

  @Test
  void aDivergenceCoversItsCheckOnlyInItsFunctionAndWithItsSignature() {
    KnownDivergence d = new KnownDivergence("C", "f", ViolationSignature.ofKind("k"), null);
    assertTrue(d.covers(new ViolationEvidence("C", "f", "k", List.of())));
    assertFalse(d.covers(new ViolationEvidence("C", "f", "other", List.of())));
    assertFalse(d.covers(new ViolationEvidence("C", "g", "k", List.of())));
    assertFalse(d.covers(new ViolationEvidence("C", null, "k", List.of())));
    assertFalse(d.covers(new ViolationEvidence("D", "f", "k", List.of())));
  }

  @Test
  void evidenceReadsTheLastHoldOfALock() {
    ViolationEvidence v = new ViolationEvidence("C", "f", "k", List.of(
        new KernelEvent("mmu_lock", Map.of("exclusive", 1L)),
        new KernelEvent("mmu_invalidate_retry", Map.of("gfn", 0L, "mmu_seq", 2L, "retry", 1L)),
        new KernelEvent("mmu_unlock", Map.of("exclusive", 1L)),
        new KernelEvent("mmu_lock", Map.of("exclusive", 1L)),
        new KernelEvent("folio_mark_dirty", Map.of("page", 0x10L, "mmu_lock", 1L, "pinned", 0L))));
    assertTrue(v.saw("mmu_invalidate_retry", "retry", 1));
    assertFalse(v.sinceLast("mmu_lock").saw("mmu_invalidate_retry"));
    assertEquals(2, v.sinceLast("mmu_lock").events().size());
    assertTrue(v.sinceLast("kvm_release_page_dirty").events().isEmpty());
  }

  /**
   * RISC-V 6.13's LIVENESS declaration covers the zap livelock of its fault path (no lockless
   * retry pre-check, a zap that yields per page), in that function only, and not a fault
   * livelock there: a fault that fixes nothing would still fail.
   */
  @Test
  void riscvDeclaresTheZapLivelockOfItsFaultPathAndNothingElseOfLiveness() {
    List<KnownDivergence> liveness = new RiscvPlugin().knownDivergences(KvmVersion.DEFAULT)
        .stream().filter(d -> d.check().equals("LIVENESS")).toList();
    KnownDivergence declared = liveness.get(0);
    assertEquals("kvm_riscv_gstage_map", declared.kernelFunction());
    assertTrue(declared.signature().matches(new ViolationEvidence(
        "LIVENESS", "kvm_riscv_gstage_map", "zap-livelock", List.of())));
    assertFalse(liveness.stream().anyMatch(d -> d.covers(new ViolationEvidence(
        "LIVENESS", "kvm_riscv_gstage_map", "fault-livelock", List.of()))));
    assertEquals("unfixed in mainline (kvm_riscv_gstage_map: re-faults in a range being zapped take mmu_lock"
        + " only to retry, and the zap yields to each)", declared.citation());
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.ImpossibleSituation;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceReport;
import org.kvmmodel.core.scenario.CoverageRow;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * Situation coverage: a kind of situation no run on an arch judged fails conformance as
 * {@code not-exercised} even when every cell passes, unless the plugin declares it impossible
 * there, which reports it {@code not-applicable} with the reason.
 */
class SituationCoverageTests {

  private static final String HUGE_THP = "backing=anon-thp leaf=huge";

  private static ConformanceReport demandPaging(ToyPlugin plugin) {
    return Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(plugin)),
        List.of(plugin), List.of(Scenarios.byName("demand-paging")), 2, done -> {});
  }

  private static CoverageRow row(ConformanceReport report, String check, String kind) {
    return report.coverage().stream()
        .filter(c -> c.check().equals(check) && c.kind().equals(kind)).findFirst().orElseThrow();
  }

  @Test
  void aKindNoRunJudgedFailsAlthoughEveryCellPasses() {
    ConformanceReport report = demandPaging(ToyPlugin.spinlockWholeVm());
    assertTrue(report.rows().stream().noneMatch(r -> r.status().failsRun()), report.toString());
    CoverageRow huge = row(report, PermissionsCheck.ID, HUGE_THP);
    assertEquals(CheckStatus.NOT_EXERCISED, huge.status());
    assertEquals(0, huge.judged());
    CoverageRow pages = row(report, PermissionsCheck.ID, "backing=anon leaf=page");
    assertEquals(CheckStatus.PASS, pages.status());
    assertTrue(pages.judged() > 0);
    assertTrue(report.fails());
  }

  @Test
  void aKindDeclaredImpossibleIsNotApplicableWithItsReason() {
    ConformanceReport report = demandPaging(ToyPlugin.spinlockWholeVm().declaringImpossible(
        new ImpossibleSituation(PermissionsCheck.ID, "leaf=huge", "the toy maps pages only")));
    CoverageRow huge = row(report, PermissionsCheck.ID, HUGE_THP);
    assertEquals(CheckStatus.NOT_APPLICABLE, huge.status());
    assertEquals("the toy maps pages only", huge.reason());
    assertNull(row(report, PermissionsCheck.ID, "backing=anon leaf=page").reason());
  }

  @Test
  void kindsKvmsRulesExcludeAreNeverListed() {
    ConformanceReport report = demandPaging(ToyPlugin.spinlockWholeVm());
    assertFalse(report.coverage().stream().anyMatch(c -> c.kind().equals("backing=anon leaf=huge")
        || c.kind().equals("slot=read-only logging=on")), "unreachable kinds are left out");
    assertFalse(report.coverage().stream()
            .anyMatch(c -> c.kind().equals("rule=spte-write-shared")),
        "a spinlock arch never holds mmu_lock for read");
  }

  @Test
  void aDeclarationCoversEveryKindWithAllItsTerms() {
    ImpossibleSituation s = new ImpossibleSituation("C", "leaf=huge", "r");
    assertTrue(s.covers("C", "backing=hugetlb leaf=huge"));
    assertFalse(s.covers("C", "backing=hugetlb leaf=page"));
    assertFalse(s.covers("D", "backing=hugetlb leaf=huge"));
    ImpossibleSituation both = new ImpossibleSituation("C", "backing=pfnmap leaf=huge", "r");
    assertTrue(both.covers("C", "backing=pfnmap leaf=huge"));
    assertFalse(both.covers("C", "backing=anon-thp leaf=huge"));
  }
}

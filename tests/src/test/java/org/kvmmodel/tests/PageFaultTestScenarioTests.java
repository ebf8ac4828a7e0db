package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.scenario.UnmetExpectation;
import org.kvmmodel.core.sched.ScheduleFailure;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * The page-fault-test scenario: every case meets its expectations on x86 and on the SPI
 * doubles, and a double with a bug that only these expectations can see fails the run with the
 * case and the unmet expectation named.
 */
class PageFaultTestScenarioTests {

  private static final String SCENARIO = "page-fault-test";
  /** 64 cases per run: the 16 stores and atomics to read-only slots exit, the rest complete. */
  private static final long COMPLETED_ACCESSES = 48;

  private static RunResult run(ArchPlugin plugin, long seed, SchedulePolicy policy) {
    return ScenarioRun.execute(Scenarios.byName(SCENARIO), ScenarioFixtures.settings(plugin.name(), ""),
        ArchPluginRegistry.of(List.of(plugin)), seed, policy);
  }

  @Test
  void everyCaseMeetsItsExpectationsOnX86AcrossSeedsAndPolicies() {
    long readFaultsGivenWritable = 0;
    for (String configuration : List.of("ept4-ad", "ept4-noad", "ept5-ad")) {
      for (long seed = 0; seed < 3; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          RunResult r = ScenarioFixtures.run(SCENARIO, "x86", configuration, seed, policy);
          ScenarioFixtures.assertClean(r, configuration + " seed " + seed + " " + policy);
          assertEquals(COMPLETED_ACCESSES, r.counters().get("guest-accesses"));
          assertEquals(32L, r.counters().get("dirty-log-harvests"), "one per logged case");
          readFaultsGivenWritable += r.counters().get("read-faults-given-writable");
        }
      }
    }
    assertTrue(readFaultsGivenWritable > 0,
        "reads of THP memory map writable on x86, and the dirty log then reports them");
  }

  @Test
  void theDoublesMeetThemToo() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      for (long seed = 0; seed < 3; seed++) {
        RunResult r = ScenarioFixtures.run(SCENARIO, arch, "", seed, SchedulePolicy.RANDOM);
        ScenarioFixtures.assertClean(r, arch + " seed " + seed);
        assertEquals(COMPLETED_ACCESSES, r.counters().get("guest-accesses"));
      }
    }
  }

  @Test
  void conformanceOnTheDoublesPassesEveryCheckWithNothingUnexercised() {
    List<ArchPlugin> doubles = List.of(ToyPlugin.spinlockWholeVm(), ToyPlugin.concatenatedRoot());
    List<ConformanceRow> rows =
        Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(doubles), doubles,
            List.of(Scenarios.byName(SCENARIO)), 4, done -> {}).rows();
    assertEquals(2 * 11, rows.size(), "ten checks and the run row per double");
    for (ConformanceRow row : rows) {
      assertEquals(CheckStatus.PASS, row.status(), row.toString());
    }
  }

  /** The failure of a run on the double with {@code breakage}; no check fails meanwhile. */
  private static String unmet(Breakage breakage) {
    return unmet(breakage, null);
  }

  /**
   * The expectation {@code breakage} fails; no check but {@code caughtBy} (null: none) sees a
   * violation, and that one does.
   */
  private static String unmet(Breakage breakage, String caughtBy) {
    RunResult r = run(ToyPlugin.broken(breakage), 0, SchedulePolicy.RANDOM);
    ScheduleFailure failure = r.failure();
    assertNotNull(failure, breakage + " went unnoticed");
    assertEquals(ScheduleFailure.Kind.EXCEPTION, failure.kind());
    assertInstanceOf(UnmetExpectation.class, failure.cause(), failure.toString());
    for (CheckResult c : r.checks()) {
      assertEquals(c.id().equals(caughtBy), !c.violations().isEmpty(), breakage + ": " + c);
    }
    return failure.message();
  }

  @Test
  void aReadOnlySlotWriteThatFailsWithEfaultIsCaught() {
    String message = unmet(Breakage.EFAULTS_READONLY_SLOT_WRITES);
    assertTrue(message.matches("page-fault-test write on (anon|anon-thp|hugetlb-pmd|file-shared)"
        + "(, dirty logging)?, read-only slot at gfn 0x[0-9a-f]+:"
        + " expected KVM_EXIT_MMIO, got -EFAULT"), message);
  }

  @Test
  void aLeafThatIsNotYoungAfterTheAccessIsCaught() {
    String message = unmet(Breakage.INSTALLS_OLD_LEAVES);
    assertTrue(message.matches("page-fault-test (read|write|cas|exec) on [a-z0-9-]+"
        + "(, dirty logging)?(, read-only slot)? at gfn 0x[0-9a-f]+:"
        + " the stage-2 leaf of the gfn is not young after the access"), message);
  }

  @Test
  void aReadLoggedAsDirtyWithoutAWritableLeafIsCaught() {
    String message = unmet(Breakage.LOGS_EVERY_FAULT, DirtyLogCompleteCheck.ID);
    assertTrue(message.matches("page-fault-test (read|exec) on [a-z0-9-]+, dirty logging"
        + "(, read-only slot)? at gfn 0x[0-9a-f]+:"
        + " the dirty log reports the gfn although its leaf is not writable"), message);
    CheckResult complete = run(ToyPlugin.broken(Breakage.LOGS_EVERY_FAULT), 0,
        SchedulePolicy.RANDOM).checks().stream()
        .filter(c -> c.id().equals(DirtyLogCompleteCheck.ID)).findFirst().orElseThrow();
    assertEquals("reported-unwritten", complete.violations().get(0).kind());
    assertTrue(complete.violations().get(0).message().matches("KVM_GET_DIRTY_LOG reported gfn"
        + " 0x[0-9a-f]+ dirty, but nothing could have written it since its bit was last cleared"
        + " \\(no guest write, write fault, leaf made writable or KVM write since event \\d+\\)"),
        complete.violations().get(0).message());
  }

  @Test
  void conformanceReportsAnUnmetExpectationInTheRunRowWithTheSeedThatReplaysIt() {
    ToyPlugin broken = ToyPlugin.broken(Breakage.EFAULTS_READONLY_SLOT_WRITES);
    List<ConformanceRow> rows =
        Conformance.report(Conformance.defaults(), ArchPluginRegistry.of(List.of(broken)),
            List.of(broken), List.of(Scenarios.byName(SCENARIO)), 2, done -> {}).rows();
    ConformanceRow run = rows.get(rows.size() - 1);
    assertEquals(Conformance.RUN_ROW, run.check());
    assertEquals(CheckStatus.FAIL, run.status());
    assertEquals(0L, run.failingSeed());
    assertTrue(run.message().matches("exception in vcpu[01]: page-fault-test write on .*"
        + " expected KVM_EXIT_MMIO, got -EFAULT"), run.message());
    assertEquals(unmet(Breakage.EFAULTS_READONLY_SLOT_WRITES),
        run.message().substring(run.message().indexOf(": ") + 2), "the same seed, the same run");
  }
}

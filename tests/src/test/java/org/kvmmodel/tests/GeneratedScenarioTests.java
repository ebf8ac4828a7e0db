package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.IsolationCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.Exploration;
import org.kvmmodel.core.scenario.Explore;
import org.kvmmodel.core.scenario.KnownDivergences;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * The scenario {@code generated}: every seed composes another VM (memslots of drawn backings,
 * sizes, alignments and flags, vCPU programs, host events, VMM operations) and every plugin
 * runs them clean but for what it declares; together they meet situations the named
 * scenarios do not; a broken plugin is caught in one and its failure shrinks and replays; and
 * {@code conformance} runs as many as its budget setting says.
 */
class GeneratedScenarioTests {

  private static final Scenario GENERATED = Scenarios.byName("generated");
  private static final List<ArchPlugin> REAL =
      List.of(new X86Plugin(), new Arm64Plugin(), new RiscvPlugin());
  private static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(REAL);

  private static ModelSettings settings(String arch, String configuration, String more) {
    return ModelSettings.from(ConfigFactory.parseString(
            "kvmmodel { arch = " + arch + ", arch-configuration = \"" + configuration + "\" }\n"
                + more)
        .withFallback(ConfigFactory.defaultReference())
        .resolve());
  }

  @Test
  void everyPluginRunsSixteenGeneratedVmsCleanButForWhatItDeclares() {
    for (ArchPlugin plugin : REAL) {
      ModelSettings settings = settings(plugin.name(), "", "");
      KnownDivergences declared = KnownDivergences.of(plugin, settings.kvmVersion());
      for (long seed = 0; seed < 16; seed++) {
        SchedulePolicy policy = seed % 2 == 0 ? SchedulePolicy.RANDOM : SchedulePolicy.PCT;
        RunResult r = ScenarioRun.execute(GENERATED, settings, REGISTRY, seed, policy);
        ScenarioFixtures.assertCleanBut(declared, r, plugin.name() + " seed " + seed);
      }
    }
  }

  /**
   * x86's ept4-noad, seed 9: a logging slot is deleted and created again while a vCPU faults
   * in it between the new slot's publication and its commit. The fault saw the logging slot,
   * so it logged the gfn it made writable; the commit, which write-protects nothing for a
   * created slot, must not be blamed for it.
   */
  @Test
  void aFaultBetweenALoggingSlotsPublicationAndItsCommitIsLoggedAndOwesNoProtection() {
    RunResult r = ScenarioRun.execute(GENERATED, settings("x86", "ept4-noad", ""), REGISTRY, 9,
        SchedulePolicy.RANDOM);
    ScenarioFixtures.assertClean(r, "x86 ept4-noad seed 9");
    CheckResult permissions = r.checks().stream()
        .filter(c -> c.id().equals(PermissionsCheck.ID)).findFirst().orElseThrow();
    assertTrue(permissions.judged() > 0, permissions.toString());
  }

  /**
   * The backings the generated VMs reach on x86, as ISOLATION judges the frames accesses hit
   * (ZONE_DEVICE among them, which no named scenario maps on x86), and the slot states and host
   * PTEs PERMISSIONS judges new leaves over (read-only after fork or mprotect, the zero page):
   * every kind those checks name.
   */
  @Test
  void sixteenGeneratedVmsMeetEveryBackingSlotStateAndHostPteOnX86() {
    Set<String> isolation = new TreeSet<>();
    Set<String> permissions = new TreeSet<>();
    ModelSettings settings = settings("x86", "", "");
    for (long seed = 0; seed < 16; seed++) {
      RunResult r = ScenarioRun.execute(GENERATED, settings, REGISTRY, seed, SchedulePolicy.RANDOM);
      for (CheckResult c : r.checks()) {
        c.situations().forEach((kind, n) -> {
          if (n > 0 && c.id().equals(IsolationCheck.ID)) {
            isolation.add(kind);
          } else if (n > 0 && c.id().equals(PermissionsCheck.ID)
              && (kind.startsWith("slot=") || kind.startsWith("host-pte="))) {
            permissions.add(kind);
          }
        });
      }
    }
    assertEquals(Set.of("backing=anon", "backing=anon-thp", "backing=file", "backing=hugetlb",
        "backing=pfnmap", "backing=zone-device"), isolation);
    assertEquals(Set.of("slot=read-only logging=off", "slot=read-write logging=off",
        "slot=read-write logging=on", "host-pte=writable", "host-pte=read-only",
        "host-pte=zero-page"), permissions);
  }

  /**
   * A plugin that skips the retry check is caught by DIRTY-PROTECTED in a generated VM; the
   * failure shrinks to fewer choices (a smaller VM, fewer actions) that still break the check,
   * and the printed command replays it.
   */
  @Test
  void aBrokenPluginIsCaughtInAGeneratedVmAndItsFailureShrinksAndReplays() {
    ToyPlugin broken = ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK);
    ArchPluginRegistry registry = ArchPluginRegistry.of(List.of(broken));
    ModelSettings settings = settings(broken.name(), "", "");
    Exploration e = Explore.search(GENERATED, settings, registry, DirtyProtectedCheck.ID, null, 0,
        500, done -> {});
    assertTrue(e.foundViolation(), "no generated VM caught " + broken.name());
    assertTrue(e.shrunk().violates(DirtyProtectedCheck.ID), "the shrunk run no longer fails");
    assertTrue(e.shrunk().choices().length <= e.found().choices().length);
    assertTrue(e.reproduce(null).startsWith("./kvmmodel run generated --arch " + broken.name()),
        e.reproduce(null));
    RunResult replayed = ScenarioRun.execute(GENERATED, settings, registry, e.found().seed(),
        e.found().policy());
    assertTrue(replayed.violates(DirtyProtectedCheck.ID), "the seed does not replay the failure");
  }

  @Test
  void conformanceRunsAsManyGeneratedVmsAsItsBudgetSaysAndNoneAtZero() {
    List<ArchPlugin> doubles = List.of(ToyPlugin.spinlockWholeVm());
    ArchPluginRegistry registry = ArchPluginRegistry.of(doubles);
    List<ConformanceRow> three = Conformance.report(
        ConfigFactory.parseString("kvmmodel.conformance.generated-scenarios = 3")
            .withFallback(Conformance.defaults()).resolve(),
        registry, doubles, List.of(GENERATED), 64, done -> {}).rows();
    assertEquals(11, three.size(), "ten checks and the run row");
    for (ConformanceRow row : three) {
      assertEquals(3, row.runs(), row.toString());
      assertEquals("generated", row.scenario());
      assertTrue(row.status() == CheckStatus.PASS || row.status() == CheckStatus.NOT_EXERCISED,
          row.toString());
    }
    List<ConformanceRow> none = Conformance.report(
        ConfigFactory.parseString("kvmmodel.conformance.generated-scenarios = 0")
            .withFallback(Conformance.defaults()).resolve(),
        registry, doubles, List.of(GENERATED), 64, done -> {}).rows();
    assertEquals(List.of(), none);
  }

  @Test
  void aNegativeBudgetIsRefusedNamingTheKey() {
    SettingsException e = org.junit.jupiter.api.Assertions.assertThrows(SettingsException.class,
        () -> settings("x86", "", "kvmmodel.conformance.generated-scenarios = -1"));
    assertEquals("kvmmodel.conformance.generated-scenarios must be an integer 0 or more, got -1",
        e.getMessage());
  }

  /**
   * A generated host holds one VM or two, each of its own VMM process: over sixteen seeds both
   * are drawn, and a second VM's vCPUs, VMM and host actors are named for it.
   */
  @Test
  void generatedHostsHoldOneVmOrTwoEachWithItsOwnActors() {
    Set<Integer> vmCounts = new TreeSet<>();
    for (long seed = 0; seed < 16; seed++) {
      List<String> names = new ArrayList<>();
      Scenario recording = ScenarioFixtures.observed(GENERATED,
          run -> run.vcpus().forEach(v -> names.add(v.name())));
      ScenarioRun.execute(recording, settings("x86", "", ""), REGISTRY, seed,
          SchedulePolicy.RANDOM);
      vmCounts.add(names.stream().anyMatch(n -> n.startsWith("vm1.vcpu")) ? 2 : 1);
      assertTrue(names.contains("vcpu0"), names.toString());
      assertTrue(names.stream().allMatch(n -> n.matches("(vm1\\.)?vcpu[0-2]")),
          names.toString());
    }
    assertEquals(Set.of(1, 2), vmCounts);
  }
}

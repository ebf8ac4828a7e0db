package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kvmmodel.core.check.Check;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Exploration;
import org.kvmmodel.core.scenario.Explore;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.scenario.Stress;
import org.kvmmodel.core.scenario.StressReport;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * Free-mode stress hands a violation on to a deterministic search: stress on a broken double
 * names the check, the seed and the explore command; explore finds and shrinks the violation
 * and its reproduce command replays it; on a correct double explore finds nothing.
 */
class StressAndExploreTests {

  private static final ToyPlugin BROKEN = ToyPlugin.broken(Breakage.SKIPS_RETRY_CHECK);
  private static final ToyPlugin CORRECT = ToyPlugin.spinlockWholeVm();
  private static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(List.of(BROKEN, CORRECT));
  private static final Scenario SCENARIO = Scenarios.byName("demand-paging");
  private static final Pattern EXPLORE =
      Pattern.compile("explore: \\./kvmmodel explore (\\S+) --arch (\\S+) --arch-config (\\S+)"
          + " --check (\\S+) --scenario-seed (\\d+)\n");
  private static final Pattern REPRODUCE =
      Pattern.compile("reproduce: \\./kvmmodel run (\\S+) --arch (\\S+) --arch-config (\\S+)"
          + " --seed (\\d+) --scenario-seed (\\d+) --policy (random|pct)\n");

  @TempDir Path dir;

  private static ModelSettings settings(String arch) {
    return ModelSettings.from(
        ConfigFactory.parseString("kvmmodel.arch = " + arch)
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
  }

  private static Matcher find(Pattern pattern, String text) {
    Matcher m = pattern.matcher(text);
    assertTrue(m.find(), text);
    return m;
  }

  @Test
  void stressOnABrokenDoubleNamesTheCheckTheSeedTheEventLogAndTheExploreCommand()
      throws IOException {
    StressReport report = Stress.run(SCENARIO, settings(BROKEN.name()), REGISTRY, 40, 50, n -> {});
    assertTrue(report.failed(), "a slow path without the retry check is caught in free mode");
    assertFalse(report.passed());
    assertEquals(DirtyProtectedCheck.ID, report.violatedCheck());
    assertNull(report.failing().policy(), "a free run has no schedule policy");
    long seed = report.failing().seed();
    assertEquals(40 + report.runs() - 1, seed, "run i of the stress uses seed 40 + i");

    Path trace = dir.resolve(report.defaultTraceFile());
    report.writeTrace(trace);
    StringWriter text = new StringWriter();
    report.print(new PrintWriter(text, true), trace, "");
    String out = text.toString();
    assertTrue(out.startsWith(String.format(Locale.US,
        "stress demand-paging on toy-skips-retry-check default: DIRTY-PROTECTED violated in run %d"
            + " of free mode, seed %d\n  DIRTY-PROTECTED: ", report.runs(), seed)), out);
    assertTrue(out.contains("event log (JSON lines): " + trace + "\n"), out);
    Matcher explore = find(EXPLORE, out);
    assertEquals("demand-paging", explore.group(1));
    assertEquals("toy-skips-retry-check", explore.group(2));
    assertEquals("default", explore.group(3));
    assertEquals(DirtyProtectedCheck.ID, explore.group(4));
    assertEquals(seed, Long.parseLong(explore.group(5)));

    assertEquals(
        String.format(Locale.US, "stress-demand-paging-toy-skips-retry-check-default-seed%d.jsonl",
            seed),
        trace.getFileName().toString());
    List<String> events = Files.readAllLines(trace, StandardCharsets.UTF_8);
    assertTrue(events.stream().anyMatch(l -> l.matches(
        "\\{\"seq\":\\d+,\"actor\":\"vcpu[01]\",\"event\":\"folio_mark_dirty\",.*")), events.get(0));
    assertTrue(events.stream().anyMatch(l -> l.contains("\"actor\":\"host\"")),
        "the host actor ran on its own thread too");
  }

  @Test
  void exploreOnTheStressCommandFindsShrinksAndPrintsACommandThatReplaysTheViolation() {
    ModelSettings settings = settings(BROKEN.name());
    StressReport stress = Stress.run(SCENARIO, settings, REGISTRY, 7, 50, n -> {});
    StringWriter stressText = new StringWriter();
    stress.print(new PrintWriter(stressText, true), dir.resolve("trace.jsonl"), "");
    Matcher command = find(EXPLORE, stressText.toString());
    long scenarioSeed = Long.parseLong(command.group(5));

    Exploration found =
        Explore.search(Scenarios.byName(command.group(1)), settings, REGISTRY, command.group(4),
            scenarioSeed, 0, 20, n -> {});
    assertTrue(found.foundViolation());
    assertTrue(found.shrunk().violates(DirtyProtectedCheck.ID), "the shrunk run still breaks it");
    assertTrue(found.shrunk().choices().length < found.found().choices().length,
        "shrunk from " + found.found().choices().length + " to "
            + found.shrunk().choices().length + " choices");

    StringWriter text = new StringWriter();
    found.print(new PrintWriter(text, true), "");
    String out = text.toString();
    assertTrue(out.startsWith("explore demand-paging on toy-skips-retry-check default with the"
        + " actions of scenario seed " + scenarioSeed + ": DIRTY-PROTECTED violated in schedule "),
        out);
    assertTrue(out.contains("\nshrunk from "), out);
    assertTrue(out.contains(" folio_mark_dirty "), "the story shows the dirtying: " + out);

    Matcher reproduce = find(REPRODUCE, out);
    assertEquals("toy-skips-retry-check", reproduce.group(2));
    assertEquals(scenarioSeed, Long.parseLong(reproduce.group(5)));
    RunResult again =
        ScenarioRun.execute(
            Scenarios.byName(reproduce.group(1)), settings, REGISTRY,
            Long.parseLong(reproduce.group(5)), Long.parseLong(reproduce.group(4)),
            SchedulePolicy.valueOf(reproduce.group(6).toUpperCase(Locale.US)));
    assertTrue(again.violates(DirtyProtectedCheck.ID));
    assertArrayEquals(found.found().choices(), again.choices(), "the same run, choice for choice");
    assertEquals(found.found().story(), again.story());
  }

  @Test
  void aScenarioSeedKeepsTheActionsAndOnlyTheScheduleVaries() {
    ModelSettings settings = settings(CORRECT.name());
    RunResult plain = ScenarioRun.execute(SCENARIO, settings, REGISTRY, 5, SchedulePolicy.RANDOM);
    RunResult split = ScenarioRun.execute(SCENARIO, settings, REGISTRY, 5, 99, SchedulePolicy.RANDOM);
    // Without fault injection a free run draws nothing but the actions.
    int[] actions = ScenarioRun.executeFree(SCENARIO, settings, REGISTRY, 5).choices();
    assertEquals(2 * 24 * 2 + 6 * 2 + 1, actions.length,
        "two programs of 24 accesses, six host steps, the teardown order");
    assertArrayEquals(actions, Arrays.copyOf(plain.choices(), actions.length));
    assertArrayEquals(actions, Arrays.copyOf(split.choices(), actions.length));
    assertFalse(Arrays.equals(plain.choices(), split.choices()),
        "schedule seed 99 draws another schedule than seed 5");
  }

  @Test
  void exploreOnACorrectDoubleSaysNoneWasFound() {
    Exploration none =
        Explore.search(SCENARIO, settings(CORRECT.name()), REGISTRY, NoStaleMappingCheck.ID, null,
            3, 6, n -> {});
    assertFalse(none.foundViolation());
    assertEquals(6, none.explored());
    StringWriter text = new StringWriter();
    none.print(new PrintWriter(text, true), "");
    assertEquals("explore demand-paging on toy-spin default: no violation of NO-STALE-MAPPING"
        + " found in 6 schedules (seeds 3 to 5, random and pct)\n", text.toString());
  }

  @Test
  void exploreRefusesAnUnknownCheckAndOneTheScenarioDoesNotAttach() {
    IllegalArgumentException unknown =
        assertThrows(IllegalArgumentException.class, () -> Explore.search(SCENARIO,
            settings(CORRECT.name()), REGISTRY, "NO-SUCH-CHECK", null, 0, 1, n -> {}));
    assertEquals("unknown check 'NO-SUCH-CHECK' (allowed: DIRTY-PROTECTED, REFCOUNT-BALANCED,"
        + " NO-STALE-MAPPING, TLB-COHERENT, PERMISSIONS, LOCK-DISCIPLINE, NO-LOST-WRITE,"
        + " DIRTY-LOG-COMPLETE, ISOLATION, LIVENESS, run)", unknown.getMessage());
    IllegalArgumentException notAttached =
        assertThrows(IllegalArgumentException.class, () -> Explore.search(SCENARIO,
            settings(CORRECT.name()), REGISTRY, "DIRTY-LOG-COMPLETE", null, 0, 1, n -> {}));
    assertEquals("check DIRTY-LOG-COMPLETE does not judge scenario demand-paging",
        notAttached.getMessage());
  }

  @Test
  void theCheckIdsListEveryCheckInReportOrder() {
    KvmModel model =
        KvmModel.create(settings(CORRECT.name()), REGISTRY, FreeScheduler.INSTANCE,
            ChoiceStream.seeded(1));
    KvmInstance vm = model.createVm();
    List<String> ids = Checker.ALL.stream().map(f -> f.apply(vm)).map(Check::id).toList();
    assertEquals(ids, Checker.IDS);
  }

  @Test
  void stressOnACorrectDoublePassesAndCountsWhatItJudged() {
    // Real interleavings: enough runs that every check meets its situation at least once.
    StressReport report = Stress.run(SCENARIO, settings(CORRECT.name()), REGISTRY, 0, 40, n -> {});
    assertNull(report.failing(), () -> String.valueOf(report.failing().checks()));
    assertTrue(report.passed());
    assertEquals(40, report.runs());
    assertEquals(40L * 48, report.counters().get("guest-accesses"));
    assertTrue(report.judged().get(DirtyProtectedCheck.ID) > 0);
    StringWriter text = new StringWriter();
    report.print(new PrintWriter(text, true), null, "");
    assertTrue(text.toString().startsWith("stress demand-paging on toy-spin default: 40 runs in"
        + " free mode from seed 0, no violation\n  runs                       40\n"), text.toString());
  }
}

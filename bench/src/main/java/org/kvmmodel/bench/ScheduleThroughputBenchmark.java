package org.kvmmodel.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Deterministic-mode exploration speed: complete runs of a scenario (demand-paging, dirty-log)
 * per second, each with the next seed, through {@link ScenarioRun#execute} exactly as the run and
 * conformance verbs do: a new host and VM with every check attached, two vCPUs and the host
 * actor on a {@link org.kvmmodel.core.sched.DeterministicScheduler} (one platform thread per
 * actor, one actor running at a time), every choice from the seeded stream, the verdicts and
 * the story at the end.
 *
 * <p>{@link #bareScheduler} is the baseline: the same scheduler with three actors that do
 * nothing but take {@value #BARE_POINTS} scheduling points each (about the steps of one
 * demand-paging run), so the cost of handing the CPU from actor to actor is seen apart from
 * the model.
 *
 * <p>The score is runs (schedules) per second; the {@code steps} counter is scheduling points
 * per second, summed over the runs; the {@code failedRuns} counter is how many runs of an
 * iteration failed (a schedule failure or a check violation). Failed runs are counted, not
 * hidden, and the first few failing seeds with their failure are printed at the end of the
 * trial, so they can be replayed with the run verb. Run it from the repository's root with:
 *
 * <pre>
 * mvn -B -o -q package -DskipTests -pl bench -am
 * java -jar bench/target/benchmarks.jar ScheduleThroughputBenchmark -f 1 -wi 2 -w 1s -i 3 -r 1s -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ScheduleThroughputBenchmark {

  private static final int MAX_REPORTED = 5;

  /** Scheduling points each bare actor takes. */
  static final int BARE_POINTS = 250;

  /** How the deterministic scheduler picks the next actor. */
  @Param({"RANDOM", "PCT"})
  public SchedulePolicy policy;

  /** The x86 plugin configuration. */
  @Param({"ept4-ad"})
  public String configuration;

  /** The scenario each run executes. */
  @Param({"demand-paging", "dirty-log"})
  public String scenarioName;

  private Scenario scenario;
  private ModelSettings settings;
  private long seed;
  private final List<String> failures = new ArrayList<>();

  /** Failed runs of the iteration, reported as a count. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Failures {
    public long failedRuns;

    @Setup(Level.Iteration)
    public void reset() {
      failedRuns = 0;
    }
  }

  /** Scheduling points taken, reported per second next to the runs. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Steps {
    public long steps;

    @Setup(Level.Iteration)
    public void reset() {
      steps = 0;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    scenario = Scenarios.byName(scenarioName);
    settings = BenchModels.settings("x86", configuration, 256);
    seed = 1;
  }

  /** One complete run of the scenario with the next seed. */
  @Benchmark
  public RunResult scenarioRun(Steps counter, Failures failed) {
    long s = seed++;
    RunResult r = ScenarioRun.execute(scenario, settings, BenchModels.REGISTRY, s, policy);
    counter.steps += r.steps();
    if (r.failed()) {
      failed.failedRuns++;
      if (failures.size() < MAX_REPORTED) {
        failures.add(describe(r));
      }
    }
    return r;
  }

  /** Three actors that only take scheduling points: the scheduler's handoff cost alone. */
  @Benchmark
  public long bareScheduler(Steps counter) {
    DeterministicScheduler scheduler =
        new DeterministicScheduler(ChoiceStream.seeded(seed++), policy, 3, 25_000, 50_000);
    for (int a = 0; a < 3; a++) {
      scheduler.spawn(
          "actor" + a,
          () -> {
            for (int i = 0; i < BARE_POINTS; i++) {
              scheduler.point("bare");
            }
          });
    }
    DeterministicScheduler.Result r = scheduler.run();
    if (!r.passed()) {
      throw new IllegalStateException("bare schedule failed: " + r.failure());
    }
    counter.steps += r.steps();
    return r.steps();
  }

  @TearDown(Level.Trial)
  public void report() {
    System.out.printf(
        Locale.US, "%n[runs] seeds 1..%d, %s; first failing runs:%s%n",
        seed - 1, policy, failures.isEmpty() ? " none" : "");
    for (String f : failures) {
      System.out.println("  " + f);
    }
  }

  private static String describe(RunResult r) {
    StringBuilder sb = new StringBuilder();
    sb.append("seed ").append(r.seed()).append(' ').append(r.policy()).append(": ");
    if (r.failure() != null) {
      sb.append(r.failure());
    }
    for (CheckResult c : r.checks()) {
      if (!c.violations().isEmpty()) {
        sb.append(c.id()).append(' ').append(c.violations().get(0)).append(' ');
      }
    }
    return sb.toString().trim();
  }
}

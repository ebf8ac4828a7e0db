package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.ScheduleFailure;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * One run of a scenario: the host, the VM with its checks attached, the vCPUs and other actors,
 * every choice from one seeded (or replayed) stream. A deterministic run puts the actors on a
 * {@link DeterministicScheduler}, which draws the schedule from the same stream; a free run
 * puts them on real threads ({@link FreeScheduler}), so only the scenario's actions come from
 * the seed.
 */
public final class ScenarioRun {

  /** PCT's bug depth for scenario runs. */
  static final int PCT_DEPTH = 3;

  private final Scenario scenario;
  private final ChoiceStream choices;
  private final Scheduler scheduler;
  private final KvmModel model;
  private final KvmInstance vm;
  private final Checker checker;
  private final RunCounters counters = new RunCounters();
  private final List<Vcpu> vcpus = new ArrayList<>();

  private ScenarioRun(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      ChoiceStream choices,
      Scheduler scheduler) {
    this.scenario = scenario;
    this.choices = choices;
    this.scheduler = scheduler;
    this.model = KvmModel.create(settings, registry, scheduler, choices);
    this.vm = model.createVm();
    this.checker = Checker.attach(vm, Checker.ALL, scenario::judgedBy);
    vm.log().addListener(counters);
  }

  /** A run whose actors take turns on a deterministic scheduler drawing from {@code choices}. */
  private static ScenarioRun deterministic(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      ChoiceStream choices,
      SchedulePolicy policy) {
    return new ScenarioRun(scenario, settings, registry, choices,
        new DeterministicScheduler(
            choices, policy, PCT_DEPTH, scenario.stepBound() / 2, scenario.stepBound()));
  }

  /** Runs {@code scenario} with {@code seed}. */
  public static RunResult execute(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      long seed,
      SchedulePolicy policy) {
    return deterministic(scenario, settings, registry, ChoiceStream.seeded(seed), policy)
        .run(seed, policy, null);
  }

  /**
   * Runs {@code scenario} with its actions (guest programs, host operations) drawn from
   * {@code scenarioSeed}, as a run with that seed draws them, and its schedule from
   * {@code scheduleSeed}.
   */
  public static RunResult execute(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      long scenarioSeed,
      long scheduleSeed,
      SchedulePolicy policy) {
    return deterministic(scenario, settings, registry, ChoiceStream.seeded(scenarioSeed), policy)
        .run(scheduleSeed, policy, scheduleSeed);
  }

  /** Replays a run from its recorded choices. */
  public static RunResult replay(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      int[] recorded,
      SchedulePolicy policy) {
    return deterministic(scenario, settings, registry, ChoiceStream.replay(recorded), policy)
        .run(0, policy, null);
  }

  /**
   * Runs {@code scenario} once in free mode: its actions drawn from {@code seed}, its actors on
   * real threads. The result's policy is null; its choices are the actions and any injected
   * faults, which do not replay the interleaving.
   */
  public static RunResult executeFree(
      Scenario scenario, ModelSettings settings, ArchPluginRegistry registry, long seed) {
    return new ScenarioRun(scenario, settings, registry, ChoiceStream.seeded(seed),
        new FreeScheduler()).run(seed, null, null);
  }

  /**
   * Sets up the scenario, switches the choice stream to {@code scheduleSeed} when given, runs
   * the actors and collects the verdicts.
   */
  private RunResult run(long seed, SchedulePolicy policy, Long scheduleSeed) {
    scenario.setUp(this);
    if (scheduleSeed != null) {
      choices.continueFrom(scheduleSeed);
    }
    ScheduleFailure failure;
    long steps;
    if (scheduler instanceof DeterministicScheduler) {
      DeterministicScheduler.Result r = ((DeterministicScheduler) scheduler).run();
      failure = r.failure();
      steps = r.steps();
    } else {
      FreeScheduler.Result r = ((FreeScheduler) scheduler).run();
      failure = r.failure();
      steps = r.steps();
    }
    List<CheckResult> checks = checker.finish();
    return new RunResult(
        scenario.name(),
        model.selection().plugin().name(),
        model.selection().configuration().name(),
        seed,
        policy,
        steps,
        failure,
        checks,
        counters.asMap(),
        choices.recorded(),
        vm.log());
  }

  /** The VM under test. */
  public KvmInstance vm() {
    return vm;
  }

  /** The run's choice stream: draw every decision from it. */
  public ChoiceStream choices() {
    return choices;
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  /** Creates vCPU {@code id} with its own hardware walker ({@code KVM_CREATE_VCPU}). */
  public Vcpu createVcpu(int id) {
    ArchMmu arch = vm.arch();
    Vcpu vcpu = new Vcpu(id, vm, arch.walker(), arch::handleGuestFault, scheduler);
    vcpus.add(vcpu);
    return vcpu;
  }

  /** Adds an actor; its name is the one events and stories show. */
  public void spawn(String name, Runnable body) {
    if (scheduler instanceof DeterministicScheduler) {
      ((DeterministicScheduler) scheduler).spawn(name, body);
    } else {
      ((FreeScheduler) scheduler).spawn(name, body);
    }
  }

  public List<Vcpu> vcpus() {
    return List.copyOf(vcpus);
  }
}

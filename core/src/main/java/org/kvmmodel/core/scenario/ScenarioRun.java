package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * One deterministic run of a scenario: the host, the VM with its checks attached, the vCPUs and
 * other actors on a {@link DeterministicScheduler}, every choice from one seeded (or replayed)
 * stream.
 */
public final class ScenarioRun {

  /** PCT's bug depth for scenario runs. */
  static final int PCT_DEPTH = 3;

  private final Scenario scenario;
  private final ChoiceStream choices;
  private final DeterministicScheduler scheduler;
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
      SchedulePolicy policy) {
    this.scenario = scenario;
    this.choices = choices;
    this.scheduler =
        new DeterministicScheduler(
            choices, policy, PCT_DEPTH, scenario.stepBound() / 2, scenario.stepBound());
    this.model = KvmModel.create(settings, registry, scheduler, choices);
    this.vm = model.createVm();
    this.checker = Checker.attach(vm, Checker.ALL, scenario::judgedBy);
    vm.log().addListener(counters);
  }

  /** Runs {@code scenario} with {@code seed}. */
  public static RunResult execute(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      long seed,
      SchedulePolicy policy) {
    return new ScenarioRun(scenario, settings, registry, ChoiceStream.seeded(seed), policy)
        .run(seed, policy);
  }

  /** Replays a run from its recorded choices. */
  public static RunResult replay(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      int[] recorded,
      SchedulePolicy policy) {
    return new ScenarioRun(scenario, settings, registry, ChoiceStream.replay(recorded), policy)
        .run(0, policy);
  }

  private RunResult run(long seed, SchedulePolicy policy) {
    scenario.setUp(this);
    DeterministicScheduler.Result r = scheduler.run();
    List<CheckResult> checks = checker.finish();
    return new RunResult(
        scenario.name(),
        model.selection().plugin().name(),
        model.selection().configuration().name(),
        seed,
        policy,
        r.steps(),
        r.failure(),
        checks,
        counters.asMap(),
        r.choices(),
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

  /** The arch plugin the run's VM was built by. */
  public ArchPlugin plugin() {
    return model.selection().plugin();
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
    scheduler.spawn(name, body);
  }

  public List<Vcpu> vcpus() {
    return List.copyOf(vcpus);
  }
}

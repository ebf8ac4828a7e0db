package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.PermissionsCheck;
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
import org.kvmmodel.core.vcpu.GuestProgram;
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
  private final List<KvmInstance> vms = new ArrayList<>();
  private final List<Checker> checkers = new ArrayList<>();
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
    addVm();
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
    boolean exitFirst = choices.chance(50);
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
    if (failure == null) {
      for (KvmInstance vm : vms) {
        tearDown(vm, exitFirst);
      }
    }
    List<CheckResult> checks = new ArrayList<>();
    KvmInstance told = vms.get(0);
    long hugeLeavesJudged = 0;
    for (int v = 0; v < vms.size(); v++) {
      List<CheckResult> ofVm = checkers.get(v).finish();
      PermissionsCheck permissions = checkers.get(v).find(PermissionsCheck.class);
      if (permissions != null) {
        hugeLeavesJudged += permissions.hugeLeavesJudged();
      }
      if (checks.stream().noneMatch(c -> !c.violations().isEmpty())
          && ofVm.stream().anyMatch(c -> !c.violations().isEmpty())) {
        told = vms.get(v);
      }
      for (int i = 0; i < ofVm.size(); i++) {
        if (v == 0) {
          checks.add(ofVm.get(i));
        } else {
          checks.set(i, checks.get(i).plus(ofVm.get(i)));
        }
      }
    }
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
        told.log(),
        hugeLeavesJudged);
  }

  /**
   * The end of every run, once all actors are done, on the VMM's own thread: either the VMM
   * closes the VM and then exits ({@code kvm_destroy_vm} releases the notifier, then
   * {@code exit_mmap}), or it exits first ({@code exit_mmap} calls KVM's {@code release}, and the
   * files closed afterwards destroy the VM).
   */
  private static void tearDown(KvmInstance vm, boolean exitFirst) {
    RuntimeException[] thrown = new RuntimeException[1];
    Thread vmm =
        new Thread(
            () -> {
              try {
                if (exitFirst) {
                  vm.vmm().exitMmap();
                  vm.destroyVm();
                } else {
                  vm.destroyVm();
                  vm.vmm().exitMmap();
                }
              } catch (RuntimeException e) {
                thrown[0] = e;
              }
            },
            "vmm");
    vmm.start();
    try {
      vmm.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the VM was torn down", e);
    }
    if (thrown[0] != null) {
      throw thrown[0];
    }
  }

  /** The first VM of the run. */
  public KvmInstance vm() {
    return vms.get(0);
  }

  /**
   * Another VM on the same host ({@code KVM_CREATE_VM} from another VMM process, so with its own
   * mm over the host's memory), judged by the same checks; a failing run's story is the event
   * log of the first VM with a violation.
   */
  public KvmInstance addVm() {
    KvmInstance vm = model.createVm();
    checkers.add(Checker.attach(vm, Checker.ALL, scenario::judgedBy));
    vm.log().addListener(counters);
    vms.add(vm);
    return vm;
  }

  /** The run's choice stream: draw every decision from it. */
  public ChoiceStream choices() {
    return choices;
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  /** The configuration of the arch the run's VMs were built with. */
  public ArchConfiguration configuration() {
    return model.selection().configuration();
  }

  /** The arch plugin the run's VM was built by. */
  public ArchPlugin plugin() {
    return model.selection().plugin();
  }

    /** Creates vCPU {@code id} of the first VM ({@code KVM_CREATE_VCPU}). */
  public Vcpu createVcpu(int id) {
    return createVcpu(vm(), id);
  }

  /** Creates vCPU {@code id} of {@code vm}, with its own hardware walker. */
  public Vcpu createVcpu(KvmInstance vm, int id) {
    ArchMmu arch = vm.arch();
    Vcpu vcpu = new Vcpu(id, vm, arch.walker(), arch::handleGuestFault, scheduler);
    vcpus.add(vcpu);
    return vcpu;
  }

  /**
   * Creates {@code count} vCPUs, each running its own random program of {@code accesses}
   * accesses over gfns {@code [0, gfns)}, {@code writePercent} of them writes.
   */
  public void spawnRandomVcpus(int count, int gfns, int accesses, int writePercent) {
    spawnRandomVcpus(count, 0, gfns, accesses, writePercent);
  }

  /** As {@link #spawnRandomVcpus(int, int, int, int)}, over gfns {@code [baseGfn, baseGfn + gfns)}. */
  public void spawnRandomVcpus(int count, long baseGfn, int gfns, int accesses, int writePercent) {
    for (int id = 0; id < count; id++) {
      Vcpu vcpu = createVcpu(id);
      GuestProgram program =
          GuestProgram.random(choices, vm().pageShift(), baseGfn, gfns, accesses, writePercent);
      spawn(vcpu.name(), () -> vcpu.run(program));
    }
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

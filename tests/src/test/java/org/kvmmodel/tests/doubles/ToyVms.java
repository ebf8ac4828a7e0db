package org.kvmmodel.tests.doubles;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * VMs of the toy doubles, built as the model builds one for a free-mode run (seed 1), for tests
 * that drive a VM by hand: its vCPUs and the verdicts of the checks attached to it.
 */
public final class ToyVms {

  private ToyVms() {}

  /** A VM of {@code plugin} with the embedded defaults under {@code settings} (HOCON). */
  public static KvmInstance create(ArchPlugin plugin, String settings) {
    ModelSettings model =
        ModelSettings.from(
            ConfigFactory.parseString("kvmmodel { arch = " + plugin.name() + " }\n" + settings)
                .withFallback(ConfigFactory.defaultReference())
                .resolve());
    return KvmModel.create(model, ArchPluginRegistry.of(List.of(plugin)), FreeScheduler.INSTANCE,
            ChoiceStream.seeded(1))
        .createVm();
  }

  /** A VM of the spinlock double, correct or with {@code breakage}, on the defaults. */
  public static KvmInstance create(Breakage breakage) {
    return create(breakage == Breakage.NONE ? ToyPlugin.spinlockWholeVm()
        : ToyPlugin.broken(breakage), "");
  }

  /** vCPU {@code id} of {@code kvm}, faulting through its arch. */
  public static Vcpu vcpu(KvmInstance kvm, int id) {
    return new Vcpu(id, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
  }

  /** Every verdict of {@code checker} by check id. */
  public static Map<String, CheckResult> results(Checker checker) {
    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    return results;
  }
}

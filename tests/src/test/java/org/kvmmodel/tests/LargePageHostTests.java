package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.KnownDivergences;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * arm64's 16 and 64 KiB configurations on hosts of their page size: every scenario the
 * configuration supports runs clean, and the host has RAM for 16 of its PMD-sized folios.
 * Budget: one seed, both policies, per scenario and configuration.
 */
class LargePageHostTests {

  private static final ArchPluginRegistry REGISTRY =
      ArchPluginRegistry.of(List.of(new Arm64Plugin()));

  private static long hostBytes(String configuration, String memory) {
    ModelSettings settings = ModelSettings.from(ConfigFactory.parseString(
            "kvmmodel { arch = arm64, arch-configuration = \"" + configuration + "\""
                + (memory.isEmpty() ? "" : ", host.memory = " + memory) + " }")
        .withFallback(ConfigFactory.defaultReference()).resolve());
    KvmModel model =
        KvmModel.create(settings, REGISTRY, FreeScheduler.INSTANCE, ChoiceStream.seeded(1));
    return model.hostMemory().ramPages() << model.hostMemory().pageShift();
  }

  @Test
  void theHostHoldsSixteenPmdFoliosAndKeepsALargerSetting() {
    assertEquals(256L << 20, hostBytes("4k-ipa40", ""));
    assertEquals(512L << 20, hostBytes("16k-ipa40", ""));
    assertEquals(8L << 30, hostBytes("64k-ipa40", ""));
    assertEquals(16L << 30, hostBytes("64k-ipa40", "16 GiB"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"16k-ipa40", "16k-ipa48-fwb-ha-mte", "64k-ipa40",
      "64k-ipa48-fwb-ha-mte"})
  void everySupportedScenarioRunsClean(String configuration) {
    KnownDivergences declared = KnownDivergences.of(new Arm64Plugin(), KvmVersion.DEFAULT);
    for (Scenario scenario : Scenarios.all()) {
      if (scenario.unsupportedReason(new Arm64Plugin().configuration(configuration)) != null) {
        continue;
      }
      for (SchedulePolicy policy : SchedulePolicy.values()) {
        ScenarioFixtures.assertCleanBut(declared,
            ScenarioRun.execute(scenario, ScenarioFixtures.settings("arm64", configuration),
                REGISTRY, 0, policy),
            scenario.name() + " on " + configuration + " " + policy);
      }
    }
  }
}

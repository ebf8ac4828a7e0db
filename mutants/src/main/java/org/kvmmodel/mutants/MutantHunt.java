package org.kvmmodel.mutants;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.util.List;
import java.util.function.IntConsumer;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Exploration;
import org.kvmmodel.core.scenario.Explore;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;

/**
 * Hunts one mutant: deterministic schedules of its scenario on its configuration, seeds from 0
 * with a random schedule and then PCT, judged by every check, until one fails in a way the real
 * plugin does not declare; then, as a control, the real plugin over the same schedules, which
 * must fail none of them (else the catch says nothing about the mutant).
 */
public final class MutantHunt {

  private MutantHunt() {}

  /**
   * The verdict on {@code mutant} after at most {@code budget} schedules; {@code progress} is
   * told after each schedule of the mutant and of the control. Throws
   * {@link IllegalArgumentException} for a budget below 1.
   */
  public static MutantVerdict hunt(
      CatalogMutant mutant, Config base, int budget, IntConsumer progress) {
    DecoratedPlugin broken = mutant.plugin().get();
    Exploration found = explore(mutant, base, broken, budget, progress);
    Exploration control = null;
    if (found.foundViolation()) {
      ArchPlugin real = broken.real;
      control = explore(mutant, base, real, found.explored(), progress);
    }
    return new MutantVerdict(mutant, found, control);
  }

  private static Exploration explore(
      CatalogMutant mutant, Config base, ArchPlugin plugin, int budget, IntConsumer progress) {
    Scenario scenario = Scenarios.byName(mutant.scenario());
    ModelSettings settings = ModelSettings.from(base
        .withValue("kvmmodel.arch", ConfigValueFactory.fromAnyRef(plugin.name()))
        .withValue("kvmmodel.arch-configuration",
            ConfigValueFactory.fromAnyRef(mutant.configuration())));
    return Explore.searchAny(scenario, settings, ArchPluginRegistry.of(List.of(plugin)), 0,
        budget, progress);
  }
}

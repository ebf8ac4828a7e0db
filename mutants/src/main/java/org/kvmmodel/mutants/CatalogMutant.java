package org.kvmmodel.mutants;

import java.util.function.Supplier;

/**
 * A catalogued KVM bug re-created as the smallest change to a real plugin that makes it behave
 * as the buggy kernel did, with where to hunt it: the scenario and configuration closest to
 * the bug's situation.
 *
 * @param id the catalogue's id, e.g. {@code B07}
 * @param title what went wrong, in the catalogue's words
 * @param fix the subject and commit of the kernel change that fixed it
 * @param plugin a new instance of the broken plugin
 * @param scenario the scenario that creates the bug's situation
 * @param configuration the plugin configuration to run it on
 */
public record CatalogMutant(
    String id,
    String title,
    String fix,
    Supplier<DecoratedPlugin> plugin,
    String scenario,
    String configuration) {

  /** The name of the real plugin the mutant changes. */
  public String arch() {
    return plugin.get().real.name();
  }
}

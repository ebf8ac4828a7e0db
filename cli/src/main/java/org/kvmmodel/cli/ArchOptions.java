package org.kvmmodel.cli;

import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code --arch}, {@code --arch-config} and {@code --config}, for verbs that run one arch. */
final class ArchOptions {

  @Mixin ConfigOption config;

  @Option(names = "--arch", paramLabel = "NAME", description = "Architecture plugin (default: the config's).")
  String arch;

  @Option(
      names = "--arch-config",
      paramLabel = "NAME",
      description = "One of the plugin's configurations (default: the config's, else its first).")
  String archConfiguration;

  /**
   * The settings with the arch and its configuration applied, checked against the plugins
   * found; a bad value throws {@link org.kvmmodel.core.config.SettingsException}.
   */
  ModelSettings settings(ArchPluginRegistry registry) {
    ModelSettings settings = config.settings(arch, archConfiguration);
    ArchSelection.select(settings, registry);
    return settings;
  }
}

package org.kvmmodel.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.File;
import org.kvmmodel.core.config.ModelSettings;
import picocli.CommandLine.Option;

/** {@code --config FILE}, shared by every verb that builds a VM. */
final class ConfigOption {

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "Settings file (HOCON or JSON) over the embedded defaults.")
  File config;

  /**
   * The settings: the file over the defaults, or the defaults, with the arch and its
   * configuration overridden where given. A bad file or value throws {@link
   * org.kvmmodel.core.config.SettingsException}.
   */
  ModelSettings settings(String archOverride, String configurationOverride) {
    Config c = raw();
    if (archOverride != null) {
      c = c.withValue("kvmmodel.arch", ConfigValueFactory.fromAnyRef(archOverride))
          .withValue("kvmmodel.arch-configuration", ConfigValueFactory.fromAnyRef(""));
    }
    if (configurationOverride != null) {
      c = c.withValue(
          "kvmmodel.arch-configuration", ConfigValueFactory.fromAnyRef(configurationOverride));
    }
    return ModelSettings.from(c.resolve());
  }

  /** The file over the defaults, validated; as a Config for verbs that vary the arch. */
  Config raw() {
    Config reference = ConfigFactory.defaultReference(ModelSettings.class.getClassLoader());
    if (config == null) {
      return reference;
    }
    ModelSettings.load(config);
    return ConfigFactory.parseFile(config).withFallback(reference).resolve();
  }

  /** {@code " --config FILE"} when a file was given, for reproduce commands. */
  String reproduceArgument() {
    return config == null ? "" : " --config " + config;
  }
}

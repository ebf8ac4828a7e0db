package org.kvmmodel.core.config;

import java.util.stream.Collectors;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.plugin.UnknownArchException;

/**
 * The plugin, configuration and kernel version a run models, checked against what the plugin
 * declares.
 */
public record ArchSelection(ArchPlugin plugin, ArchConfiguration configuration, KvmVersion version) {

  /** Resolves the settings' names; each mismatch is a {@link SettingsException}. */
  public static ArchSelection select(ModelSettings settings, ArchPluginRegistry registry) {
    ArchPlugin plugin;
    try {
      plugin = registry.require(settings.arch());
    } catch (UnknownArchException e) {
      throw new SettingsException("kvmmodel.arch: " + e.getMessage(), e);
    }
    ArchConfiguration configuration;
    if (settings.archConfiguration().isEmpty()) {
      configuration = plugin.configurations().get(0);
    } else {
      try {
        configuration = plugin.configuration(settings.archConfiguration());
      } catch (IllegalArgumentException e) {
        throw new SettingsException("kvmmodel.arch-configuration: " + e.getMessage(), e);
      }
    }
    if (!plugin.kvmVersions().contains(settings.kvmVersion())) {
      throw new SettingsException(
          "kvmmodel.kvm.version: arch " + plugin.name() + " does not model " + settings.kvmVersion()
              + " (it models: "
              + plugin.kvmVersions().stream().map(Object::toString).collect(Collectors.joining(", "))
              + ")");
    }
    return new ArchSelection(plugin, configuration, settings.kvmVersion());
  }
}

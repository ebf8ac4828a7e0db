package org.kvmmodel.core.plugin;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.kvmmodel.api.ArchPlugin;

/**
 * The architecture plugins available to a run, by name. Built from {@link ServiceLoader}
 * discovery, from plugins passed in directly (unit tests, a port not yet packaged), or both.
 *
 * <p>A plugin that cannot be instantiated is recorded as a {@linkplain #problems() problem}
 * against its provider and the others stay usable; two plugins with one name are an error.
 */
public final class ArchPluginRegistry {

  private final Map<String, ArchPlugin> byName;
  private final List<String> problems;

  private ArchPluginRegistry(Map<String, ArchPlugin> byName, List<String> problems) {
    this.byName = byName;
    this.problems = problems;
  }

  /** Every plugin on the class path of {@code loader}. */
  public static ArchPluginRegistry discover(ClassLoader loader) {
    return build(ServiceLoader.load(ArchPlugin.class, loader), List.of());
  }

  /** Exactly the given plugins, without discovery. */
  public static ArchPluginRegistry of(Collection<? extends ArchPlugin> plugins) {
    return build(null, plugins);
  }

  private static ArchPluginRegistry build(
      ServiceLoader<ArchPlugin> discovered, Collection<? extends ArchPlugin> extra) {
    Map<String, ArchPlugin> byName = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    if (discovered != null) {
      for (ServiceLoader.Provider<ArchPlugin> provider :
          (Iterable<ServiceLoader.Provider<ArchPlugin>>) discovered.stream()::iterator) {
        try {
          add(byName, provider.get());
        } catch (ServiceConfigurationError | RuntimeException e) {
          problems.add(provider.type().getName() + ": " + e.getMessage());
        }
      }
    }
    for (ArchPlugin plugin : extra) {
      add(byName, plugin);
    }
    return new ArchPluginRegistry(byName, List.copyOf(problems));
  }

  private static void add(Map<String, ArchPlugin> byName, ArchPlugin plugin) {
    ArchPlugin previous = byName.putIfAbsent(plugin.name(), plugin);
    if (previous != null && previous != plugin) {
      throw new IllegalStateException(
          "two plugins claim arch '" + plugin.name() + "': "
              + previous.getClass().getName() + " and " + plugin.getClass().getName());
    }
  }

  /** All plugins, ordered by name. */
  public List<ArchPlugin> plugins() {
    return List.copyOf(byName.values());
  }

  /** Plugins that failed to load, each as {@code provider-class: reason}. */
  public List<String> problems() {
    return problems;
  }

  /** The plugin called {@code name}, or an exception that lists the names found. */
  public ArchPlugin require(String name) {
    ArchPlugin plugin = byName.get(name);
    if (plugin == null) {
      throw new UnknownArchException(name, List.copyOf(byName.keySet()));
    }
    return plugin;
  }
}

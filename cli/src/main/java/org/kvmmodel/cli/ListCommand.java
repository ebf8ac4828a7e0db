package org.kvmmodel.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kvmmodel list}: the architecture plugins found and what each models. */
@Command(
    name = "list",
    mixinStandardHelpOptions = true,
    description = "List the architecture plugins found, with their configurations.")
final class ListCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    ArchPluginRegistry registry = ArchPluginRegistry.discover(Main.class.getClassLoader());
    for (ArchPlugin plugin : registry.plugins()) {
      out.printf(Locale.US, "%s %s: %s%n", plugin.name(), plugin.version(), plugin.description());
      out.printf(Locale.US, "  mmu_lock: %s%n", plugin.mmuLockKind().name().toLowerCase(Locale.US));
      out.printf(
          Locale.US,
          "  kvm versions: %s%n",
          plugin.kvmVersions().stream().map(Object::toString).collect(Collectors.joining(", ")));
      out.printf(
          Locale.US,
          "  features: %s%n",
          new TreeSet<>(
                  plugin.features().stream()
                      .map(f -> f.name().toLowerCase(Locale.US).replace('_', '-'))
                      .collect(Collectors.toList()))
              .stream()
              .collect(Collectors.joining(", ")));
      out.println("  configurations:");
      int width =
          plugin.configurations().stream().mapToInt(c -> c.name().length()).max().orElse(0);
      for (ArchConfiguration c : plugin.configurations()) {
        out.printf(
            Locale.US, "    %-" + width + "s  %s%n", c.name(), describe(c.sortedParameters()));
      }
    }
    for (String problem : registry.problems()) {
      spec.commandLine().getErr().println("kvmmodel: plugin failed to load: " + problem);
    }
    out.flush();
    return registry.plugins().isEmpty() ? Main.EXIT_USAGE : 0;
  }

  private static String describe(Map<String, String> parameters) {
    return parameters.entrySet().stream()
        .map(e -> e.getKey() + "=" + e.getValue())
        .collect(Collectors.joining(" "));
  }
}

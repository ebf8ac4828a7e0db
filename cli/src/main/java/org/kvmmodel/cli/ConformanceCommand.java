package org.kvmmodel.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.concurrent.Callable;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.plugin.UnknownArchException;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.ConformanceReport;
import org.kvmmodel.core.scenario.ConformanceRow;
import org.kvmmodel.core.scenario.CoverageRow;
import org.kvmmodel.core.scenario.Scenarios;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kvmmodel conformance}: every scenario on every configuration of every plugin found,
 * judged by every check, as an arch × configuration × check matrix.
 */
@Command(
    name = "conformance",
    mixinStandardHelpOptions = true,
    description = {
      "Run every scenario on every configuration of each plugin over many seeds (half random,",
      "half PCT schedules) and print each check's verdict. Exit 0 only if every check passes."
    })
final class ConformanceCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Mixin private ConfigOption config;

  @Option(names = "--arch", paramLabel = "NAME", description = "Only this plugin (repeatable).")
  private List<String> arches = new ArrayList<>();

  @Option(names = "--seeds", paramLabel = "N", description = "Seeds per scenario and configuration (default: 64).")
  private int seeds = 64;

  @Option(
      names = "--generated",
      paramLabel = "N",
      description = "Scenarios composed from the seed per configuration (scenario generated),"
          + " besides the named ones (default: kvmmodel.conformance.generated-scenarios, 32).")
  private Integer generated;

  @Option(names = "--format", paramLabel = "FORMAT", description = "text or json (default: text).")
  private String format = "text";

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ArchPluginRegistry registry = ArchPluginRegistry.discover(Main.class.getClassLoader());
    List<ArchPlugin> plugins = new ArrayList<>();
    Config base;
    try {
      Main.requireTextOrJson(format);
      if (seeds < 1) {
        throw new IllegalArgumentException("--seeds must be at least 1");
      }
      if (generated != null && generated < 0) {
        throw new IllegalArgumentException("--generated must be 0 or more");
      }
      base = config.raw();
      if (generated != null) {
        base = base.withValue(
            "kvmmodel.conformance.generated-scenarios", ConfigValueFactory.fromAnyRef(generated));
      }
      ModelSettings.from(base);
      if (arches.isEmpty()) {
        plugins.addAll(registry.plugins());
      } else {
        for (String name : arches) {
          plugins.add(registry.require(name));
        }
      }
    } catch (IllegalArgumentException | SettingsException e) {
      err.println("kvmmodel conformance: " + e.getMessage());
      return Main.EXIT_USAGE;
    }
    if (plugins.isEmpty()) {
      err.println("kvmmodel conformance: " + new UnknownArchException("any", List.of()).getMessage());
      return Main.EXIT_USAGE;
    }
    int cells = plugins.stream().mapToInt(p -> p.configurations().size()).sum()
        * Scenarios.all().size();
    ConformanceReport report;
    try (TerminalProgress progress = TerminalProgress.of("conformance", cells)) {
      report = Conformance.report(base, registry, plugins, Scenarios.all(), seeds, progress);
    }
    if (format.equals("json")) {
      writeJson(out, report);
    } else {
      writeText(out, report.rows());
      writeCoverage(out, report.coverage());
    }
    out.flush();
    return report.fails() ? Main.EXIT_CHECK_FAILED : 0;
  }

  /**
   * Per arch and check, each kind of situation and how often it was judged; a kind never
   * judged is {@code not-exercised} (failing) or, where the plugin declares it impossible,
   * {@code not-applicable} with the reason.
   */
  private static void writeCoverage(PrintWriter out, List<CoverageRow> coverage) {
    String columns = "%-" + width(coverage, CoverageRow::arch, 6) + "s %-"
        + width(coverage, CoverageRow::check, 20) + "s %-"
        + width(coverage, CoverageRow::kind, 10) + "s %-14s %10s%n";
    out.println();
    out.println("coverage: the kinds of situation each check judged, per arch");
    out.printf(Locale.US, columns, "arch", "check", "kind", "status", "judged");
    int judged = 0;
    int notExercised = 0;
    int notApplicable = 0;
    for (CoverageRow c : coverage) {
      out.printf(Locale.US, columns, c.arch(), c.check(), c.kind(), c.status().label(),
          c.judged());
      if (c.status() == CheckStatus.NOT_APPLICABLE) {
        notApplicable++;
        out.println("       " + c.reason());
      } else if (c.status() == CheckStatus.NOT_EXERCISED) {
        notExercised++;
      } else {
        judged++;
      }
    }
    out.printf(Locale.US, "%d kinds judged, %d not-exercised, %d not-applicable%n", judged,
        notExercised, notApplicable);
  }

  /** The width of a text column: its longest value, and at least {@code least}. */
  private static <T> int width(List<T> rows, Function<T, String> column, int least) {
    return Math.max(least, rows.stream().mapToInt(r -> column.apply(r).length()).max().orElse(0));
  }

  private void writeText(PrintWriter out, List<ConformanceRow> rows) {
    String columns =
        "%-" + width(rows, ConformanceRow::arch, 6) + "s %-"
            + width(rows, ConformanceRow::configuration, 12) + "s %-"
            + width(rows, ConformanceRow::scenario, 15) + "s %-"
            + width(rows, ConformanceRow::check, 20) + "s %-14s ";
    out.printf(Locale.US, columns + "%10s %5s%n",
        "arch", "config", "scenario", "check", "status", "judged", "runs");
    int pass = 0;
    int fail = 0;
    int notExercised = 0;
    int known = 0;
    int notApplicable = 0;
    for (ConformanceRow r : rows) {
      out.printf(Locale.US, columns + "%10d %5d%n", r.arch(), r.configuration(),
          r.scenario(), r.check(), r.status().label(), r.judged(), r.runs());
      if (r.status() == CheckStatus.FAIL) {
        fail++;
        out.println("       " + r.message());
        out.println("       reproduce: " + RunCommand.reproduce(r.scenario(), r.arch(),
            r.configuration(), r.failingSeed(), r.failingPolicy(), config.reproduceArgument()));
      } else if (r.status() == CheckStatus.KNOWN_DIVERGENCE) {
        known++;
        out.println("       " + r.message());
      } else if (r.status() == CheckStatus.NOT_EXERCISED) {
        notExercised++;
      } else if (r.status() == CheckStatus.NOT_APPLICABLE) {
        notApplicable++;
        out.println("       " + r.message());
      } else {
        pass++;
      }
    }
    out.printf(Locale.US, "%d pass, %d fail, %d not-exercised%s%s%n", pass, fail, notExercised,
        known == 0 ? "" : String.format(Locale.US, ", %d known-divergence", known),
        notApplicable == 0 ? "" : String.format(Locale.US, ", %d not-applicable", notApplicable));
  }

  private void writeJson(PrintWriter out, ConformanceReport report) throws IOException {
    JsonGenerator g = new JsonFactory().createGenerator(out).useDefaultPrettyPrinter();
    g.writeStartObject();
    g.writeArrayFieldStart("cells");
    for (ConformanceRow r : report.rows()) {
      g.writeStartObject();
      g.writeStringField("arch", r.arch());
      g.writeStringField("configuration", r.configuration());
      g.writeStringField("scenario", r.scenario());
      g.writeStringField("check", r.check());
      g.writeStringField("status", r.status().label());
      g.writeNumberField("judged", r.judged());
      g.writeNumberField("runs", r.runs());
      if (r.status() == CheckStatus.FAIL || r.status() == CheckStatus.KNOWN_DIVERGENCE) {
        g.writeNumberField("seed", r.failingSeed());
        g.writeStringField("schedule", r.failingPolicy());
        g.writeStringField("message", r.message());
      } else if (r.status() == CheckStatus.NOT_APPLICABLE) {
        g.writeStringField("message", r.message());
      }
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeArrayFieldStart("coverage");
    for (CoverageRow c : report.coverage()) {
      g.writeStartObject();
      g.writeStringField("arch", c.arch());
      g.writeStringField("check", c.check());
      g.writeStringField("kind", c.kind());
      g.writeStringField("status", c.status().label());
      g.writeNumberField("judged", c.judged());
      if (c.reason() != null) {
        g.writeStringField("reason", c.reason());
      }
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeEndObject();
    g.flush();
    out.println();
  }
}

package org.kvmmodel.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.typesafe.config.Config;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.scenario.Reproduce;
import org.kvmmodel.mutants.CatalogMutant;
import org.kvmmodel.mutants.MutantCatalog;
import org.kvmmodel.mutants.MutantHunt;
import org.kvmmodel.mutants.MutantVerdict;
import org.kvmmodel.mutants.UnexpressedBug;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kvmmodel mutants}: the catalogued KVM bugs re-created as broken plugins, each hunted
 * with every check on its closest scenario, and the ones not yet expressible with what they
 * wait for.
 */
@Command(
    name = "mutants",
    mixinStandardHelpOptions = true,
    description = {
      "Hunt the catalogued real KVM bugs, each re-created as the smallest change to a real",
      "plugin, with every check: deterministic schedules of the bug's closest scenario (seeds",
      "from 0, random then PCT) until one fails, then the real plugin over the same schedules,",
      "which must pass them. Prints for each bug the check that caught it, the scenario and",
      "how many schedules it took; bugs not yet expressible are listed with what they wait",
      "for. Exit 0 if every expressible bug is caught, 1 if one is not, 2 for bad usage."
    })
final class MutantsCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Mixin private ConfigOption config;

  @Parameters(paramLabel = "ID", arity = "0..*",
      description = "Only these catalogue ids, e.g. B07 (default: all).")
  private List<String> ids = new ArrayList<>();

  @Option(names = "--budget", paramLabel = "N",
      description = "Schedules to try per bug at most (default: 1000).")
  private int budget = 1000;

  @Option(names = "--story", description = "Print each catch's shrunk story (its last events).")
  private boolean story;

  @Option(names = "--format", paramLabel = "FORMAT", description = "text or json (default: text).")
  private String format = "text";

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<CatalogMutant> mutants = new ArrayList<>();
    List<UnexpressedBug> waiting = new ArrayList<>();
    Config base;
    try {
      Main.requireTextOrJson(format);
      if (budget < 1) {
        throw new IllegalArgumentException("--budget must be at least 1");
      }
      for (String id : ids) {
        if (!MutantCatalog.ids().contains(id)) {
          throw new IllegalArgumentException("unknown catalogue id '" + id + "' (allowed: "
              + String.join(", ", MutantCatalog.ids()) + ")");
        }
      }
      MutantCatalog.mutants().stream().filter(m -> ids.isEmpty() || ids.contains(m.id()))
          .forEach(mutants::add);
      MutantCatalog.unexpressed().stream().filter(u -> ids.isEmpty() || ids.contains(u.id()))
          .forEach(waiting::add);
      base = config.raw();
    } catch (IllegalArgumentException | SettingsException e) {
      err.println("kvmmodel mutants: " + e.getMessage());
      return Main.EXIT_USAGE;
    }
    List<MutantVerdict> verdicts = new ArrayList<>();
    try (TerminalProgress progress = TerminalProgress.of("mutants", mutants.size())) {
      for (CatalogMutant m : mutants) {
        verdicts.add(MutantHunt.hunt(m, base, budget, done -> {}));
        progress.accept(verdicts.size());
      }
    }
    if (format.equals("json")) {
      writeJson(out, verdicts, waiting);
    } else {
      writeText(out, verdicts, waiting);
    }
    out.flush();
    return verdicts.stream().allMatch(MutantVerdict::caught) ? 0 : Main.EXIT_CHECK_FAILED;
  }

  private void writeText(PrintWriter out, List<MutantVerdict> verdicts, List<UnexpressedBug> waiting) {
    for (MutantVerdict v : verdicts) {
      CatalogMutant m = v.mutant();
      out.printf(Locale.US, "%s  %s%n", m.id(), m.title());
      out.println("     fixed by " + m.fix());
      out.println("     " + outcome(v));
      if (v.message() != null) {
        out.println("     " + v.message());
      }
      if (v.hunt().foundViolation() && v.violation() != null
          && v.hunt().shrunk().failure() != null) {
        out.println("     the run also failed: " + v.hunt().shrunk().failure());
      }
      if (story && v.hunt().foundViolation()) {
        v.hunt().shrunk().story().forEach(line -> out.println("       " + line));
      }
      out.println("     reproduce: ./kvmmodel mutants " + m.id() + reproduceSuffix());
    }
    if (!waiting.isEmpty()) {
      if (!verdicts.isEmpty()) {
        out.println();
      }
      out.println("not yet expressible:");
      for (UnexpressedBug u : waiting) {
        out.printf(Locale.US, "%s  %s%n     waits for %s%n", u.id(), u.title(), u.waitsFor());
      }
    }
    long caught = verdicts.stream().filter(MutantVerdict::caught).count();
    out.printf(Locale.US, "%d of %d re-created bugs caught, %d not yet expressible%n", caught,
        verdicts.size(), waiting.size());
  }

  /** One line: caught by what, where and after how many schedules; or why not. */
  private static String outcome(MutantVerdict v) {
    CatalogMutant m = v.mutant();
    String where = String.format(Locale.US, "%s on %s %s", m.scenario(), m.arch(),
        m.configuration());
    if (!v.hunt().foundViolation()) {
      return String.format(Locale.US, "NOT CAUGHT in %d schedule%s of %s", v.schedules(),
          v.schedules() == 1 ? "" : "s", where);
    }
    Violation violation = v.violation();
    String by = v.check() + (violation == null ? "" : " (" + violation.kind() + ")");
    String found = String.format(Locale.US, "caught by %s in %s after %d schedule%s (seed %d, %s)",
        by, where, v.schedules(), v.schedules() == 1 ? "" : "s", v.run().seed(),
        Reproduce.policy(v.run().policy()));
    if (v.control().foundViolation()) {
      return found + "; NOT CONCLUSIVE: the real " + m.arch() + " fails schedule "
          + v.control().explored() + " too (" + v.control().check() + ")";
    }
    return found + "; the real " + m.arch() + " passes those schedules";
  }

  private String reproduceSuffix() {
    String budgetArg = budget == 1000 ? "" : " --budget " + budget;
    return budgetArg + config.reproduceArgument();
  }

  private static void writeJson(
      PrintWriter out, List<MutantVerdict> verdicts, List<UnexpressedBug> waiting)
      throws IOException {
    JsonGenerator g = new JsonFactory().createGenerator(out).useDefaultPrettyPrinter();
    g.writeStartObject();
    g.writeArrayFieldStart("mutants");
    for (MutantVerdict v : verdicts) {
      CatalogMutant m = v.mutant();
      g.writeStartObject();
      g.writeStringField("id", m.id());
      g.writeStringField("title", m.title());
      g.writeStringField("fix", m.fix());
      g.writeStringField("arch", m.arch());
      g.writeStringField("configuration", m.configuration());
      g.writeStringField("scenario", m.scenario());
      g.writeBooleanField("caught", v.caught());
      g.writeNumberField("schedules", v.schedules());
      if (v.hunt().foundViolation()) {
        g.writeStringField("check", v.check());
        if (v.violation() != null) {
          g.writeStringField("kind", v.violation().kind());
        }
        g.writeNumberField("seed", v.run().seed());
        g.writeStringField("schedule", Reproduce.policy(v.run().policy()));
        g.writeStringField("message", v.message());
        g.writeBooleanField("realPluginPasses", !v.control().foundViolation());
      }
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeArrayFieldStart("notYetExpressible");
    for (UnexpressedBug u : waiting) {
      g.writeStartObject();
      g.writeStringField("id", u.id());
      g.writeStringField("title", u.title());
      g.writeStringField("waitsFor", u.waitsFor());
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeEndObject();
    g.flush();
    out.println();
  }
}

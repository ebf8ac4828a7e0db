package org.kvmmodel.core.scenario;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.check.CheckStatus;

/**
 * What a stress run found: the runs made, their summed counters and judgements, and the first
 * failing iteration, if any, whose seed and events are what the report hands on, with its
 * violations no declared known divergence covers.
 */
public record StressReport(
    String scenario,
    String arch,
    String configuration,
    long firstSeed,
    int runs,
    Map<String, Long> counters,
    Map<String, Long> judged,
    Map<String, String> knownDivergences,
    RunResult failing,
    List<Violation> violations) {

  public StressReport {
    counters = Collections.unmodifiableMap(new LinkedHashMap<>(counters));
    judged = Collections.unmodifiableMap(new LinkedHashMap<>(judged));
    knownDivergences = Collections.unmodifiableMap(new LinkedHashMap<>(knownDivergences));
    violations = List.copyOf(violations);
  }

  public boolean failed() {
    return failing != null;
  }

  /** Whether no iteration failed and every check judged something over the runs. */
  public boolean passed() {
    return failing == null && judged.values().stream().allMatch(j -> j > 0);
  }

  /**
   * The check the failing iteration broke first, leaving out declared known divergences
   * ({@link Conformance#RUN_ROW} for its schedule).
   */
  public String violatedCheck() {
    return violations.isEmpty() ? Conformance.RUN_ROW : violations.get(0).check();
  }

  /** The file name a failing iteration's events go to when none was asked for. */
  public String defaultTraceFile() {
    return String.format(Locale.US, "stress-%s-%s-%s-seed%d.jsonl", scenario, arch,
        configuration, failing.seed());
  }

  /** Writes the failing iteration's last events to {@code file} as JSON lines. */
  public void writeTrace(Path file) throws IOException {
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      failing.log().writeJsonLines(w);
    }
  }

  /**
   * Prints the report. A failure names the check, the arch and its configuration, the seed,
   * {@code traceFile} (already written) and the {@code explore} command; a pass prints the
   * summed counters and what each check judged (a check that judged nothing is
   * {@code not-exercised}); the counts vary from one stress to the next because the
   * interleavings are real.
   */
  public void print(PrintWriter out, Path traceFile, String configArgument) {
    if (failing != null) {
      String check = violatedCheck();
      out.printf(Locale.US, "stress %s on %s %s: %s violated in run %d of free mode, seed %d%n",
          scenario, arch, configuration, check, runs, failing.seed());
      violations.forEach(v -> out.println("  " + v));
      if (failing.failure() != null) {
        out.println("  run failed: " + failing.failure());
      }
      out.println("event log (JSON lines): " + traceFile);
      out.println("explore: " + Reproduce.explore(scenario, arch, configuration, check,
          failing.seed(), configArgument));
      return;
    }
    out.printf(Locale.US, "stress %s on %s %s: %d runs in free mode from seed %d, no violation%s%n",
        scenario, arch, configuration, runs, firstSeed,
        knownDivergences.isEmpty() ? "" : " other than the declared known divergences");
    out.printf(Locale.US, "  %-26s %d%n", "runs", runs);
    for (Map.Entry<String, Long> e : counters.entrySet()) {
      out.printf(Locale.US, "  %-26s %d%n", e.getKey(), e.getValue());
    }
    out.println("checks:");
    for (Map.Entry<String, Long> e : judged.entrySet()) {
      String known = knownDivergences.get(e.getKey());
      CheckStatus status =
          known != null
              ? CheckStatus.KNOWN_DIVERGENCE
              : e.getValue() == 0 ? CheckStatus.NOT_EXERCISED : CheckStatus.PASS;
      out.printf(Locale.US, "  %-20s %-16s judged %d%n", e.getKey(), status.label(), e.getValue());
      if (known != null) {
        out.println("    " + known);
      }
    }
  }
}

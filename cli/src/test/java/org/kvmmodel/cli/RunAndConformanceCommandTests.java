package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunAndConformanceCommandTests extends CommandLineTest {

  @Test
  void runPrintsCountersAndEveryCheck() {
    assertEquals(0, run("run", "demand-paging", "--seed", "5"));
    String text = out.toString();
    assertTrue(text.startsWith("demand-paging on x86 ept4-ad, seed 5, random: "), text);
    assertTrue(text.contains("  guest-accesses           48"), text);
    assertTrue(text.contains("  DIRTY-PROTECTED      pass"), text);
    assertTrue(text.contains("  NO-STALE-MAPPING     pass"), text);
  }

  @Test
  void runReportsADeclaredKnownDivergenceWithItsCitationAndPasses() {
    assertEquals(0, run("run", "demand-paging", "--arch", "riscv", "--seed", "0"));
    String text = out.toString();
    assertTrue(text.contains("\n  DIRTY-PROTECTED      known-divergence judged "), text);
    assertTrue(text.contains("\n      unfixed in mainline (kvm_riscv_gstage_map: a fault whose"
        + " retry check fired maps nothing and releases its page dirty)\n"), text);
    assertTrue(!text.contains("reproduce:"), text);
  }

  @Test
  void runWritesItsEventsAsJsonLines() throws IOException {
    Path trace = dir.resolve("trace.jsonl");
    assertEquals(0, run("run", "demand-paging", "--seed", "3", "--trace-out", trace.toString()));
    List<String> lines = Files.readAllLines(trace, StandardCharsets.UTF_8);
    assertTrue(lines.size() > 100, "events written: " + lines.size());
    assertTrue(lines.stream().anyMatch(l -> l.matches(
        "\\{\"seq\":\\d+,\"actor\":\"vcpu[01]\",\"event\":\"kvm_page_fault\",\"gpa\":\\d+,"
            + "\"access\":\\d+,\"present\":[01]\\}")), lines.get(0));
  }

  @Test
  void runIsIdenticalForTheSameSeed() {
    assertEquals(0, run("run", "demand-paging", "--seed", "9", "--policy", "pct", "--story"));
    String first = out.toString();
    out.getBuffer().setLength(0);
    assertEquals(0, run("run", "demand-paging", "--seed", "9", "--policy", "pct", "--story"));
    assertEquals(first, out.toString());
  }

  @Test
  void aSixteenKibConfigurationRunsOnASixteenKibHost() {
    assertEquals(0, run("run", "demand-paging", "--arch", "arm64", "--arch-config", "16k-ipa40",
        "--seed", "4"));
    String text = out.toString();
    assertTrue(text.startsWith("demand-paging on arm64 16k-ipa40, seed 4, random: "), text);
    assertTrue(text.contains("  NO-STALE-MAPPING     pass"), text);
    assertEquals("", err.toString());
  }

  @Test
  void badUsageIsExitTwoWithAOneLineMessage() {
    assertEquals(Main.EXIT_USAGE, run("run", "no-such-scenario"));
    assertEquals("kvmmodel run: unknown scenario 'no-such-scenario' (known: demand-paging, writeback-storm, dirty-log, memslot-delete, pfncache, two-vms, page-fault-test, huge-pages, mte-copy-tags, generated)\n",
        err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("run", "demand-paging", "--arch", "sparc"));
    assertEquals("kvmmodel run: kvmmodel.arch: unknown arch 'sparc' (plugins found: arm64, riscv, x86)\n",
        err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("run", "demand-paging", "--policy", "fifo"));
    assertEquals("kvmmodel run: unknown policy 'fifo' (allowed: random, pct)\n", err.toString());
  }

  @Test
  void aBadConfigFileIsNamed() throws IOException {
    Path conf = dir.resolve("bad.conf");
    Files.write(conf, "kvmmodel.frobnicate = 1".getBytes(StandardCharsets.UTF_8));
    assertEquals(Main.EXIT_USAGE, run("run", "demand-paging", "--config", conf.toString()));
    assertTrue(err.toString().startsWith(
        "kvmmodel run: unknown config key kvmmodel.frobnicate (allowed under kvmmodel: "), err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE,
        run("conformance", "--config", dir.resolve("missing.conf").toString()));
    assertEquals("kvmmodel conformance: config file not found: " + dir.resolve("missing.conf") + "\n",
        err.toString());
  }

  @Test
  void conformancePrintsTheMatrixAndJson() {
    assertEquals(0, run("conformance", "--arch", "x86", "--seeds", "16"));
    String text = out.toString();
    assertTrue(text.contains("x86    ept5-noad    demand-paging   REFCOUNT-BALANCED    pass"), text);
    assertTrue(text.contains("x86    ept4-ad      writeback-storm NO-LOST-WRITE        pass"), text);
    assertTrue(text.contains("x86    ept4-ad      dirty-log       DIRTY-LOG-COMPLETE   pass"), text);
    assertTrue(text.contains("x86    ept4-ad      mte-copy-tags   run                  not-applicable"
        + "          0     0\n       KVM_ARM_MTE_COPY_TAGS needs a VM with MTE"), text);
    assertTrue(text.matches("(?s).*\\n\\d+ pass, 0 fail, 0 not-exercised, \\d+ not-applicable\n.*"),
        text);
    assertTrue(text.contains("\ncoverage: the kinds of situation each check judged, per arch\n"),
        text);
    assertTrue(text.matches("(?s).*\\nx86 +PERMISSIONS +backing=anon-thp leaf=huge +not-applicable"
        + " +0\n +the x86 plugin models the TDP MMU's 4 KiB mappings only.*"), text);
    assertTrue(text.matches("(?s).*\\nx86 +DIRTY-PROTECTED +backing=anon fault=read +pass +\\d+\n.*"),
        text);
    assertTrue(text.matches("(?s).*\\n\\d+ kinds judged, 0 not-exercised, 4 not-applicable\n"),
        text);
    out.getBuffer().setLength(0);
    assertEquals(0, run("conformance", "--arch", "x86", "--seeds", "16", "--format", "json"));
    assertTrue(out.toString().contains("\"check\" : \"DIRTY-PROTECTED\""), out.toString());
    assertTrue(out.toString().contains("\"status\" : \"pass\""), out.toString());
    assertTrue(out.toString().contains("\"coverage\" : ["), out.toString());
    assertTrue(out.toString().contains("\"kind\" : \"backing=pfnmap leaf=huge\""), out.toString());
    assertEquals(Main.EXIT_USAGE, run("conformance", "--format", "xml"));
  }

  @Test
  void conformanceDrawsNoProgressWithoutATerminal() {
    ByteArrayOutputStream processErr = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    System.setErr(new PrintStream(processErr, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, run("conformance", "--arch", "x86", "--seeds", "16"));
    } finally {
      System.setErr(saved);
    }
    assertEquals("", err.toString());
    assertEquals("", processErr.toString(StandardCharsets.UTF_8));
  }
}

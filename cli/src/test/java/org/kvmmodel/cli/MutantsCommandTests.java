package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MutantsCommandTests extends CommandLineTest {

  @Test
  void hasHelp() {
    assertEquals(0, run("mutants", "--help"));
    assertTrue(out.toString().startsWith("Usage: kvmmodel mutants "), out.toString());
    assertTrue(out.toString().contains("--budget=N"), out.toString());
  }

  @Test
  void anUnknownIdIsExitTwoWithTheCatalogue() {
    assertEquals(Main.EXIT_USAGE, run("mutants", "B99"));
    assertEquals("kvmmodel mutants: unknown catalogue id 'B99' (allowed: B02, B03, B06, B07, B09,"
        + " B10, B14, B15, B18, B20, B22, B24, B26, B28, B31, B32, B34, B35, B38)\n",
        err.toString());
    assertEquals("", out.toString());
  }

  @Test
  void aCaughtMutantSaysByWhatWhereAndAfterHowManySchedules() {
    assertEquals(0, run("mutants", "B09"));
    assertEquals("B09  x86: folio dirtied where an SPTE is made writable outside the"
        + " notifier-protected window (the lockless fast path)\n"
        + "     fixed by KVM: x86/mmu: Mark folio dirty when creating SPTE, not when"
        + " zapping/modifying (aa85986e7150)\n"
        + "     caught by DIRTY-PROTECTED (no-mmu-lock) in dirty-log on x86 ept4-ad after 1"
        + " schedule (seed 0, random); the real x86 passes those schedules\n", firstLines(3));
    assertTrue(out.toString().contains("     reproduce: ./kvmmodel mutants B09\n"), out.toString());
    assertTrue(out.toString().endsWith("1 of 1 re-created bugs caught, 0 not yet expressible\n"),
        out.toString());
  }

  @Test
  void aBugNotYetExpressibleSaysWhatItWaitsFor() {
    assertEquals(0, run("mutants", "B03"));
    assertEquals("not yet expressible:\n"
        + "B03  x86 TDP MMU: invalidated roots zapped by an asynchronous worker\n"
        + "     waits for several TDP MMU roots in arch-x86 (invalidation, zap of invalidated"
        + " roots)\n"
        + "0 of 0 re-created bugs caught, 1 not yet expressible\n", out.toString());
  }

  @Test
  void aBudgetTooSmallToCatchIsExitOne() {
    assertEquals(Main.EXIT_CHECK_FAILED, run("mutants", "B07", "--budget", "1"));
    assertTrue(out.toString().contains("     NOT CAUGHT in 1 schedule of huge-pages on arm64"
        + " 4k-ipa40\n"), out.toString());
    assertTrue(out.toString().contains("     reproduce: ./kvmmodel mutants B07 --budget 1\n"),
        out.toString());
  }

  @Test
  void jsonNamesTheCheckAndTheKind() {
    assertEquals(0, run("mutants", "B22", "--format", "json"));
    String json = out.toString();
    assertTrue(json.contains("\"check\" : \"LIVENESS\""), json);
    assertTrue(json.contains("\"kind\" : \"zap-livelock\""), json);
    assertTrue(json.contains("\"realPluginPasses\" : true"), json);
  }

  private String firstLines(int n) {
    String[] lines = out.toString().split("\n", -1);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(lines[i]).append('\n');
    }
    return b.toString();
  }
}

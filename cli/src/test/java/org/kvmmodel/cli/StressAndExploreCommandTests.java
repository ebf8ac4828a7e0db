package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class StressAndExploreCommandTests extends CommandLineTest {

  @Test
  void bothVerbsHaveHelp() {
    assertEquals(0, run("stress", "--help"));
    assertTrue(out.toString().startsWith("Usage: kvmmodel stress "), out.toString());
    assertTrue(out.toString().contains("--iterations=N"), out.toString());
    out.getBuffer().setLength(0);
    assertEquals(0, run("explore", "--help"));
    assertTrue(out.toString().startsWith("Usage: kvmmodel explore "), out.toString());
    assertTrue(out.toString().contains("--check=ID"), out.toString());
    assertTrue(out.toString().contains("--scenario-seed=N"), out.toString());
  }

  @Test
  void aBadCheckIdIsExitTwoWithTheAllowedIds() {
    assertEquals(Main.EXIT_USAGE, run("explore", "demand-paging", "--check", "NO-SUCH-CHECK"));
    assertEquals("kvmmodel explore: unknown check 'NO-SUCH-CHECK' (allowed: DIRTY-PROTECTED,"
        + " REFCOUNT-BALANCED, NO-STALE-MAPPING, TLB-COHERENT, PERMISSIONS, LOCK-DISCIPLINE,"
        + " NO-LOST-WRITE, DIRTY-LOG-COMPLETE, ISOLATION, LIVENESS, run)\n", err.toString());
    assertEquals("", out.toString());
  }

  @Test
  void otherBadUsageIsExitTwo() {
    assertEquals(Main.EXIT_USAGE, run("explore", "demand-paging"));
    assertTrue(err.toString().startsWith("kvmmodel: Missing required option: '--check=ID'"),
        err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE,
        run("explore", "demand-paging", "--check", "DIRTY-LOG-COMPLETE"));
    assertEquals("kvmmodel explore: check DIRTY-LOG-COMPLETE does not judge scenario"
        + " demand-paging\n", err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("explore", "demand-paging", "--check", "ISOLATION",
        "--budget", "0"));
    assertEquals("kvmmodel explore: --budget must be at least 1\n", err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("stress", "no-such-scenario"));
    assertEquals("kvmmodel stress: unknown scenario 'no-such-scenario' (known: demand-paging,"
        + " writeback-storm, dirty-log, memslot-delete, pfncache, two-vms, page-fault-test, huge-pages, mte-copy-tags, generated)\n", err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("stress", "demand-paging", "--iterations", "0"));
    assertEquals("kvmmodel stress: --iterations must be at least 1\n", err.toString());
    err.getBuffer().setLength(0);
    assertEquals(Main.EXIT_USAGE, run("stress", "demand-paging", "--arch", "sparc"));
    assertEquals("kvmmodel stress: kvmmodel.arch: unknown arch 'sparc' (plugins found: arm64, riscv, x86)\n",
        err.toString());
  }

  @Test
  void exploreOnX86FindsNoneAndSaysSoDeterministically() {
    assertEquals(0, run("explore", "demand-paging", "--check", "NO-STALE-MAPPING", "--budget", "4",
        "--from-seed", "2"));
    String first = out.toString();
    assertEquals("explore demand-paging on x86 ept4-ad: no violation of NO-STALE-MAPPING found in"
        + " 4 schedules (seeds 2 to 3, random and pct)\n", first);
    out.getBuffer().setLength(0);
    assertEquals(0, run("explore", "demand-paging", "--check", "NO-STALE-MAPPING", "--budget", "4",
        "--from-seed", "2"));
    assertEquals(first, out.toString());
  }

  @Test
  void stressOnX86PassesAndPrintsItsCounters() throws Exception {
    Path conf = dir.resolve("x86.conf");
    Files.writeString(conf, "kvmmodel.arch-configuration = ept5-ad\n");
    // Free mode: the interleavings are real, so enough runs that every check meets its situation
    // (a check that judged nothing makes the stress fail as not-exercised).
    int exit = run("stress", "dirty-log", "--iterations", "40", "--seed", "3", "--config",
        conf.toString());
    String text = out.toString();
    assertEquals(0, exit, text);
    assertTrue(text.startsWith("stress dirty-log on x86 ept5-ad: 40 runs in free mode from seed 3,"
        + " no violation\n  runs                       40\n  guest-accesses             1920\n"), text);
    assertTrue(text.contains("\n  DIRTY-LOG-COMPLETE   pass             judged "), text);
  }

  @Test
  void aDeclaredKnownDivergenceIsReportedAndDoesNotFailTheStress() {
    // 6.13's kvm_riscv_gstage_map releases a retried page dirty; a store after a read of the
    // zero page retries on its own (breaking COW moves the sequence), whatever the interleaving.
    int exit = run("stress", "demand-paging", "--arch", "riscv", "--iterations", "40");
    String text = out.toString();
    assertEquals(0, exit, text);
    assertTrue(text.contains(" no violation other than the declared known divergences\n"), text);
    assertTrue(text.contains("\n  DIRTY-PROTECTED      known-divergence judged "), text);
    assertTrue(text.contains("\n    unfixed in mainline (kvm_riscv_gstage_map: a fault whose retry"
        + " check fired maps nothing and releases its page dirty): folio "), text);
  }

  @Test
  void runTakesTheScenarioSeedExploreReproducesWith() {
    assertEquals(0, run("run", "demand-paging", "--seed", "4", "--scenario-seed", "9"));
    assertTrue(out.toString().startsWith(
        "demand-paging on x86 ept4-ad, seed 4 (scenario seed 9), random: "), out.toString());
  }
}

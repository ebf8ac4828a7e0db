package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ListCommandTests {

  @Test
  void listsTheX86PluginWithItsConfigurations() {
    StringWriter out = new StringWriter();
    assertEquals(0, Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), "list"));
    String text = out.toString();
    assertTrue(text.startsWith("arm64 ") && text.contains("\nriscv ") && text.contains("\nx86 "), text);
    assertTrue(text.contains("\nx86 0.1.0: "), text);
    assertTrue(text.contains("mmu_lock: spinlock"), text);
    assertTrue(text.contains("    sv57x4-svadu  ad=svadu mode=sv57x4\n"), text);
    assertTrue(text.contains("mmu_lock: rwlock"), text);
    assertTrue(text.contains("\n    4k-ipa40              fwb=off granule=4k"), "names padded to the longest: " + text);
    assertTrue(text.contains("    ept5-noad  ad-bits=off levels=5\n"), text);
  }

  @Test
  void noVerbIsUsageError() {
    assertEquals(Main.EXIT_USAGE, Main.run(quiet(), quiet()));
  }

  @Test
  void unknownVerbIsUsageError() {
    assertEquals(Main.EXIT_USAGE, Main.run(quiet(), quiet(), "frobnicate"));
  }

  private static PrintWriter quiet() {
    return new PrintWriter(new StringWriter());
  }
}

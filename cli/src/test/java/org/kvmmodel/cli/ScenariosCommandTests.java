package org.kvmmodel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;

class ScenariosCommandTests {

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    assertEquals(0, Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), args));
    return out.toString();
  }

  @Test
  void listsEveryBuiltInScenarioInOrderWithItsDescriptionAligned() {
    String[] lines = run("scenarios").split("\n");
    List<Scenario> all = Scenarios.all();
    assertEquals(all.size(), lines.length, String.join("\n", lines));
    int column = all.stream().mapToInt(s -> s.name().length()).max().orElseThrow() + 2;
    for (int i = 0; i < all.size(); i++) {
      Scenario s = all.get(i);
      assertTrue(lines[i].startsWith(s.name() + " "), lines[i]);
      assertEquals(s.description(), lines[i].substring(column), lines[i]);
    }
    assertTrue(lines[0].startsWith("demand-paging "), lines[0]);
  }

  @Test
  void helpDescribesTheVerb() {
    assertTrue(run("scenarios", "--help").contains("List the built-in scenarios"));
  }

  @Test
  void anArgumentIsUsageError() {
    assertEquals(Main.EXIT_USAGE,
        Main.run(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
            "scenarios", "extra"));
  }
}

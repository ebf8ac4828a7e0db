package org.kvmmodel.core.scenario;

import java.util.List;
import java.util.stream.Collectors;

/** The scenarios the model ships, by name. */
public final class Scenarios {

  private static final List<Scenario> ALL =
      List.of(new DemandPaging(), new WritebackStorm(), new DirtyLogHarvest(), new MemslotDelete(),
          new PfnCache(), new TwoVms(), new PageFaultTest(),
          new HugePages(), new MteCopyTagsScenario(), new GeneratedScenario());

  private Scenarios() {}

  public static List<Scenario> all() {
    return ALL;
  }

  /** The scenario called {@code name}, or an exception listing the known names. */
  public static Scenario byName(String name) {
    for (Scenario s : ALL) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "unknown scenario '" + name + "' (known: "
            + ALL.stream().map(Scenario::name).collect(Collectors.joining(", ")) + ")");
  }
}

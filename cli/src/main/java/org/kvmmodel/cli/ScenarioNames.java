package org.kvmmodel.cli;

import java.util.Iterator;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;

/** The built-in scenarios' names, in their listed order, as a verb's help shows them. */
final class ScenarioNames implements Iterable<String> {

  @Override
  public Iterator<String> iterator() {
    return Scenarios.all().stream().map(Scenario::name).iterator();
  }
}

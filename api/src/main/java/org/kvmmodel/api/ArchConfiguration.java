package org.kvmmodel.api;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One configuration an architecture plugin models, for example x86 EPT with four levels and
 * A/D bits, or arm64 with a 4 KiB granule and a 40-bit IPA.
 *
 * @param name short stable name used in reports and on the command line, e.g. {@code ept4-ad}
 * @param parameters the axis values that make it up, sorted by key so output is stable
 */
public record ArchConfiguration(String name, Map<String, String> parameters) {

  public ArchConfiguration {
    Objects.requireNonNull(name, "name");
    parameters = Map.copyOf(parameters);
  }

  /** The parameters in key order, for output that is identical on every machine. */
  public Map<String, String> sortedParameters() {
    return new TreeMap<>(parameters);
  }

  /** The value of {@code key}; throws if the configuration has no such axis. */
  public String parameter(String key) {
    String value = parameters.get(key);
    if (value == null) {
      throw new IllegalArgumentException("configuration " + name + " has no parameter " + key);
    }
    return value;
  }
}

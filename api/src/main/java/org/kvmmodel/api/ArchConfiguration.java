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

  /** The parameter naming the host page size a configuration needs, e.g. {@code 16k}. */
  public static final String HOST_PAGE_SIZE = "host-page-size";

  /**
   * log2 of the host {@code PAGE_SIZE} the configuration needs (its {@link #HOST_PAGE_SIZE}
   * parameter in KiB, e.g. {@code 64k}), 12 when it names none. arm64's stage-2 granule is the
   * host's page size, so a 16 KiB-granule configuration only runs on a 16 KiB host.
   */
  public int hostPageShift() {
    String size = parameters.getOrDefault(HOST_PAGE_SIZE, "4k");
    long bytes = size.endsWith("k") ? Long.parseLong(size.substring(0, size.length() - 1)) << 10 : 0;
    if (bytes <= 0 || Long.bitCount(bytes) != 1) {
      throw new IllegalArgumentException(
          "configuration " + name + " has a bad " + HOST_PAGE_SIZE + " '" + size + "'");
    }
    return Long.numberOfTrailingZeros(bytes);
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

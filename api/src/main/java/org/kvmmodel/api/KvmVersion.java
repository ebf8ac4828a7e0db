package org.kvmmodel.api;

import java.util.Locale;
import java.util.Objects;

/**
 * A Linux kernel version as {@code major.minor}, the granularity at which the model selects
 * version-dependent KVM behaviour ({@code kvmmodel.kvm.version}).
 */
public record KvmVersion(int major, int minor) implements Comparable<KvmVersion> {

  /** The version modelled when the configuration names none. */
  public static final KvmVersion DEFAULT = new KvmVersion(6, 13);

  public KvmVersion {
    if (major < 2 || minor < 0) {
      throw new IllegalArgumentException("not a kernel version: " + major + "." + minor);
    }
  }

  /** Parses {@code "6.13"}; throws {@link IllegalArgumentException} with the offending text. */
  public static KvmVersion parse(String text) {
    Objects.requireNonNull(text, "text");
    String[] parts = text.trim().split("\\.", -1);
    if (parts.length != 2) {
      throw new IllegalArgumentException("expected MAJOR.MINOR, got '" + text + "'");
    }
    try {
      return new KvmVersion(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("expected MAJOR.MINOR, got '" + text + "'", e);
    }
  }

  public boolean atLeast(KvmVersion other) {
    return compareTo(other) >= 0;
  }

  @Override
  public int compareTo(KvmVersion o) {
    return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
  }

  @Override
  public String toString() {
    return String.format(Locale.US, "%d.%d", major, minor);
  }
}

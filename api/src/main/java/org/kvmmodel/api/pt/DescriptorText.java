package org.kvmmodel.api.pt;

import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The wording every architecture's {@link DescriptorFormat} shares: hexadecimal values, flag
 * fields, sizes, and descriptors that translate nothing (empty, locked, invalid).
 */
public final class DescriptorText {

  private DescriptorText() {}

  /** {@code 0x...} in lower case. */
  public static String hex(long value) {
    return String.format(Locale.US, "%#x", value);
  }

  /** A {@code true}/{@code false} field for the bits {@code mask} of {@code value}. */
  public static DescriptorField flag(String name, String bits, long value, long mask) {
    return new DescriptorField(name, bits, Boolean.toString((value & mask) != 0));
  }

  /** A size as {@code 4 KiB}, {@code 2 MiB}, {@code 1 GiB}. */
  public static String sizeName(long bytes) {
    if (bytes >= 1L << 30) {
      return (bytes >>> 30) + " GiB";
    }
    if (bytes >= 1L << 20) {
      return (bytes >>> 20) + " MiB";
    }
    return (bytes >>> 10) + " KiB";
  }

  /**
   * A descriptor that maps nothing for KVM: {@code fields} gain its kind, the hardware's
   * validity and {@code note} under {@code noteName} ({@code special} or {@code problem}).
   */
  public static DecodedDescriptor mapsNothing(
      long value,
      int level,
      DescriptorKind kind,
      boolean hardwareValid,
      List<DescriptorField> fields,
      String noteName,
      String note) {
    fields.add(new DescriptorField("kind", "", kind.label()));
    fields.add(new DescriptorField("valid", "", Boolean.toString(hardwareValid)));
    fields.add(new DescriptorField(noteName, "", note));
    return new DecodedDescriptor(
        value, OptionalInt.of(level), kind, hardwareValid, false, false, false, false, false,
        false, false, OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), fields);
  }
}

package org.kvmmodel.api.pt;

import java.util.OptionalInt;

/**
 * Decodes single descriptors of one architecture configuration, for the {@code decode} verb,
 * event logs and failure stories. The counterpart of reading a descriptor with the
 * architecture's predicates ({@code spte.h} on x86, {@code kvm_pgtable.h} on arm64).
 */
public interface DescriptorFormat {

  /** Name of the format, e.g. {@code ept 4-level, a/d on}. */
  String name();

  /** The smallest kernel level number a descriptor may sit at. */
  int minLevel();

  /** The largest kernel level number a descriptor may sit at. */
  int maxLevel();

  /** Whether a descriptor's meaning depends on its level, so a level must be given. */
  boolean levelRequired();

  /**
   * Decodes {@code value} as found at kernel level {@code level}, or at an unknown level when
   * the level is empty and {@link #levelRequired()} is false.
   *
   * @throws IllegalArgumentException when {@code level} is outside {@link #minLevel()} ..
   *     {@link #maxLevel()}, or empty although required
   */
  DecodedDescriptor decode(long value, OptionalInt level);
}

package org.kvmmodel.api.pt;

import java.util.Objects;

/**
 * One named field of a decoded descriptor, for printing in a stable order.
 *
 * @param name short lower-case name, e.g. {@code host-writable}
 * @param bits where the field lives, e.g. {@code 57} or {@code 51:12}; empty when derived
 * @param value the field's value as text, e.g. {@code true}, {@code 0x1234000}, {@code wb}
 */
public record DescriptorField(String name, String bits, String value) {

  public DescriptorField {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(bits, "bits");
    Objects.requireNonNull(value, "value");
  }
}

package org.kvmmodel.api.pt;

import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * A stage-2 descriptor taken apart: the properties every architecture shares, plus the
 * architecture's own fields in print order.
 *
 * @param value the raw 64-bit descriptor
 * @param level the kernel level it was decoded at, if one was given
 * @param kind what KVM would take it for
 * @param valid whether the hardware walker would translate through it
 * @param leaf whether it maps memory (a present or access-tracked leaf)
 * @param table whether it points at a next-level table
 * @param readable hardware read permission
 * @param writable hardware write permission
 * @param executable hardware execute permission
 * @param accessed the accessed (young) state
 * @param dirty the dirty state
 * @param outputAddress the physical address of the page or child table, if any
 * @param mappingSize bytes a leaf maps, if it is a leaf
 * @param mmioGeneration the memslot generation an MMIO descriptor caches, if any
 * @param fields every field in a stable order, for output
 */
public record DecodedDescriptor(
    long value,
    OptionalInt level,
    DescriptorKind kind,
    boolean valid,
    boolean leaf,
    boolean table,
    boolean readable,
    boolean writable,
    boolean executable,
    boolean accessed,
    boolean dirty,
    OptionalLong outputAddress,
    OptionalLong mappingSize,
    OptionalLong mmioGeneration,
    List<DescriptorField> fields) {

  public DecodedDescriptor {
    Objects.requireNonNull(level, "level");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(outputAddress, "outputAddress");
    Objects.requireNonNull(mappingSize, "mappingSize");
    Objects.requireNonNull(mmioGeneration, "mmioGeneration");
    fields = List.copyOf(fields);
  }
}

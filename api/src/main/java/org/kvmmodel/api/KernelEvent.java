package org.kvmmodel.api;

import java.util.Map;

/**
 * One event of the model's trace as a known-divergence signature reads it: the tracepoint's
 * kernel name ({@code mmu_invalidate_retry}, {@code kvm_release_page_dirty}, ...) and its named
 * payload fields ({@code retry}, {@code page}, ...), as {@code kvmmodel run --story} prints them.
 */
public record KernelEvent(String name, Map<String, Long> fields) {

  public KernelEvent {
    fields = Map.copyOf(fields);
  }

  /** Whether this is a {@code name} event. */
  public boolean is(String name) {
    return this.name.equals(name);
  }

  /** Whether this is a {@code name} event whose {@code field} is {@code value}. */
  public boolean is(String name, String field, long value) {
    Long v = fields.get(field);
    return is(name) && v != null && v == value;
  }
}

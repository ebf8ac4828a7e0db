package org.kvmmodel.api.kvm;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * State an arch fault handler keeps per vCPU (its {@code struct kvm_page_fault}, cursor and
 * faultin out-parameters), made on the vCPU's first fault and reused after, so later faults
 * allocate nothing. Reads take no lock; adding a vCPU does.
 */
public final class PerVcpu<T> {

  private final IntFunction<T> factory;
  private volatile Object[] slots = new Object[0];

  /** State made by {@code factory} for each vCPU id on first use. */
  public PerVcpu(IntFunction<T> factory) {
    this.factory = factory;
  }

  /** vCPU {@code id}'s state, made now if this is its first use. */
  @SuppressWarnings("unchecked")
  public T get(int id) {
    Object[] s = slots;
    if (id >= 0 && id < s.length && s[id] != null) {
      return (T) s[id];
    }
    return add(id);
  }

  @SuppressWarnings("unchecked")
  private synchronized T add(int id) {
    if (id < 0) {
      throw new IllegalArgumentException("vCPU id " + id);
    }
    Object[] s = slots;
    if (id >= s.length) {
      s = Arrays.copyOf(s, Math.max(id + 1, 2 * s.length));
    }
    if (s[id] == null) {
      s[id] = factory.apply(id);
    }
    slots = s;
    return (T) s[id];
  }
}

package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.KvmPfn;

/**
 * {@code struct kvm_host_map}: a guest page that KVM itself maps to read or write it, pinned
 * for as long as it is mapped ({@code kvm_vcpu_map} / {@code kvm_vcpu_unmap}).
 */
public final class KvmHostMap {

  long gfn;
  long pfn = KvmPfn.ERR_FAULT;
  long pinnedPage = KvmPfn.NO_PAGE;
  boolean writable;
  boolean mapped;

  public long gfn() {
    return gfn;
  }

  public long pfn() {
    return pfn;
  }

  /** The pinned page, or {@link KvmPfn#NO_PAGE} for memory without a struct page. */
  public long pinnedPage() {
    return pinnedPage;
  }

  public boolean writable() {
    return writable;
  }

  /** Whether the map is live ({@code map->hva} non-NULL). */
  public boolean mapped() {
    return mapped;
  }
}

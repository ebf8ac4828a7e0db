package org.kvmmodel.api.kvm;

/**
 * The out-parameters of {@code __kvm_faultin_pfn}: {@code *writable} and
 * {@code *refcounted_page}. A caller owns one and reuses it, so a fault allocates nothing.
 */
public final class FaultinResult {

  private boolean writable;
  private long refcountedPage = KvmPfn.NO_PAGE;
  private long hva;

  /** Whether the host gave a writable pfn ({@code map_writable}). */
  public boolean writable() {
    return writable;
  }

  /**
   * The page whose reference (or pin) the caller now owns, as its pfn, or
   * {@link KvmPfn#NO_PAGE} when nothing was referenced (PFNMAP/IO memory, errors).
   */
  public long refcountedPage() {
    return refcountedPage;
  }

  /** The host virtual address that was resolved. */
  public long hva() {
    return hva;
  }

  /** Resets both out-parameters, as {@code __kvm_faultin_pfn} does before the lookup. */
  public void reset() {
    writable = false;
    refcountedPage = KvmPfn.NO_PAGE;
    hva = 0;
  }

  /** Records the result of {@code kvm_resolve_pfn}. */
  public void resolve(long page, boolean isWritable, long address) {
    this.refcountedPage = page;
    this.writable = isWritable;
    this.hva = address;
  }

  /** Sets {@code hva} once it has been computed from the slot. */
  public void hva(long address) {
    this.hva = address;
  }

  /** {@code *map_writable = false}: read-only slots never map writable. */
  public void denyWritable() {
    this.writable = false;
  }
}

package org.kvmmodel.api.kvm;

/**
 * {@code kvm_pfn_t} and its error encodings ({@code include/linux/kvm_host.h}): a host frame
 * number, or one of the error values KVM packs above the largest physical address.
 */
public final class KvmPfn {

  /** {@code KVM_PFN_ERR_MASK}: bits 62:52 mark an error pfn. */
  public static final long ERR_MASK = 0x7ffL << 52;

  /** {@code KVM_PFN_ERR_NOSLOT_MASK}: error or no-slot. */
  public static final long ERR_NOSLOT_MASK = 0xfffL << 52;

  /** {@code KVM_PFN_NOSLOT}: no usable memslot backs the gfn. */
  public static final long NOSLOT = 0x1L << 63;

  /** {@code KVM_PFN_ERR_FAULT}: the host could not provide the page. */
  public static final long ERR_FAULT = ERR_MASK;

  /** {@code KVM_PFN_ERR_HWPOISON}: the page is poisoned. */
  public static final long ERR_HWPOISON = ERR_MASK + 1;

  /** {@code KVM_PFN_ERR_RO_FAULT}: a write to read-only memory. */
  public static final long ERR_RO_FAULT = ERR_MASK + 2;

  /** {@code KVM_PFN_ERR_SIGPENDING}: GUP was interrupted by a signal. */
  public static final long ERR_SIGPENDING = ERR_MASK + 3;

  /** {@code KVM_PFN_ERR_NEEDS_IO}: with {@code FOLL_NOWAIT}, the page needs I/O first. */
  public static final long ERR_NEEDS_IO = ERR_MASK + 4;

  /** The "no struct page" value of a refcounted-page out-parameter (the kernel's NULL). */
  public static final long NO_PAGE = -1L;

  private KvmPfn() {}

  /** {@code is_error_pfn}. */
  public static boolean isError(long pfn) {
    return (pfn & ERR_MASK) != 0 && (pfn & NOSLOT) == 0;
  }

  /** {@code is_noslot_pfn}. */
  public static boolean isNoslot(long pfn) {
    return pfn == NOSLOT;
  }

  /** {@code is_error_noslot_pfn}. */
  public static boolean isErrorOrNoslot(long pfn) {
    return (pfn & ERR_NOSLOT_MASK) != 0;
  }

  /** A readable name for a pfn or error value. */
  public static String describe(long pfn) {
    if (pfn == NOSLOT) {
      return "KVM_PFN_NOSLOT";
    }
    if (pfn == ERR_FAULT) {
      return "KVM_PFN_ERR_FAULT";
    }
    if (pfn == ERR_HWPOISON) {
      return "KVM_PFN_ERR_HWPOISON";
    }
    if (pfn == ERR_RO_FAULT) {
      return "KVM_PFN_ERR_RO_FAULT";
    }
    if (pfn == ERR_SIGPENDING) {
      return "KVM_PFN_ERR_SIGPENDING";
    }
    if (pfn == ERR_NEEDS_IO) {
      return "KVM_PFN_ERR_NEEDS_IO";
    }
    return "0x" + Long.toHexString(pfn);
  }
}

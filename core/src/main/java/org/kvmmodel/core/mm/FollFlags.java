package org.kvmmodel.core.mm;

/**
 * The {@code FOLL_*} flags of get_user_pages as KVM's hva_to_pfn passes them. Public flags
 * keep their bit positions from {@code include/linux/mm_types.h}; {@link #FOLL_PIN} is internal
 * to mm in Linux (set by the pin_user_pages family) and sits above them here.
 */
public final class FollFlags {

  /** Check that the mapping is writable; break COW or run page_mkwrite as needed. */
  public static final int FOLL_WRITE = 1 << 0;
  /** Take a reference ({@code folio_get}) on the returned page. */
  public static final int FOLL_GET = 1 << 1;
  /** Do not wait for IO or for a page under migration: fail with {@code -EAGAIN}. */
  public static final int FOLL_NOWAIT = 1 << 4;
  /** Report a poisoned page as {@code -EHWPOISON} rather than {@code -EFAULT}. */
  public static final int FOLL_HWPOISON = 1 << 6;
  /** A pending signal interrupts a wait for IO with {@code -EINTR}. */
  public static final int FOLL_INTERRUPTIBLE = 1 << 11;
  /**
   * Take the NUMA-hinting fault on a PROT_NONE entry of an accessible VMA (see
   * {@link MmStruct#changeProtNuma}) rather than following the entry as it is.
   */
  public static final int FOLL_HONOR_NUMA_FAULT = 1 << 12;
  /** Pin the page (pincount and a reference) instead of only referencing it. */
  public static final int FOLL_PIN = 1 << 16;

  private FollFlags() {}
}

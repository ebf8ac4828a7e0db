package org.kvmmodel.core.mm;

import java.util.Locale;

/**
 * The Linux errno values the host memory model returns, negated where a call returns them
 * (as the kernel's {@code -EFAULT} style). Values are those of {@code include/uapi/asm-generic}.
 */
public final class Errno {

  /** Interrupted by a signal. */
  public static final int EINTR = 4;
  /** No such device or address: a pfn with no struct page handed to memory_failure. */
  public static final int ENXIO = 6;
  /** Try again: the fault must be retried (page under migration, or IO needed with NOWAIT). */
  public static final int EAGAIN = 11;
  /** Out of memory. */
  public static final int ENOMEM = 12;
  /** Bad address: no VMA, access not permitted, or a mapping GUP refuses. */
  public static final int EFAULT = 14;
  /** Device or resource busy. */
  public static final int EBUSY = 16;
  /** The range is already mapped. */
  public static final int EEXIST = 17;
  /** Invalid argument. */
  public static final int EINVAL = 22;
  /** Memory page has hardware error. */
  public static final int EHWPOISON = 133;

  private Errno() {}

  /** The symbolic name of {@code errno} (sign ignored), e.g. {@code "EFAULT"}. */
  public static String name(int errno) {
    switch (Math.abs(errno)) {
      case EINTR:
        return "EINTR";
      case ENXIO:
        return "ENXIO";
      case EAGAIN:
        return "EAGAIN";
      case ENOMEM:
        return "ENOMEM";
      case EFAULT:
        return "EFAULT";
      case EBUSY:
        return "EBUSY";
      case EEXIST:
        return "EEXIST";
      case EINVAL:
        return "EINVAL";
      case EHWPOISON:
        return "EHWPOISON";
      default:
        return String.format(Locale.US, "errno %d", Math.abs(errno));
    }
  }
}

package org.kvmmodel.api.kvm;

/**
 * The Linux error numbers KVM's MMU paths and ioctls return, with their real values, so a
 * result reads as it would in the kernel ({@code -EFAULT}, {@code -EAGAIN}, ...).
 */
public enum Errno {
  EPERM(1),
  ENOENT(2),
  EINTR(4),
  EIO(5),
  ENXIO(6),
  E2BIG(7),
  ENOEXEC(8),
  EAGAIN(11),
  ENOMEM(12),
  EFAULT(14),
  EBUSY(16),
  EEXIST(17),
  EINVAL(22),
  ENOTTY(25),
  ENOSPC(28),
  EOPNOTSUPP(95),
  EHWPOISON(133);

  private final int value;

  Errno(int value) {
    this.value = value;
  }

  /** The positive errno value. */
  public int value() {
    return value;
  }

  /** The value as a kernel function returns it: {@code -errno}. */
  public int negative() {
    return -value;
  }

  /** The errno whose negative is {@code ret}; throws for a value this model never returns. */
  public static Errno fromNegative(int ret) {
    for (Errno e : values()) {
      if (e.value == -ret) {
        return e;
      }
    }
    throw new IllegalArgumentException("not a modelled -errno: " + ret);
  }

  /** {@code "0"} for success, else the symbolic name with its sign, e.g. {@code "-EEXIST"}. */
  public static String describe(int ret) {
    return ret == 0 ? "0" : ret < 0 ? "-" + fromNegative(ret).name() : Integer.toString(ret);
  }
}

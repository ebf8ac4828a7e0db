package org.kvmmodel.api.kvm;

/**
 * The GUP flags KVM passes through {@code kvm_follow_pfn} ({@code enum foll_flags} in
 * {@code include/linux/mm_types.h}), with their kernel values. {@code FOLL_PIN} is internal to
 * GUP in Linux; here it has a value of its own because the host model is called directly.
 */
public final class Foll {
  public static final int WRITE = 1 << 0;
  public static final int GET = 1 << 1;
  public static final int NOWAIT = 1 << 4;
  public static final int HWPOISON = 1 << 6;
  public static final int INTERRUPTIBLE = 1 << 11;
  public static final int HONOR_NUMA_FAULT = 1 << 12;
  public static final int PIN = 1 << 16;

  private Foll() {}
}

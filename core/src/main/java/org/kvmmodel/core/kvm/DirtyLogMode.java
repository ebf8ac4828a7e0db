package org.kvmmodel.core.kvm;

/**
 * The VM-wide dirty-log settings: {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2} and its
 * {@code KVM_DIRTY_LOG_INITIALLY_SET} bit.
 *
 * @param manualProtect GET_DIRTY_LOG only copies the bitmap; CLEAR_DIRTY_LOG re-protects
 * @param initiallySet new bitmaps start all ones and nothing is write-protected at enable
 */
public record DirtyLogMode(boolean manualProtect, boolean initiallySet) {

  public static final DirtyLogMode DEFAULT = new DirtyLogMode(false, false);

  /** {@code KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}, bit 0 of the capability's argument. */
  public static final long MANUAL_PROTECT_ENABLE = 1;
  /** {@code KVM_DIRTY_LOG_INITIALLY_SET}, bit 1. */
  public static final long INITIALLY_SET = 2;

  /**
   * The mode {@code KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)} sets with argument
   * {@code args0}, or null for an argument {@code kvm_vm_ioctl_enable_cap_generic} refuses
   * with -EINVAL: {@code KVM_DIRTY_LOG_INITIALLY_SET} is accepted only together with
   * {@code KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}, and no other bit at all.
   */
  public static DirtyLogMode fromCapability(long args0) {
    long allowed = (args0 & MANUAL_PROTECT_ENABLE) != 0
        ? MANUAL_PROTECT_ENABLE | INITIALLY_SET
        : MANUAL_PROTECT_ENABLE;
    if ((args0 & ~allowed) != 0) {
      return null;
    }
    return new DirtyLogMode(args0 != 0, (args0 & INITIALLY_SET) != 0);
  }

  public DirtyLogMode {
    if (initiallySet && !manualProtect) {
      throw new IllegalArgumentException("KVM_DIRTY_LOG_INITIALLY_SET requires manual protect");
    }
  }
}

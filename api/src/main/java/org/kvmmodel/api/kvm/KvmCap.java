package org.kvmmodel.api.kvm;

/** KVM_ENABLE_CAP capability numbers the model accepts, as {@code include/uapi/linux/kvm.h}. */
public final class KvmCap {

  /**
   * {@code KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE}: arm64's eager splitting of blocks when dirty
   * logging starts, in chunks of this many bytes (0, the default, splits on write faults).
   */
  public static final long ARM_EAGER_SPLIT_CHUNK_SIZE = 228;

  /**
   * {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}, common code's: KVM_GET_DIRTY_LOG only copies the
   * bitmap and KVM_CLEAR_DIRTY_LOG re-protects, optionally with every new bitmap all set.
   */
  public static final long MANUAL_DIRTY_LOG_PROTECT2 = 168;

  private KvmCap() {}
}

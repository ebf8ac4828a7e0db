package org.kvmmodel.api.kvm;

/** KVM_ENABLE_CAP capability numbers the model accepts, as {@code include/uapi/linux/kvm.h}. */
public final class KvmCap {

  /**
   * {@code KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE}: arm64's eager splitting of blocks when dirty
   * logging starts, in chunks of this many bytes (0, the default, splits on write faults).
   */
  public static final long ARM_EAGER_SPLIT_CHUNK_SIZE = 228;

  private KvmCap() {}
}

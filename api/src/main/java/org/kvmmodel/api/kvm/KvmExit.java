package org.kvmmodel.api.kvm;

/**
 * The {@code KVM_EXIT_*} reasons an arch fault handler can end {@code KVM_RUN} with without an
 * error ({@code include/uapi/linux/kvm.h}), returned as positive values by
 * {@link ArchMmu#handleGuestFault}.
 */
public final class KvmExit {

  /**
   * {@code KVM_EXIT_MMIO}: an access the kernel could not satisfy from memory (no memslot, or
   * a write to a read-only slot) is handed to userspace to emulate.
   */
  public static final int MMIO = 6;

  private KvmExit() {}

  /** The reason's name as {@code kvm.h} spells it, for messages. */
  public static String name(int reason) {
    return reason == MMIO ? "KVM_EXIT_MMIO" : "KVM_EXIT_" + reason;
  }
}

package org.kvmmodel.core.trace;

/**
 * The KVM entry points whose work the checks attribute violations to: the paths that get and
 * release pages, and the mmu_notifier callback that takes mappings away. A vCPU's guest fault is bracketed by {@link Tracepoint#KVM_PAGE_FAULT} and
 * {@link Tracepoint#KVM_PAGE_FAULT_DONE}; the others by {@link Tracepoint#KVM_CALL} and
 * {@link Tracepoint#KVM_CALL_DONE} carrying the site's ordinal. The guest fault and the VM
 * ioctl are named by the arch (the function that faults in and releases, the ioctl's
 * handler); the rest are common code's own functions.
 */
public enum KvmCallSite {
  /** The arch's guest fault handler as a vCPU calls it after an exit. */
  GUEST_FAULT(null),
  /** {@code kvm_arch_vm_ioctl}, its argument the ioctl request. */
  VM_IOCTL(null),
  /** {@code kvm_write_guest}. */
  WRITE_GUEST("kvm_write_guest"),
  /** {@code kvm_vcpu_write_guest}. */
  VCPU_WRITE_GUEST("kvm_vcpu_write_guest"),
  /** {@code kvm_gpc_refresh}. */
  GPC_REFRESH("kvm_gpc_refresh"),
  /** {@code kvm_vcpu_map}. */
  VCPU_MAP("kvm_vcpu_map"),
  /** {@code kvm_vcpu_unmap}. */
  VCPU_UNMAP("kvm_vcpu_unmap"),
  /** {@code kvm_mmu_notifier_invalidate_range_start}, the host's call into KVM. */
  INVALIDATE_RANGE_START("kvm_mmu_notifier_invalidate_range_start");

  private static final KvmCallSite[] VALUES = values();

  private final String kernelName;

  KvmCallSite(String kernelName) {
    this.kernelName = kernelName;
  }

  /** Common code's name for it; null for the two the arch names. */
  public String kernelName() {
    return kernelName;
  }

  /** The site an event's payload names. */
  public static KvmCallSite of(long ordinal) {
    return VALUES[(int) ordinal];
  }
}

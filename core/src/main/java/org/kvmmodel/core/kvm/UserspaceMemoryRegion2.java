package org.kvmmodel.core.kvm;

/**
 * {@code struct kvm_userspace_memory_region2}, the argument of KVM_SET_USER_MEMORY_REGION2
 * (the guest_memfd fields are not modelled: guest_memfd slots are refused).
 *
 * @param slot address space id in bits 31:16, slot id in bits 15:0
 * @param flags {@code KVM_MEM_*}
 * @param guestPhysAddr first guest physical address
 * @param memorySize size in bytes; 0 deletes the slot
 * @param userspaceAddr first host virtual address
 */
public record UserspaceMemoryRegion2(
    int slot, int flags, long guestPhysAddr, long memorySize, long userspaceAddr) {

  /** Packs an address space id and slot id as the ioctl does. */
  public static int slotId(int asId, int id) {
    return (asId << 16) | (id & 0xffff);
  }

  public int asId() {
    return slot >>> 16;
  }

  public int id() {
    return slot & 0xffff;
  }
}

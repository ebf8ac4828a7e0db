package org.kvmmodel.core.kvm;

/**
 * The per-arch constants memslot validation uses.
 *
 * @param addressSpaces {@code kvm_arch_nr_memslot_as_ids} (x86: 2, for SMM)
 * @param internalSlots {@code KVM_INTERNAL_MEM_SLOTS} (x86: 3); user slots are
 *     {@code KVM_MEM_SLOTS_NUM - internalSlots}
 * @param readonlyMemory {@code kvm_arch_has_readonly_mem}
 * @param taskSizeMax the end of user address space for {@code access_ok}
 */
public record MemslotLimits(
    int addressSpaces, int internalSlots, boolean readonlyMemory, long taskSizeMax) {

  /** {@code KVM_MEM_SLOTS_NUM} = SHRT_MAX. */
  public static final int KVM_MEM_SLOTS_NUM = Short.MAX_VALUE;

  /** {@code KVM_MEM_MAX_NR_PAGES}. */
  public static final long KVM_MEM_MAX_NR_PAGES = (1L << 31) - 1;

  /** x86-64 with 4-level paging: {@code TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE}. */
  public static final long TASK_SIZE_MAX_4LEVEL = (1L << 47) - 4096;

  /** {@code KVM_USER_MEM_SLOTS}. */
  public int userMemSlots() {
    return KVM_MEM_SLOTS_NUM - internalSlots;
  }

  /** {@code access_ok(addr, size)}: the range lies below the user address limit. */
  public boolean accessOk(long addr, long size) {
    return addr >= 0 && size >= 0 && size <= taskSizeMax && addr <= taskSizeMax - size;
  }
}

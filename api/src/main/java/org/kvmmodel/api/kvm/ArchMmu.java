package org.kvmmodel.api.kvm;

import java.util.List;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The hooks an architecture's KVM MMU gives common code for one VM: the {@code kvm_arch_*}
 * and {@code kvm_*_gfn*} functions that {@code virt/kvm/kvm_main.c} calls from mmu_notifier
 * callbacks, memslot updates and dirty-log ioctls.
 */
public interface ArchMmu {

  /**
   * {@code kvm_unmap_gfn_range}: remove every stage-2 mapping of the range. Called with
   * mmu_lock held for write, inside an invalidation. Returns whether a TLB flush is needed
   * (common code flushes before dropping the lock).
   */
  boolean unmapGfnRange(GfnRange range);

  /** {@code kvm_age_gfn}: test and clear young over the range; returns whether any was young. */
  boolean ageGfn(GfnRange range);

  /** {@code kvm_test_age_gfn}: whether any mapping of the range is young; changes nothing. */
  boolean testAgeGfn(GfnRange range);

  /**
   * {@code kvm_arch_prepare_memory_region}: validate and allocate for a change; 0 or a negative
   * errno, in which case the change is abandoned and nothing may have been modified.
   */
  int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change);

  /** {@code kvm_arch_commit_memory_region}: after the new memslots are visible. */
  void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change);

  /** {@code kvm_arch_flush_shadow_memslot}: drop all mappings of a slot being deleted/moved. */
  void flushShadowMemslot(MemorySlot slot);

  /** {@code kvm_arch_flush_shadow_all}: drop every mapping (notifier release, VM teardown). */
  void flushShadowAll();

  /**
   * The MMU part of {@code kvm_arch_destroy_vm} ({@code kvm_mmu_unload} of each vCPU dropping
   * its root, {@code kvm_mmu_uninit_tdp_mmu}; {@code kvm_free_stage2_pgd} on arm64 and RISC-V):
   * called once at VM teardown, after {@link #flushShadowAll()} has run, with no vCPU left.
   * {@code tables} are the page tables this MMU created in the VM's environment, oldest first.
   * The default frees each root page alone, the way the last root reference does: tables the
   * flush left linked under a root are never freed. An arch with more to free overrides it.
   */
  default void destroyVm(List<RadixPageTable> tables) {
    for (RadixPageTable table : tables) {
      table.freeRoot();
    }
  }

  /**
   * {@code kvm_arch_mmu_enable_log_dirty_pt_masked}: re-protect the gfns
   * {@code slot.baseGfn() + gfnOffset + i} for each bit {@code i} set in {@code mask}, so the
   * next write is logged. Called with mmu_lock held for write.
   */
  void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask);

  /**
   * The hardware that walks this VM's stage-2 table for its vCPUs. Each call returns a new,
   * independent walker with its own cursor state, so each vCPU gets its own walker from one
   * call and keeps it; a single walker must not be shared between threads.
   */
  Stage2Walker walker();

  /**
   * The arch's handler for a stage-2 fault of vCPU {@code vcpuId} ({@code kvm_mmu_page_fault}
   * after an EPT violation, {@code kvm_handle_guest_abort}, {@code kvm_riscv_gstage_map}'s
   * caller). Returns 0 to re-enter the guest (the access is retried: fixed, spurious or to be
   * retried), a positive {@link KvmExit} reason to exit to userspace without an error (an
   * MMIO access for userspace to emulate), or a negative errno to exit with that error.
   */
  int handleGuestFault(int vcpuId, Stage2Walk fault);

  /**
   * {@code kvm_vm_ioctl_enable_cap} for a capability of this arch, called with slots_lock held
   * and zero flags: 0, or a negative errno. The default knows no capability: {@code -EINVAL},
   * as the kernel answers one it does not know.
   */
  default int enableCap(long cap, long arg) {
    return Errno.EINVAL.negative();
  }

  /**
   * {@code kvm_arch_vm_ioctl} for a VM ioctl common code does not handle: {@code ioctl} is the
   * request number and {@code arg} the argument structure as userspace lays it out, one
   * little-endian 64-bit word per element (what {@code copy_from_user} of it gives). Returns
   * what the ioctl returns. The default knows none and answers {@code -ENOTTY}, as x86 does; an
   * arch whose {@code kvm_arch_vm_ioctl} answers an unknown request otherwise overrides it.
   */
  default int vmIoctl(long ioctl, long[] arg) {
    return Errno.ENOTTY.negative();
  }

  /**
   * The kernel function in which this arch's guest fault path faults the page in and releases
   * it (x86's {@code kvm_tdp_mmu_page_fault}, arm64's {@code user_mem_abort}, RISC-V's
   * {@code kvm_riscv_gstage_map}): the name checks give the site of what a vCPU does inside
   * {@link #handleGuestFault}, which known divergences are declared against.
   */
  String guestFaultFunction();

  /**
   * The kernel function that carries out VM ioctl {@code ioctl} ({@link #vmIoctl}), as checks
   * name the site of what it does. By default {@code kvm_arch_vm_ioctl} itself.
   */
  default String vmIoctlFunction(long ioctl) {
    return "kvm_arch_vm_ioctl";
  }
}

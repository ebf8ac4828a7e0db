package org.kvmmodel.core.trace;

/**
 * The model's tracepoints: what core services, the radix engine and the vCPUs report. Names
 * follow the kernel's tracepoints where one exists ({@code kvm_page_fault},
 * {@code kvm_tdp_mmu_spte_changed}, ...), else the kernel function that does the thing. Each
 * event carries up to three numbers whose meaning the tracepoint defines ({@link #fields()}).
 */
public enum Tracepoint {
  GUEST_ACCESS("guest_access", "gpa", "access", "hpa"),
  KVM_PAGE_FAULT("kvm_page_fault", "gpa", "access", "present"),
  KVM_PAGE_FAULT_DONE("kvm_page_fault_done", "gpa", "ret", ""),
  MMU_INVALIDATE_SEQ("mmu_invalidate_seq", "mmu_seq", "", ""),
  KVM_FAULTIN_PFN("kvm_faultin_pfn", "gfn", "pfn", "writable"),
  KVM_GET_PAGE("kvm_follow_pfn_get_page", "page", "pin", ""),
  KVM_UNPIN_PAGE("kvm_vcpu_unmap_unpin", "page", "", ""),
  MMU_INVALIDATE_RETRY("mmu_invalidate_retry", "gfn", "mmu_seq", "retry"),
  MMU_LOCK("mmu_lock", "exclusive", "", ""),
  MMU_UNLOCK("mmu_unlock", "exclusive", "resched", ""),
  KVM_RELEASE_PAGE_CLEAN("kvm_release_page_clean", "page", "", ""),
  KVM_RELEASE_PAGE_DIRTY("kvm_release_page_dirty", "page", "", ""),
  KVM_RELEASE_PAGE_UNUSED("kvm_release_page_unused", "page", "", ""),
  FOLIO_MARK_DIRTY("folio_mark_dirty", "page", "mmu_lock", "pinned"),
  MARK_PAGE_DIRTY_IN_SLOT("mark_page_dirty_in_slot", "gfn", "", ""),
  MARK_PAGE_DIRTY_IN_SLOT_DONE("mark_page_dirty_in_slot_done", "gfn", "", ""),
  SPTE_CHANGED("kvm_tdp_mmu_spte_changed", "gfn", "old", "new"),
  INVALIDATE_RANGE_START("kvm_mmu_notifier_invalidate_range_start", "start", "end", ""),
  INVALIDATE_RANGE_START_DONE("kvm_mmu_notifier_invalidate_range_start_done", "start", "end", ""),
  INVALIDATE_RANGE_END("kvm_mmu_notifier_invalidate_range_end", "start", "end", ""),
  INVALIDATE_RANGE_END_DONE("kvm_mmu_notifier_invalidate_range_end_done", "start", "end", ""),
  FLUSH_REMOTE_TLBS("kvm_flush_remote_tlbs", "", "", ""),
  FLUSH_REMOTE_TLBS_RANGE("kvm_flush_remote_tlbs_range", "gfn", "pages", ""),
  TABLE_FREED("kvm_mmu_free_page_table", "address", "", ""),
  TABLE_UNLINKED("handle_removed_pt", "address", "level", "gfn"),
  RCU_READ_LOCK("rcu_read_lock", "", "", ""),
  RCU_READ_UNLOCK("rcu_read_unlock", "", "", ""),
  RCU_GRACE_PERIOD_START("rcu_grace_period_start", "gp", "", ""),
  RCU_GRACE_PERIOD_END("rcu_grace_period_end", "gp", "", ""),
  SLOTS_LOCK("mutex_lock_slots_lock", "", "", ""),
  SLOTS_UNLOCK("mutex_unlock_slots_lock", "", "", ""),
  ENABLE_LOG_DIRTY_PT_MASKED("kvm_arch_mmu_enable_log_dirty_pt_masked", "slot", "gfn_offset", "mask"),
  ENABLE_LOG_DIRTY_PT_MASKED_DONE(
      "kvm_arch_mmu_enable_log_dirty_pt_masked_done", "slot", "gfn_offset", "mask"),
  SET_MEMORY_REGION("kvm_set_memory_region", "slot", "flags", ""),
  SET_MEMORY_REGION_DONE("kvm_set_memory_region_done", "slot", "ret", ""),
  COMMIT_MEMORY_REGION("kvm_arch_commit_memory_region", "slot", "change", ""),
  COMMIT_MEMORY_REGION_DONE("kvm_arch_commit_memory_region_done", "slot", "change", ""),
  FOLIO_CLEAR_DIRTY_FOR_IO("folio_clear_dirty_for_io", "page", "dirty", ""),
  GET_DIRTY_LOG("kvm_get_dirty_log_protect", "slot", "", ""),
  DIRTY_LOG_HARVESTED("kvm_get_dirty_log_harvested", "gfn", "", ""),
  GET_DIRTY_LOG_DONE("kvm_get_dirty_log_protect_done", "slot", "ret", ""),
  CLEAR_DIRTY_LOG("kvm_clear_dirty_log_protect", "slot", "first_page", "num_pages"),
  CLEAR_DIRTY_LOG_MASK("kvm_clear_dirty_log_mask", "slot", "gfn_offset", "mask"),
  CLEAR_DIRTY_LOG_DONE("kvm_clear_dirty_log_protect_done", "slot", "ret", ""),
  KVM_WRITE_GUEST("kvm_write_guest_page", "gfn", "pfn", "hva"),
  GPC_WRITE("kvm_gpc_write", "gfn", "pfn", "uhva"),
  KVM_WRITE_GUEST_DONE("kvm_write_guest_done", "gfn", "ret", ""),
  GPC_REFRESHED("hva_to_pfn_retry", "gpa", "uhva", "pfn"),
  GPC_INVALIDATED("gfn_to_pfn_cache_invalidate_start", "gpa", "uhva", ""),
  MMU_NOTIFIER_RELEASE("kvm_mmu_notifier_release", "", "", ""),
  KVM_DESTROY_VM("kvm_destroy_vm", "", "", ""),
  KVM_DESTROY_VM_DONE("kvm_destroy_vm_done", "live_tables", "", ""),
  KVM_CALL("kvm_call", "site", "arg", ""),
  KVM_CALL_DONE("kvm_call_done", "site", "ret", ""),

  MIGHT_SLEEP("might_sleep", "site", "", ""),
  MMAP_LOCK("mmap_lock", "exclusive", "", "");

  private final String kernelName;
  private final String[] fields;

  Tracepoint(String kernelName, String a, String b, String c) {
    this.kernelName = kernelName;
    this.fields = new String[] {a, b, c};
  }

  /** The kernel's name for it. */
  public String kernelName() {
    return kernelName;
  }

  /** The names of the three payload numbers ("" where unused). */
  public String[] fields() {
    return fields.clone();
  }

  String field(int i) {
    return fields[i];
  }
}

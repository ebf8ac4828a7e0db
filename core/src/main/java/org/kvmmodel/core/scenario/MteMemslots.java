package org.kvmmodel.core.scenario;

import org.kvmmodel.api.ArchConfiguration;

/**
 * arm64's memslot rule for a VM with {@code KVM_CAP_ARM_MTE} enabled: its
 * {@code kvm_arch_prepare_memory_region} refuses (-EINVAL) a slot over any VMA that may not
 * carry tags ({@code kvm_vma_mte_allowed}: no {@code VM_MTE_ALLOWED}), which a mapping of a
 * regular file is not. Scenarios leave out what such a VM cannot be given.
 */
final class MteMemslots {

  /** Why a scenario built on a shared file mapping cannot run on an MTE VM. */
  static final String FILE_BACKING_REFUSED =
      "an MTE VM refuses memslots over a file mapping without VM_MTE_ALLOWED (-EINVAL)";

  private MteMemslots() {}

  /** Whether {@code configuration} is a VM with MTE (its {@code mte} axis is {@code on}). */
  static boolean refusesFileBacking(ArchConfiguration configuration) {
    return "on".equals(configuration.parameters().get("mte"));
  }
}

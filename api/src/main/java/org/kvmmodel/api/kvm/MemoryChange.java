package org.kvmmodel.api.kvm;

/** {@code enum kvm_mr_change}: what a KVM_SET_USER_MEMORY_REGION2 call does to a slot. */
public enum MemoryChange {
  CREATE,
  DELETE,
  MOVE,
  FLAGS_ONLY
}

package org.kvmmodel.api;

/**
 * The flavour of {@code kvm->mmu_lock}: an rwlock where the architecture defines
 * {@code KVM_HAVE_MMU_RWLOCK} (x86, arm64), a spinlock everywhere else.
 */
public enum MmuLockKind {
  /** {@code rwlock_t}: faults may take it for read, common code takes it for write. */
  RWLOCK,
  /** {@code spinlock_t}: every holder is exclusive. */
  SPINLOCK
}

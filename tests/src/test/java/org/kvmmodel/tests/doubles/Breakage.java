package org.kvmmodel.tests.doubles;

/** Deliberate bugs a test double can carry, each of which one check must catch. */
public enum Breakage {
  /** A correct double. */
  NONE,
  /** A fast path that marks the folio dirty without mmu_lock (DIRTY-PROTECTED). */
  FAST_PATH_DIRTIES_FOLIO,
  /** A slow path that installs and dirties without the retry check (DIRTY-PROTECTED). */
  SKIPS_RETRY_CHECK,
  /**
   * A slow path whose retry check fired releases its page as used, dirty if writable, as
   * RISC-V's 6.13 {@code kvm_riscv_gstage_map} does (DIRTY-PROTECTED, kind {@code retry-fired}).
   */
  RETRY_RELEASES_USED,
  /**
   * A permission fault (a write to a present read-only leaf) that returns as fixed without
   * changing the leaf, as an arm64 relax at the wrong level would, so the access faults forever
   * (LIVENESS).
   */
  FAULT_WITHOUT_PROGRESS,
  /** A fault that never releases its page (REFCOUNT-BALANCED). */
  NEVER_RELEASES,
  /** A fault that releases its page twice (REFCOUNT-BALANCED). */
  RELEASES_TWICE,
  /** An unmap hook that leaves the leaf in place (NO-STALE-MAPPING, TLB-COHERENT). */
  UNMAP_LEAVES_LEAF,
  /** An unmap hook that zaps the leaf but never flushes the TLBs (TLB-COHERENT). */
  UNMAP_WITHOUT_FLUSH,
  /**
   * An unmap hook whose walk yields mmu_lock to reschedule with the flush for the leaves it
   * zapped so far still pending (TLB-COHERENT, in a scheduled run where the yield is due).
   */
  YIELDS_WITH_FLUSH_PENDING,
  /** A fault that maps a gfn of a read-only memslot writable (PERMISSIONS). */
  MAPS_READONLY_SLOT_WRITABLE,
  /** A fault that maps writable whatever faultin said about the host page (PERMISSIONS). */
  IGNORES_MAP_WRITABLE,
  /** A memslot flush that zaps the slot without taking mmu_lock (LOCK-DISCIPLINE). */
  ZAPS_SLOT_WITHOUT_MMU_LOCK,
  /**
   * A slow path that releases the page dirty only for a write fault ({@code dirty = write}),
   * so a read fault that installs a writable leaf leaves the folio clean (NO-LOST-WRITE).
   */
  RELEASES_DIRTY_ONLY_FOR_WRITE,
  /** A dirty-log re-protect that leaves the first gfn of each mask writable (DIRTY-LOG-COMPLETE). */
  REPROTECT_SKIPS_A_GFN,
  /**
   * A {@code kvm_arch_flush_shadow_all} that zaps every leaf but the first and unlinks no table,
   * so the tables under the root outlive the VM (REFCOUNT-BALANCED at teardown).
   */
  FLUSH_ALL_LEAVES_A_LEAF,
  /**
   * A slow path that takes mmu_lock before faultin, so {@code hva_to_pfn} (and slow GUP's
   * mmap_lock) is reached under a spinning lock (LOCK-DISCIPLINE).
   */
  FAULTIN_UNDER_MMU_LOCK,
  /**
   * A write to a read-only memslot that ends {@code KVM_RUN} with -EFAULT instead of
   * {@code KVM_EXIT_MMIO} (page-fault-test's exit expectation).
   */
  EFAULTS_READONLY_SLOT_WRITES,
  /**
   * Leaves installed with the access flag clear, on hardware that does not set it either, so a
   * mapped page looks idle (page-fault-test's young expectation).
   */
  INSTALLS_OLD_LEAVES,
  /**
   * A fault that logs its gfn as dirty even when it maps it read-only (page-fault-test's
   * dirty-log expectation).
   */
  LOGS_EVERY_FAULT
}

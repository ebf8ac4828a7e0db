package org.kvmmodel.api.pt;

/**
 * An architecture's stage-2 descriptor format: its geometry, the predicates and encoders the
 * engine needs to walk, and the hooks that perform every entry transition under the
 * architecture's own update protocol. The engine never writes a live entry itself.
 *
 * <p>All {@code level} arguments use the architecture's kernel numbering
 * ({@link PageTableGeometry#kernelLevel}). Predicates and encoders are pure; transition hooks
 * return {@code false} when they lost a race, leaving the entry as another thread set it, and
 * the engine then re-reads the entry (walks) or reports a retry (faults).
 */
public interface PageTableFormat {

  /** The table's shape. */
  PageTableGeometry geometry();

  /**
   * The value of an empty entry at {@code level}: x86's {@code SHADOW_NONPRESENT_VALUE}, 0 on
   * arm64 and RISC-V, LoongArch's pointer to the level's invalid table
   * ({@code kvm_pte_none}).
   */
  long emptyEntry(int level);

  /** Whether the entry maps something: a table or a leaf ({@code is_shadow_present_pte}). */
  boolean isPresent(long entry, int level);

  /** Whether a present entry is a leaf ({@code is_last_spte}, {@code !kvm_pte_table}). */
  boolean isLeaf(long entry, int level);

  /**
   * Whether the entry is held by another thread mid-update and must not be touched
   * ({@code is_frozen_spte}, arm64 {@code stage2_pte_is_locked}).
   */
  boolean isLocked(long entry, int level);

  /** The physical address a present entry points at: the child table or the mapped page. */
  long outputAddress(long entry, int level);

  /** A table entry at {@code level} for the child table at {@code childPhysicalAddress}. */
  long makeTable(long childPhysicalAddress, int level);

  /**
   * The {@code index}-th entry of the table that replaces the huge leaf {@code hugeEntry} at
   * {@code hugeLevel}: same attributes, address advanced by the index ({@code make_small_spte},
   * {@code stage2_split_walker}).
   */
  long makeSplitChild(long hugeEntry, int hugeLevel, int index);

  /** Whether a present leaf was accessed since it was last aged ({@code is_accessed_spte}). */
  boolean isYoung(long entry, int level);

  /** The leaf with its accessed state cleared ({@code mark_spte_for_access_track}). */
  long makeOld(long entry, int level);

  /** The leaf without write permission, as dirty logging wants it. */
  long makeWriteProtected(long entry, int level);

  /**
   * Installs {@code value} (a leaf or table entry) over the non-present {@code expected}.
   * x86: {@code tdp_mmu_set_spte_atomic}; arm64: {@code stage2_try_set_pte}.
   */
  boolean tryInstall(EntrySlot slot, long expected, long value);

  /**
   * Replaces the present {@code expected} with the present {@code value}: a different leaf, a
   * table for a split huge leaf, or a huge leaf over a table. Flushes as the architecture
   * requires before returning. x86: cmpxchg then {@code kvm_flush_remote_tlbs_gfn} when the
   * old translation must go; arm64: {@code stage2_try_break_pte} + TLBI +
   * {@code stage2_make_pte}.
   */
  boolean tryReplace(EntrySlot slot, long expected, long value);

  /**
   * Makes the present {@code expected} empty and flushes its translation.
   * x86: {@code tdp_mmu_zap_spte_atomic} (freeze, flush, write the non-present value);
   * arm64: break-before-make to zero.
   */
  boolean tryZap(EntrySlot slot, long expected);

  /**
   * Whether the architecture requires break-before-make: a valid entry replaced by one of
   * another size (table and block swapped) or output address must first be made invalid and
   * its translations invalidated, or the TLB may hold both (Arm ARM, "TLB maintenance
   * requirements and the TLB conflict abort"). x86 and RISC-V let a walk use either until the
   * flush that follows, so they replace in place.
   */
  default boolean requiresBreakBeforeMake() {
    return false;
  }

  /**
   * Makes the present leaf {@code expected} empty when the caller holds mmu_lock exclusively, so
   * no other thread can touch the entry: the TLB flush is left to the caller, who batches one
   * for the whole range before dropping the lock (x86 {@code tdp_mmu_zap_leafs} under the write
   * lock). The default is the atomic {@link #tryZap}, which flushes as it goes.
   */
  default boolean zapExclusive(EntrySlot slot, long expected) {
    return tryZap(slot, expected);
  }

  /**
   * Changes only attributes of the present leaf {@code expected} (age, write-protect, generic
   * transforms); the caller batches any flush ({@code tdp_mmu_set_spte_atomic} from
   * {@code wrprot_gfn_range}/{@code age_gfn_range}; arm64 {@code stage2_update_leaf_attrs}).
   */
  boolean tryUpdateLeaf(EntrySlot slot, long expected, long value);

  /**
   * Retires one entry of a table that has just been unlinked and returns what it held, so the
   * engine can descend into child tables. x86: {@code handle_removed_pt} freezes each entry;
   * arm64: {@code stage2_free_unlinked_table} drops it.
   */
  long retireUnlinkedEntry(EntrySlot slot);
}

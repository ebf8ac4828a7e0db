package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.PageTableCursor;

/**
 * The {@code kvm_pgtable_stage2_*} operations the fault paths call on one vCPU's cursor, in
 * shared walks under RCU ({@code kvm_pgtable_walk_begin} for {@code KVM_PGTABLE_WALK_SHARED}):
 * map a leaf, relax a leaf's permissions, make a leaf young. Each returns 0 or a negative errno
 * as the kernel does; {@code -EAGAIN} means another CPU got in first and the guest re-executes.
 */
final class Stage2PgTable {

  private final Kvm kvm;
  private final Stage2Config config;

  Stage2PgTable(Kvm kvm, Stage2Config config) {
    this.kvm = kvm;
    this.config = config;
  }

  /**
   * {@code kvm_pgtable_stage2_map} of one leaf of {@code size} bytes at {@code ipa} for
   * {@code physicalAddress}, both aligned to it, with {@code prot}: tables linked from the
   * vCPU's memcache, a block in the way broken (break-before-make) and replaced by an empty
   * table from the memcache, so the rest of the block's range faults in again
   * ({@code stage2_map_walk_leaf}), a valid entry replaced by break-before-make. The
   * same mapping already there, or one differing only in permissions, is {@code -EAGAIN}
   * ({@code stage2_pte_needs_update}).
   */
  int map(PageTableCursor cursor, long ipa, long size, long physicalAddress, int prot) {
    int level = levelOf(size);
    long leaf = Stage2Pte.makeLeaf(physicalAddress, Stage2Prot.attributes(prot, config.fwb()),
        level, config.granuleShift());
    int idx = kvm.rcuReadLock();
    try {
      switch (cursor.mapReplacingHugeWithEmptyTable(ipa >>> config.granuleShift(), level, leaf)) {
        case CHANGED:
          return 0;
        case NO_MEMORY:
          return Errno.ENOMEM.negative();
        default:
          return Errno.EAGAIN.negative();
      }
    } finally {
      kvm.rcuReadUnlock(idx);
    }
  }

  /**
   * {@code kvm_pgtable_stage2_relax_perms}: on the valid leaf mapping {@code ipa}, set S2AP_R
   * and S2AP_W as {@code prot} asks and clear XN for {@code X}, with one {@code cmpxchg}
   * ({@code stage2_attr_walker}); an invalid entry or a lost race is {@code -EAGAIN}. Either
   * way the TLB entry for the IPA at the leaf's level is invalidated
   * ({@code __kvm_tlb_flush_vmid_ipa_nsh}; the model's flush reaches every vCPU).
   */
  int relaxPerms(PageTableCursor cursor, long ipa, int prot) {
    long frame = ipa >>> config.granuleShift();
    int ret = 0;
    int idx = kvm.rcuReadLock();
    try {
      if (!cursor.walk(frame)) {
        ret = Errno.EAGAIN.negative();
      } else {
        long old = cursor.entry();
        long updated = (old & ~Stage2Prot.relaxClearBits(prot)) | Stage2Prot.relaxSetBits(prot);
        if (updated != old && !cursor.tryUpdateWalkedLeaf(old, updated)) {
          ret = Errno.EAGAIN.negative();
        }
      }
    } finally {
      kvm.rcuReadUnlock(idx);
    }
    long pages = (1L << config.levelShift(cursor.level())) >>> config.granuleShift();
    kvm.flushRemoteTlbsRange(frame & -pages, pages);
    return ret;
  }

  /**
   * {@code kvm_pgtable_stage2_mkyoung}: set AF on the valid leaf mapping {@code ipa} with one
   * {@code cmpxchg}; an invalid entry or a lost race leaves it (the guest faults again if it
   * still needs it). No TLB invalidation: an entry with AF clear is never cached.
   */
  void mkyoung(PageTableCursor cursor, long ipa) {
    int idx = kvm.rcuReadLock();
    try {
      if (cursor.walk(ipa >>> config.granuleShift())) {
        long old = cursor.entry();
        if ((old & Stage2Pte.AF) == 0) {
          cursor.tryUpdateWalkedLeaf(old, old | Stage2Pte.AF);
        }
      }
    } finally {
      kvm.rcuReadUnlock(idx);
    }
  }

  /** The level whose entries map {@code size} bytes. */
  int levelOf(long size) {
    for (int level = config.startLevel(); level <= Stage2Pte.LAST_LEVEL; level++) {
      if (1L << config.levelShift(level) == size) {
        return level;
      }
    }
    throw new IllegalArgumentException("no stage-2 level maps " + size + " bytes");
  }
}

package org.kvmmodel.arch.x86;

import java.util.Locale;

/**
 * Bit layout of EPT shadow page-table entries as KVM's TDP MMU writes them, and the
 * predicates KVM reads them with ({@code arch/x86/kvm/mmu/spte.h}, the EPT bits of
 * {@code arch/x86/include/asm/vmx.h}, and the masks {@code kvm_mmu_set_ept_masks()} programs).
 * Models kernel 6.13: {@code SHADOW_NONPRESENT_VALUE} is bit 63, MMU-present is bit 11,
 * host- and MMU-writable are bits 57 and 58.
 *
 * <p>All methods are pure functions of their arguments.
 */
public final class Spte {

  /** EPT read permission ({@code VMX_EPT_READABLE_MASK}); KVM's {@code shadow_user_mask}. */
  public static final long READABLE = 1L;
  /** EPT write permission ({@code PT_WRITABLE_MASK} / {@code VMX_EPT_WRITABLE_MASK}). */
  public static final long WRITABLE = 1L << 1;
  /** EPT execute permission ({@code VMX_EPT_EXECUTABLE_MASK}); {@code shadow_x_mask}. */
  public static final long EXECUTABLE = 1L << 2;
  /** R, W and X together ({@code VMX_EPT_RWX_MASK}); also {@code shadow_acc_track_mask}. */
  public static final long RWX_MASK = 0x7L;
  /** First bit of the leaf memory type ({@code VMX_EPT_MT_EPTE_SHIFT}). */
  public static final int MEMTYPE_SHIFT = 3;
  /** The leaf memory type field ({@code VMX_EPT_MT_MASK}). */
  public static final long MEMTYPE_MASK = 0x7L << MEMTYPE_SHIFT;
  /** Ignore guest PAT ({@code VMX_EPT_IPAT_BIT}). */
  public static final long IGNORE_PAT = 1L << 6;
  /** Page size: a leaf above level 1 ({@code PT_PAGE_SIZE_MASK}). */
  public static final long PAGE_SIZE = 1L << 7;
  /** Accessed ({@code VMX_EPT_ACCESS_BIT}); {@code shadow_accessed_mask}. */
  public static final long ACCESSED = 1L << 8;
  /** Dirty ({@code VMX_EPT_DIRTY_BIT}); {@code shadow_dirty_mask}. */
  public static final long DIRTY = 1L << 9;
  /** Set in every shadow-present SPTE ({@code SPTE_MMU_PRESENT_MASK}). */
  public static final long MMU_PRESENT = 1L << 11;
  /** Guest-physical or host-physical address bits ({@code SPTE_BASE_ADDR_MASK}). */
  public static final long BASE_ADDR_MASK = 0x000F_FFFF_FFFF_F000L;
  /** First bit of the A/D tracking type ({@code SPTE_TDP_AD_SHIFT}). */
  public static final int AD_SHIFT = 52;
  /** The A/D tracking type field ({@code SPTE_TDP_AD_MASK}). */
  public static final long AD_MASK = 0x3L << AD_SHIFT;
  /** A/D bits in use ({@code SPTE_TDP_AD_ENABLED}). */
  public static final long AD_ENABLED = 0L;
  /** A/D bits not in use ({@code SPTE_TDP_AD_DISABLED}). */
  public static final long AD_DISABLED = 1L << AD_SHIFT;
  /** A/D bits in use but dirty tracked by write protection ({@code SPTE_TDP_AD_WRPROT_ONLY}). */
  public static final long AD_WRPROT_ONLY = 2L << AD_SHIFT;
  /** Where R and X are saved in an access-tracked SPTE ({@code SHADOW_ACC_TRACK_SAVED_BITS_SHIFT}). */
  public static final int ACC_TRACK_SAVED_SHIFT = 54;
  /** The bits saved by access tracking, before shifting ({@code SHADOW_ACC_TRACK_SAVED_BITS_MASK}). */
  public static final long ACC_TRACK_SAVED_MASK = READABLE | EXECUTABLE;
  /** Host mapping writable ({@code EPT_SPTE_HOST_WRITABLE}). */
  public static final long HOST_WRITABLE = 1L << 57;
  /** KVM may make the SPTE writable ({@code EPT_SPTE_MMU_WRITABLE}). */
  public static final long MMU_WRITABLE = 1L << 58;
  /** Suppress #VE ({@code VMX_EPT_SUPPRESS_VE_BIT}). */
  public static final long SUPPRESS_VE = 1L << 63;
  /** The value of every empty or zapped SPTE ({@code SHADOW_NONPRESENT_VALUE}). */
  public static final long SHADOW_NONPRESENT_VALUE = SUPPRESS_VE;
  /** An SPTE locked mid-update by the TDP MMU ({@code FROZEN_SPTE}). */
  public static final long FROZEN_SPTE = SHADOW_NONPRESENT_VALUE | 0x5A0L;
  /** What identifies an MMIO SPTE ({@code shadow_mmio_mask} for EPT). */
  public static final long MMIO_MASK = RWX_MASK | SUPPRESS_VE;
  /** The masked value of an MMIO SPTE: write and execute, an EPT misconfiguration. */
  public static final long MMIO_VALUE = 0x6L;
  /** Generation bits 7:0 go to SPTE bits 10:3 ({@code MMIO_SPTE_GEN_LOW_START/END}). */
  public static final long MMIO_GEN_LOW_MASK = 0xFFL << 3;
  /** Generation bits 18:8 go to SPTE bits 62:52 ({@code MMIO_SPTE_GEN_HIGH_START/END}). */
  public static final long MMIO_GEN_HIGH_MASK = 0x7FFL << 52;
  /** The generation an MMIO SPTE can hold ({@code MMIO_SPTE_GEN_MASK}, 19 bits). */
  public static final long MMIO_GEN_MASK = (1L << 19) - 1;

  /** KVM's execute access right ({@code ACC_EXEC_MASK}). */
  public static final int ACC_EXEC = 1;
  /** KVM's write access right ({@code ACC_WRITE_MASK}). */
  public static final int ACC_WRITE = 2;
  /** KVM's user (for EPT: read) access right ({@code ACC_USER_MASK}). */
  public static final int ACC_USER = 4;
  /** All access rights ({@code ACC_ALL}). */
  public static final int ACC_ALL = ACC_EXEC | ACC_WRITE | ACC_USER;

  /** EPT memory type uncacheable. */
  public static final int MEMTYPE_UC = 0;
  /** EPT memory type write-back. */
  public static final int MEMTYPE_WB = 6;

  private Spte() {}

  /** {@code is_shadow_present_pte}: tests only bit 11. */
  public static boolean isShadowPresentPte(long spte) {
    return (spte & MMU_PRESENT) != 0;
  }

  /** {@code is_large_pte}: bit 7. */
  public static boolean isLargePte(long spte) {
    return (spte & PAGE_SIZE) != 0;
  }

  /** {@code is_last_spte}: level 1, or bit 7 set. */
  public static boolean isLastSpte(long spte, int level) {
    return level == 1 || isLargePte(spte);
  }

  /** {@code is_frozen_spte}. */
  public static boolean isFrozenSpte(long spte) {
    return spte == FROZEN_SPTE;
  }

  /** {@code is_writable_pte}: the hardware W bit. */
  public static boolean isWritablePte(long spte) {
    return (spte & WRITABLE) != 0;
  }

  /** {@code is_mmu_writable_spte}: bit 58. */
  public static boolean isMmuWritableSpte(long spte) {
    return (spte & MMU_WRITABLE) != 0;
  }

  /** Whether the host mapping was writable when the SPTE was made: bit 57. */
  public static boolean isHostWritable(long spte) {
    return (spte & HOST_WRITABLE) != 0;
  }

  /** {@code spte_ad_enabled}: the A/D type is not "disabled". */
  public static boolean spteAdEnabled(long spte) {
    return (spte & AD_MASK) != AD_DISABLED;
  }

  /** {@code spte_ad_need_write_protect}: dirty state needs write protection. */
  public static boolean spteAdNeedWriteProtect(long spte) {
    return (spte & AD_MASK) != AD_ENABLED;
  }

  /** {@code is_access_track_spte}: A/D disabled and RWX all clear. */
  public static boolean isAccessTrackSpte(long spte) {
    return !spteAdEnabled(spte) && (spte & RWX_MASK) == 0;
  }

  /** {@code is_accessed_spte}: bit 8, set in software as well when A/D bits are disabled. */
  public static boolean isAccessedSpte(long spte) {
    return (spte & ACCESSED) != 0;
  }

  /** {@code is_dirty_spte}: D with A/D bits in use, otherwise W. */
  public static boolean isDirtySpte(long spte) {
    return spteAdEnabled(spte) ? (spte & DIRTY) != 0 : isWritablePte(spte);
  }

  /** {@code is_mmio_spte} for EPT with MMIO caching on. */
  public static boolean isMmioSpte(long spte) {
    return (spte & MMIO_MASK) == MMIO_VALUE;
  }

  /** {@code spte_to_pfn}. */
  public static long spteToPfn(long spte) {
    return (spte & BASE_ADDR_MASK) >>> 12;
  }

  /** {@code get_mmio_spte_gfn} without the L1TF address shuffle. */
  public static long mmioSpteGfn(long spte) {
    return (spte & BASE_ADDR_MASK) >>> 12;
  }

  /** {@code get_mmio_spte_generation}: reassembles the 19-bit memslot generation. */
  public static long mmioSpteGeneration(long spte) {
    return ((spte & MMIO_GEN_LOW_MASK) >>> 3) | ((spte & MMIO_GEN_HIGH_MASK) >>> 44);
  }

  /** {@code generation_mmio_spte_mask}: spreads a generation over bits 10:3 and 62:52. */
  public static long generationMmioSpteMask(long generation) {
    if ((generation & ~MMIO_GEN_MASK) != 0) {
      throw new IllegalArgumentException("MMIO generation wider than 19 bits: " + generation);
    }
    return ((generation << 3) & MMIO_GEN_LOW_MASK) | ((generation << 44) & MMIO_GEN_HIGH_MASK);
  }

  /**
   * The violated rule of {@code check_spte_writable_invariants} (MMU-writable implies
   * host-writable; writable implies MMU-writable), or {@code null} when both hold.
   */
  public static String writableInvariantViolation(long spte) {
    if (isMmuWritableSpte(spte)) {
      return isHostWritable(spte) ? null : "MMU-writable without host-writable";
    }
    return isWritablePte(spte) ? "writable without MMU-writable" : null;
  }

  /** Throws when {@code spte} breaks {@code check_spte_writable_invariants}. */
  public static long checkWritableInvariants(long spte) {
    String violation = writableInvariantViolation(spte);
    if (violation != null) {
      throw new IllegalStateException(
          String.format(Locale.US, "SPTE %#x is %s", spte, violation));
    }
    return spte;
  }

  /**
   * {@code mark_spte_for_access_track}: with A/D bits, clears A; without, saves R and X in
   * bits 54 and 56 and clears RWX and A so the next access faults.
   */
  public static long markSpteForAccessTrack(long spte) {
    if (spteAdEnabled(spte)) {
      return spte & ~ACCESSED;
    }
    if (isAccessTrackSpte(spte)) {
      return spte;
    }
    spte |= (spte & ACC_TRACK_SAVED_MASK) << ACC_TRACK_SAVED_SHIFT;
    return spte & ~(RWX_MASK | ACCESSED);
  }

  /** {@code restore_acc_track_spte}: moves the saved R and X back and clears the save area. */
  public static long restoreAccTrackSpte(long spte) {
    long saved = (spte >>> ACC_TRACK_SAVED_SHIFT) & ACC_TRACK_SAVED_MASK;
    spte &= ~RWX_MASK;
    spte &= ~(ACC_TRACK_SAVED_MASK << ACC_TRACK_SAVED_SHIFT);
    return spte | saved;
  }

  /** {@code KVM_PAGES_PER_HPAGE}: 4 KiB pages mapped by a leaf at {@code level}. */
  public static long pagesPerHugePage(int level) {
    return 1L << (9 * (level - 1));
  }

  /**
   * {@code vmx_get_mt_mask}: UC for host MMIO; WB with IPAT when guest PAT is ignored
   * (0x70); plain WB otherwise (0x30).
   */
  public static long vmxGetMtMask(boolean hostMmio, boolean ignoreGuestPat) {
    if (hostMmio) {
      return (long) MEMTYPE_UC << MEMTYPE_SHIFT;
    }
    return ((long) MEMTYPE_WB << MEMTYPE_SHIFT) | (ignoreGuestPat ? IGNORE_PAT : 0);
  }
}

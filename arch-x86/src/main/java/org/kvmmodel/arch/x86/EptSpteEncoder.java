package org.kvmmodel.arch.x86;

import java.util.Locale;

/**
 * Composes EPT SPTEs the way KVM's TDP MMU does for one VM: leaves ({@code make_spte}),
 * table entries ({@code make_nonleaf_spte}), MMIO SPTEs ({@code make_mmio_spte}) and the
 * children of a split huge page ({@code make_small_spte}), all in {@code arch/x86/kvm/mmu/spte.c},
 * with the EPT masks of {@code kvm_mmu_set_ept_masks()}.
 *
 * <p>Two choices shape the encoding: whether EPT A/D bits are in use ({@code enable_ept_ad_bits};
 * without them SPTEs carry {@code SPTE_TDP_AD_DISABLED}) and whether the CPU supports
 * execute-only EPT entries ({@code cpu_has_vmx_ept_execute_only()}; without it every present
 * SPTE also carries R through {@code shadow_present_mask}). The NX-hugepage mitigation,
 * memory-encryption bits and the L1TF MMIO address shuffle are not modelled.
 */
public final class EptSpteEncoder {

  private static final long MAX_PFN = Spte.BASE_ADDR_MASK >>> 12;

  private final boolean adEnabled;
  private final long presentMask;

  /**
   * An encoder.
   *
   * @param adEnabled EPT accessed/dirty bits in use ({@code kvm_ad_enabled})
   * @param executeOnly the CPU supports execute-only EPT entries
   */
  public EptSpteEncoder(boolean adEnabled, boolean executeOnly) {
    this.adEnabled = adEnabled;
    this.presentMask = (executeOnly ? 0 : Spte.READABLE) | Spte.SUPPRESS_VE;
  }

  /** Whether A/D bits are in use. */
  public boolean adEnabled() {
    return adEnabled;
  }

  /** {@code shadow_present_mask}. */
  public long shadowPresentMask() {
    return presentMask;
  }

  /**
   * {@code make_spte} for a TDP MMU leaf.
   *
   * @param level 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB)
   * @param pfn host page frame number, aligned to the level
   * @param access {@link Spte#ACC_EXEC} | {@link Spte#ACC_WRITE} | {@link Spte#ACC_USER}
   * @param prefetch a prefetched mapping, created old (access-tracked)
   * @param hostWritable the host mapping is writable; otherwise write access is dropped
   * @param mtMask memory type bits, from {@link Spte#vmxGetMtMask}
   */
  public long makeSpte(
      int level, long pfn, int access, boolean prefetch, boolean hostWritable, long mtMask) {
    if (level < 1 || level > 3) {
      throw new IllegalArgumentException("EPT leaves sit at levels 1..3, not " + level);
    }
    if (pfn < 0 || pfn > MAX_PFN || (pfn & (Spte.pagesPerHugePage(level) - 1)) != 0) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "pfn %#x is out of range or misaligned for level %d", pfn, level));
    }
    if ((mtMask & ~(Spte.MEMTYPE_MASK | Spte.IGNORE_PAT)) != 0) {
      throw new IllegalArgumentException(String.format(Locale.US, "memtype mask %#x", mtMask));
    }
    if ((access & ~Spte.ACC_ALL) != 0) {
      throw new IllegalArgumentException("access rights " + access);
    }
    long spte = Spte.MMU_PRESENT;
    if (!adEnabled) {
      spte |= Spte.AD_DISABLED;
    }
    spte |= presentMask;
    if (!prefetch) {
      spte |= Spte.ACCESSED;
    }
    if ((access & Spte.ACC_EXEC) != 0) {
      spte |= Spte.EXECUTABLE;
    }
    if ((access & Spte.ACC_USER) != 0) {
      spte |= Spte.READABLE;
    }
    if (level > 1) {
      spte |= Spte.PAGE_SIZE;
    }
    spte |= mtMask;
    if (hostWritable) {
      spte |= Spte.HOST_WRITABLE;
    } else {
      access &= ~Spte.ACC_WRITE;
    }
    spte |= pfn << 12;
    if ((access & Spte.ACC_WRITE) != 0) {
      spte |= Spte.WRITABLE | Spte.MMU_WRITABLE | Spte.DIRTY;
    }
    if (prefetch) {
      spte = Spte.markSpteForAccessTrack(spte);
    }
    return Spte.checkWritableInvariants(spte);
  }

  /** {@code make_nonleaf_spte}: RWX, A (or the A/D-disabled type), bits 11 and 63. */
  public long makeNonleafSpte(long childPhysicalAddress) {
    if ((childPhysicalAddress & ~Spte.BASE_ADDR_MASK) != 0) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "table address %#x", childPhysicalAddress));
    }
    long spte =
        Spte.MMU_PRESENT
            | childPhysicalAddress
            | presentMask
            | Spte.WRITABLE
            | Spte.READABLE
            | Spte.EXECUTABLE;
    return spte | (adEnabled ? Spte.ACCESSED : Spte.AD_DISABLED);
  }

  /**
   * {@code make_mmio_spte}: the generation split over bits 10:3 and 62:52, the W|X
   * misconfiguration value and the guest-physical address; EPT's MMIO access mask is empty.
   */
  public long makeMmioSpte(long gfn, long generation) {
    if (gfn < 0 || gfn > MAX_PFN) {
      throw new IllegalArgumentException(String.format(Locale.US, "gfn %#x", gfn));
    }
    return Spte.generationMmioSpteMask(generation & Spte.MMIO_GEN_MASK)
        | Spte.MMIO_VALUE
        | (gfn << 12);
  }

  /**
   * {@code make_small_spte}: the {@code index}-th child at {@code childLevel} of a huge SPTE;
   * same attributes, address advanced, PS cleared at level 1.
   */
  public static long makeSmallSpte(long hugeSpte, int childLevel, int index) {
    if (!Spte.isShadowPresentPte(hugeSpte) || !Spte.isLargePte(hugeSpte)) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "%#x is not a present huge SPTE", hugeSpte));
    }
    long child = hugeSpte;
    if (childLevel == 1) {
      child &= ~Spte.PAGE_SIZE;
    }
    return child | ((index * Spte.pagesPerHugePage(childLevel)) << 12);
  }
}

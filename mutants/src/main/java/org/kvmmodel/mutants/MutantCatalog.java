package org.kvmmodel.mutants;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.mutants.Arm64Variant.Arm64Breakage;
import org.kvmmodel.mutants.X86Variant.X86Breakage;

/**
 * The nineteen bugs of the reference catalogue of real, fixed KVM MMU bugs: those the plugins
 * can express, each re-created as a decorated real plugin ({@link CatalogMutant}), and those
 * they cannot yet, each with what it waits for ({@link UnexpressedBug}). A mutant changes the
 * mechanism the catalogue describes and nothing else; it is hunted with every check, never
 * with one written for it.
 */
public final class MutantCatalog {

  private static final String HUGE_PAGES = "huge-pages";

  private MutantCatalog() {}

  /** The bugs re-created as mutants, in catalogue order. */
  public static List<CatalogMutant> mutants() {
    return List.of(
        new CatalogMutant("B02", "x86 TDP MMU: iterator skips an unvisited subtree after yielding",
            "KVM: x86/mmu: Don't advance iterator after restart due to yielding (3a0f64de479c)",
            () -> new X86Variant(X86Breakage.ITERATOR_ADVANCES_AFTER_RESTART), HUGE_PAGES,
            "ept4-ad"),
        new CatalogMutant("B07", "arm64: table to block replacement without TLB invalidation",
            "KVM: arm64: Fix handling of merging tables into a block entry (3a0b870e3448)",
            () -> new Arm64Variant(Arm64Breakage.FAULT_BREAKS_WITHOUT_TLBI), HUGE_PAGES,
            "4k-ipa40"),
        new CatalogMutant("B09",
            "x86: folio dirtied where an SPTE is made writable outside the notifier-protected"
                + " window (the lockless fast path)",
            "KVM: x86/mmu: Mark folio dirty when creating SPTE, not when zapping/modifying"
                + " (aa85986e7150)",
            () -> new X86Variant(X86Breakage.FAST_PATH_DIRTIES_FOLIO), "dirty-log", "ept4-ad"),
        new CatalogMutant("B15",
            "arm64: MTE tag-copy ioctl leaks a reference on ZONE_DEVICE memory",
            "KVM: arm64: Release pfn, i.e. put page, if copying MTE tags hits ZONE_DEVICE"
                + " (ae41d7dbaeb4)",
            () -> new Arm64Variant(Arm64Breakage.MTE_ZONE_DEVICE_KEEPS_REFERENCE),
            "mte-copy-tags", "4k-ipa40-fwb-ha-mte"),
        new CatalogMutant("B22",
            "x86: faults inside an active invalidation livelock the invalidation",
            "KVM: x86/mmu: Retry fault before acquiring mmu_lock if mapping is changing"
                + " (d02c357e5bfa)",
            () -> new X86Variant(X86Breakage.NO_EARLY_RETRY), HUGE_PAGES, "ept4-ad"),
        new CatalogMutant("B31",
            "arm64: block installed over a live table after dirty logging is cancelled",
            "KVM: arm/arm64: Fix handling of stage2 huge mappings (3c3736cd32bf)",
            () -> new Arm64Variant(Arm64Breakage.BLOCK_OVER_LIVE_TABLE), HUGE_PAGES,
            "4k-ipa40"));
  }

  /** The bugs the plugins cannot express yet, in catalogue order. */
  public static List<UnexpressedBug> unexpressed() {
    return List.of(
        new UnexpressedBug("B03", "x86 TDP MMU: invalidated roots zapped by an asynchronous worker",
            "several TDP MMU roots in arch-x86 (invalidation, zap of invalidated roots)"),
        new UnexpressedBug("B06",
            "x86 TDP MMU: write-protect skipped SPTEs that were RO only for dirty logging",
            "gfn write tracking in arch-x86 (kvm_page_track, shadowed guest page tables)"),
        new UnexpressedBug("B10",
            "LoongArch: fast path (and slow path) dirty the folio after dropping mmu_lock",
            "an arch-loongarch plugin"),
        new UnexpressedBug("B14", "PowerPC Book3S PR: extra get_page() when patching dcbz",
            "a PowerPC Book3S PR plugin"),
        new UnexpressedBug("B18", "arm64: page-table page refcount leak on update of a valid PTE",
            "stage-2 table pages that count their valid entries (arm64's get_page/put_page on"
                + " table pages); the engine finds empty tables by reading their entries"),
        new UnexpressedBug("B20", "x86: host page-table walk for the mapping level was racy",
            "huge pages in arch-x86 (host_pfn_mapping_level)"),
        new UnexpressedBug("B24", "x86: emulated atomic (cmpxchg) write not recorded in the dirty log",
            "x86 instruction emulation (the emulator's atomic writes to guest memory)"),
        new UnexpressedBug("B26",
            "PowerPC Book3S HV (HPT): change bit harvested before the TLB invalidation completed",
            "a PowerPC Book3S HV hashed-page-table plugin whose hardware writes change bits"
                + " lazily until the tlbie completes"),
        new UnexpressedBug("B28", "arm64/generic: dirty ring cannot log writes made outside vCPU context",
            "the dirty ring (KVM_CAP_DIRTY_LOG_RING) and writes KVM makes with no vCPU running"
                + " (arm64's vGIC/ITS table saves)"),
        new UnexpressedBug("B32",
            "arm64: relax-permission handler used at the wrong level, so the fault loops forever",
            "a seam in user_mem_abort's choice between relaxing permissions and mapping: it is"
                + " made from sizes the plugin computes itself, out of reach of common KVM's"
                + " view"),
        new UnexpressedBug("B34",
            "arm64: stage-1 page-table walk faults on read-only memslots treated as writes",
            "guest stage-1 page-table walks (S1PTW faults) in the arm64 walker"),
        new UnexpressedBug("B35",
            "x86: a fault on an INVALID (being-deleted) memslot installed an MMIO SPTE",
            "MMIO SPTEs in arch-x86 (enable_mmio_caching): as modelled, with caching off, a"
                + " fault with no usable slot emulates and installs nothing"),
        new UnexpressedBug("B38", "x86: shadow-page reclaim called with mmu_lock held only for read",
            "the x86 shadow MMU and its page limit (make_mmu_pages_available)"));
  }

  /** Every catalogue id, expressible or not, in catalogue order. */
  public static List<String> ids() {
    List<String> ids = new ArrayList<>();
    mutants().forEach(m -> ids.add(m.id()));
    unexpressed().forEach(u -> ids.add(u.id()));
    ids.sort(null);
    return ids;
  }
}

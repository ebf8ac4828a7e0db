package org.kvmmodel.arch.riscv;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchFeature;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.ImpossibleSituation;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.ViolationEvidence;
import org.kvmmodel.api.ViolationSignature;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.DescriptorFormat;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The RISC-V plugin: H-extension G-stage tables as KVM 6.13 builds them
 * ({@code arch/riscv/kvm/mmu.c}), with mmu_lock a spinlock, a whole-VM retry check and no
 * fast path.
 *
 * <p>Configurations span the G-stage mode ({@code kvm_riscv_gstage_mode_detect}: Sv39x4,
 * Sv48x4, Sv57x4) and how the harts keep A and D: Svade (an access with A clear, or a store
 * with D clear, raises a guest-page fault) or Svadu (the hart sets them). Every pair of the
 * two axes is listed.
 */
public final class RiscvPlugin implements ArchPlugin {

  /** Which {@link GstageMap} the fault path uses: KVM's, or a test's variant of it. */
  @FunctionalInterface
  interface MapFactory {
    GstageMap create(Kvm kvm, GstageMode mode, RadixMmuOps ops);
  }

  /** The A/D axis: {@code svade} or {@code svadu}. */
  static final String AD = "ad";
  /** The mode axis: {@code sv39x4}, {@code sv48x4} or {@code sv57x4}. */
  static final String MODE = "mode";

  private static final List<ArchConfiguration> CONFIGURATIONS = configurations(GstageMode.values());

  private final MapFactory maps;

  public RiscvPlugin() {
    this(GstageMap::new);
  }

  RiscvPlugin(MapFactory maps) {
    this.maps = maps;
  }

  private static List<ArchConfiguration> configurations(GstageMode[] modes) {
    List<ArchConfiguration> all = new ArrayList<>();
    for (GstageMode mode : modes) {
      for (String ad : List.of("svade", "svadu")) {
        all.add(new ArchConfiguration(mode.label() + "-" + ad, Map.of(MODE, mode.label(), AD, ad)));
      }
    }
    return List.copyOf(all);
  }

  @Override
  public String name() {
    return "riscv";
  }

  @Override
  public String version() {
    return "0.1.0";
  }

  @Override
  public String description() {
    return "RISC-V H-extension G-stage, Sv39x4/Sv48x4/Sv57x4 (arch/riscv/kvm/mmu.c)";
  }

  /**
   * What 6.13's G-stage never does: write without the mmu_lock spinlock, or map THP or
   * {@code VM_PFNMAP} memory with a huge leaf ({@code kvm_riscv_gstage_map} sizes its mapping
   * by hugetlbfs VMAs only and forces pages for {@code VM_PFNMAP}).
   */
  @Override
  public List<ImpossibleSituation> impossibleSituations() {
    return List.of(
        new ImpossibleSituation("LOCK-DISCIPLINE", "rule=spte-write-lockless",
            "RISC-V writes G-stage entries only under the mmu_lock spinlock"),
        new ImpossibleSituation("PERMISSIONS", "backing=anon-thp leaf=huge",
            "6.13's kvm_riscv_gstage_map takes the mapping size from hugetlbfs VMAs only, so THP"
                + " is mapped with pages"),
        new ImpossibleSituation("PERMISSIONS", "backing=pfnmap leaf=huge",
            "6.13's kvm_riscv_gstage_map maps VM_PFNMAP memory with pages"));
  }

  @Override
  public Set<ArchFeature> features() {
    return EnumSet.of(
        ArchFeature.HUGE_PAGES, ArchFeature.CONCATENATED_ROOTS, ArchFeature.DIRTY_LOGGING);
  }

  @Override
  public List<KvmVersion> kvmVersions() {
    return List.of(KvmVersion.DEFAULT);
  }

  @Override
  public List<ArchConfiguration> configurations() {
    return CONFIGURATIONS;
  }

  @Override
  public MmuLockKind mmuLockKind() {
    return MmuLockKind.SPINLOCK;
  }

  /**
   * What 6.13's {@code kvm_riscv_gstage_map} does when its retry check fires: in that hold of
   * mmu_lock it maps nothing and still releases the page as used, dirty if writable
   * ({@code kvm_release_faultin_page} with {@code unused = ret && ret != -EEXIST}, {@code ret}
   * still 0).
   */
  static final ViolationSignature RETRIED_FAULT_RELEASED_USED =
      ViolationSignature.of(
          "a fault whose retry check fired maps nothing and releases its page dirty",
          v -> {
            ViolationEvidence hold = v.sinceLast("mmu_lock");
            return v.kind().equals("retry-fired")
                && hold.saw("mmu_invalidate_retry", "retry", 1)
                && hold.saw("kvm_release_page_dirty")
                && !hold.saw("kvm_tdp_mmu_spte_changed");
          });

  /**
   * What 6.13's {@code kvm_riscv_gstage_map} does while an invalidation zaps its range: it has
   * no lockless {@code mmu_invalidate_retry_gfn_unsafe} pre-check before faultin, so every
   * re-fault takes mmu_lock only to see the retry check fire, and {@code gstage_unmap_range},
   * which calls {@code cond_resched_lock} after every page, yields the contended spinlock to
   * each of them (x86 stopped this by checking the range before taking the lock).
   */
  static final ViolationSignature RETRIES_UNDER_A_YIELDING_ZAP =
      ViolationSignature.of(
          "re-faults in a range being zapped take mmu_lock only to retry, and the zap yields to"
              + " each", v -> v.kind().equals("zap-livelock"));

  /**
   * What 6.13's {@code kvm_riscv_gstage_map} does over hugetlbfs memory: it maps a leaf of the
   * VMA's huge page size at the gpa rounded down to that size without asking whether the
   * memslot holds the whole leaf or places gpa and hva alike within it (it has no
   * {@code fault_supports_gstage_huge_mapping}), so a memslot that starts or ends inside a huge
   * page gets a leaf reaching past its bounds.
   */
  static final ViolationSignature HUGETLB_LEAF_NOT_FITTED_TO_SLOT =
      ViolationSignature.of(
          "a hugetlbfs page is mapped by a leaf of its whole size that the memslot does not hold",
          v -> v.kind().equals("crosses-memslot") || v.kind().equals("misaligned"));

  /**
   * What follows in 6.13 from {@link #HUGETLB_LEAF_NOT_FITTED_TO_SLOT}: the notifier clips an
   * invalidated hva range to the memslot, and {@code gstage_unmap_range} clears only leaves the
   * clipped range covers whole, so the leaf that reaches past the memslot stays mapped when
   * {@code invalidate_range_start} returns.
   */
  static final ViolationSignature CLIPPED_UNMAP_SKIPS_A_SLOT_CROSSING_LEAF =
      ViolationSignature.of(
          "an invalidation clipped to the memslot leaves the leaf that reaches past it",
          v -> v.kind().equals("crossing-leaf-after-invalidate-start"));

  /**
   * What else follows in 6.13 from {@link #HUGETLB_LEAF_NOT_FITTED_TO_SLOT}: where the memslot
   * places the gpa and hva of a huge page differently, the leaf at the rounded-down gpa points
   * at a frame not aligned to its size, a misaligned superpage the MMU refuses; each fault maps
   * the same leaf again (and flushes), so the access faults for ever.
   */
  static final ViolationSignature REMAPS_A_MISALIGNED_SUPERPAGE =
      ViolationSignature.of(
          "a fault maps the same misaligned superpage again and again",
          v -> v.kind().equals("misaligned-leaf-livelock"));

  /** The core entry point an mmu_notifier invalidation is judged in. */
  private static final String INVALIDATE_RANGE_START = "kvm_mmu_notifier_invalidate_range_start";

  @Override
  public List<KnownDivergence> knownDivergences(KvmVersion version) {
    return version.equals(KvmVersion.DEFAULT)
        ? List.of(
            new KnownDivergence("DIRTY-PROTECTED", GstageMap.FUNCTION,
                RETRIED_FAULT_RELEASED_USED, null),
            new KnownDivergence("LIVENESS", GstageMap.FUNCTION, RETRIES_UNDER_A_YIELDING_ZAP,
                null),
            new KnownDivergence("PERMISSIONS", GstageMap.FUNCTION,
                HUGETLB_LEAF_NOT_FITTED_TO_SLOT, null),
            new KnownDivergence("LIVENESS", GstageMap.FUNCTION, REMAPS_A_MISALIGNED_SUPERPAGE,
                null),
            new KnownDivergence("NO-STALE-MAPPING", INVALIDATE_RANGE_START,
                CLIPPED_UNMAP_SKIPS_A_SLOT_CROSSING_LEAF, null))
        : List.of();
  }

  @Override
  public DescriptorFormat descriptorFormat(ArchConfiguration configuration) {
    return new GstageDescriptorFormat(modeOf(configuration));
  }

  /** {@code kvm_riscv_gstage_alloc_pgd} and the VM's hooks over it. */
  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    HostPageSize.SIZE_4K.requireHostOf(kvm, "RISC-V G-stage");
    GstageMode mode = modeOf(configuration);
    RadixMmuOps ops =
        new RadixMmuOps(kvm, RadixPageTable.create(new GstagePageTableFormat(mode), kvm.pageTables()));
    boolean svadu = "svadu".equals(configuration(configuration.name()).parameter(AD));
    return new GstageMmu(kvm, mode, svadu, ops, maps.create(kvm, mode, ops));
  }

  private GstageMode modeOf(ArchConfiguration configuration) {
    return GstageMode.of(configuration(configuration.name()).parameter(MODE));
  }
}

package org.kvmmodel.arch.x86;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchFeature;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.ImpossibleSituation;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * The x86 plugin: Intel EPT tables built by the TDP MMU ({@code arch/x86/kvm/mmu/}).
 *
 * <p>Configurations span the two axes KVM chooses at VM creation: the EPT walk length
 * ({@code kvm_mmu_get_tdp_level}: 4 or 5) and whether EPT accessed/dirty bits are enabled
 * ({@code enable_ept_ad_bits}; without them KVM tracks access by clearing RWX).
 */
public final class X86Plugin implements ArchPlugin {

  private static final List<ArchConfiguration> CONFIGURATIONS =
      List.of(
          configuration("ept4-ad", 4, true),
          configuration("ept4-noad", 4, false),
          configuration("ept5-ad", 5, true),
          configuration("ept5-noad", 5, false));

  private static ArchConfiguration configuration(String name, int levels, boolean ad) {
    return new ArchConfiguration(
        name, Map.of("levels", Integer.toString(levels), "ad-bits", ad ? "on" : "off"));
  }

  @Override
  public String name() {
    return "x86";
  }

  @Override
  public String version() {
    return "0.1.0";
  }

  @Override
  public String description() {
    return "Intel EPT, TDP MMU (arch/x86/kvm/mmu)";
  }

  /**
   * The plugin maps 4 KiB leaves only: the TDP MMU's huge pages (kvm_mmu_hugepage_adjust and
   * its NX recovery) are not modelled yet, which is why it does not declare HUGE_PAGES.
   */
  @Override
  public List<ImpossibleSituation> impossibleSituations() {
    String reason =
        "the x86 plugin models the TDP MMU's 4 KiB mappings only; huge pages are not modelled";
    return List.of(new ImpossibleSituation("PERMISSIONS", "leaf=huge", reason),
        new ImpossibleSituation("TLB-COHERENT", "install-over=other-size", reason));
  }

  /**
   * What the model of x86 does today: huge pages ({@code kvm_mmu_hugepage_adjust}) and root
   * management are not modelled yet, so {@code HUGE_PAGES} and {@code MULTIPLE_ROOTS} are not
   * declared.
   */
  @Override
  public Set<ArchFeature> features() {
    return EnumSet.of(
        ArchFeature.LOCKLESS_FAST_PATH,
        ArchFeature.GFN_RANGED_RETRY,
        ArchFeature.HARDWARE_ACCESSED,
        ArchFeature.HARDWARE_DIRTY,
        ArchFeature.DIRTY_LOGGING,
        ArchFeature.ELIDE_TLB_FLUSH_IF_YOUNG);
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
    return MmuLockKind.RWLOCK;
  }

  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    HostPageSize.SIZE_4K.requireHostOf(kvm, "x86 EPT");
    return new TdpMmu(kvm, EptPageTableFormat.forConfiguration(configuration));
  }

  /** {@code KVM_ADDRESS_SPACE_NUM}: normal and SMM. */
  @Override
  public int memslotAddressSpaces() {
    return 2;
  }

  /** {@code KVM_INTERNAL_MEM_SLOTS}: APIC access, identity map and TSS. */
  @Override
  public int internalMemslots() {
    return 3;
  }

  @Override
  public DescriptorFormat descriptorFormat(ArchConfiguration configuration) {
    ArchConfiguration known = configuration(configuration.name());
    return new EptDescriptorFormat(
        Integer.parseInt(known.parameter("levels")), "on".equals(known.parameter("ad-bits")));
  }
}

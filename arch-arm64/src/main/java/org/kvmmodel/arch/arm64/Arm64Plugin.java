package org.kvmmodel.arch.arm64;

import java.util.EnumSet;
import java.util.LinkedHashMap;
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
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * The arm64 plugin: VMSAv8-64 stage-2 tables built by {@code arch/arm64/kvm/hyp/pgtable.c}
 * and faulted by {@code arch/arm64/kvm/mmu.c}, mmu_lock an rwlock.
 *
 * <p>Configurations cover every value of each axis KVM chooses at VM creation and every pair
 * of values (not the full product): the granule (the host's {@code PAGE_SIZE}: 4, 16 or
 * 64 KiB), the IPA size ({@code KVM_VM_TYPE_ARM_IPA_SIZE}: 40 or 48 bits), FEAT_S2FWB, hardware
 * Access-flag updates (VTCR_EL2.HA) and MTE. The model's host has 4 KiB pages, so only the
 * 4 KiB-granule configurations can run VMs; the 16 and 64 KiB ones describe formats and
 * geometry, and say so through their {@code host-page-size}.
 */
public final class Arm64Plugin implements ArchPlugin {

  private static final List<ArchConfiguration> CONFIGURATIONS =
      List.of(
          configuration("4k", 40, false, false, false),
          configuration("4k", 40, true, true, true),
          configuration("4k", 48, false, true, true),
          configuration("4k", 48, true, false, true),
          configuration("4k", 48, true, true, false),
          configuration("16k", 40, false, false, false),
          configuration("16k", 48, true, true, true),
          configuration("64k", 40, false, false, false),
          configuration("64k", 48, true, true, true));

  /** A configuration named {@code <granule>-ipa<bits>[-fwb][-ha][-mte]}. */
  private static ArchConfiguration configuration(
      String granule, int ipa, boolean fwb, boolean ha, boolean mte) {
    String name = granule + "-ipa" + ipa + (fwb ? "-fwb" : "") + (ha ? "-ha" : "")
        + (mte ? "-mte" : "");
    Map<String, String> parameters = new LinkedHashMap<>();
    parameters.put("granule", granule);
    parameters.put("ipa", Integer.toString(ipa));
    parameters.put("fwb", onOff(fwb));
    parameters.put("hw-access-flag", onOff(ha));
    parameters.put("mte", onOff(mte));
    parameters.put(ArchConfiguration.HOST_PAGE_SIZE, granule);
    return new ArchConfiguration(name, parameters);
  }

  private static String onOff(boolean b) {
    return b ? "on" : "off";
  }

  @Override
  public String name() {
    return "arm64";
  }

  @Override
  public String version() {
    return "0.1.0";
  }

  @Override
  public String description() {
    return "VMSAv8-64 stage 2 (arch/arm64/kvm/mmu.c, hyp/pgtable.c)";
  }

  /** arm64 has no lockless stage-2 writer: every path takes mmu_lock, if only for read. */
  @Override
  public List<ImpossibleSituation> impossibleSituations() {
    return List.of(new ImpossibleSituation("LOCK-DISCIPLINE", "rule=spte-write-lockless",
        "arm64 changes stage-2 entries only under mmu_lock (user_mem_abort and"
            + " handle_access_fault take it for read); only the hardware's AF update is lockless"));
  }

  @Override
  public Set<ArchFeature> features() {
    return EnumSet.of(
        ArchFeature.HUGE_PAGES,
        ArchFeature.CONCATENATED_ROOTS,
        ArchFeature.HARDWARE_ACCESSED,
        ArchFeature.DIRTY_LOGGING,
        ArchFeature.RANGED_REMOTE_TLB_FLUSH);
  }

  @Override
  public List<KvmVersion> kvmVersions() {
    return List.of(KvmVersion.DEFAULT);
  }

  /**
   * 6.13's {@code kvm_vm_ioctl_mte_copy_tags} writes tags to the guest through a
   * {@code __gfn_to_page} reference and releases the page dirty with no mmu_lock and no retry
   * check, which mainline has not changed.
   */
  @Override
  public List<KnownDivergence> knownDivergences(KvmVersion version) {
    return version.equals(KvmVersion.DEFAULT)
        ? List.of(new KnownDivergence("DIRTY-PROTECTED", MteCopyTags.FUNCTION,
            MteCopyTags.TAGS_WRITTEN_RELEASED_DIRTY, null))
        : List.of();
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
  public DescriptorFormat descriptorFormat(ArchConfiguration configuration) {
    return new Stage2DescriptorFormat(Stage2Config.of(configuration(configuration.name())));
  }

  /**
   * {@code kvm_arch_init_vm}'s stage-2 part, without eager splitting (its chunk size starts
   * at 0).
   *
   * @throws IllegalArgumentException for a configuration whose granule is not the host's
   *     page size
   */
  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    ArchConfiguration known = configuration(configuration.name());
    HostPageSize.ofShift(known.hostPageShift())
        .requireHostOf(kvm, "arm64 configuration " + known.name());
    return new Arm64Mmu(kvm, Stage2Config.of(known));
  }
}

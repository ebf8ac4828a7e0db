package org.kvmmodel.api;

import java.util.List;
import java.util.Set;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * An architecture plugin: what {@code arch/<arch>/kvm/} contributes to KVM's MMU. Found with
 * {@link java.util.ServiceLoader}; core adapts it into each VM's object graph.
 *
 * <p>A plugin declares what it models (its configurations, the kernel versions, its features)
 * so that a user can see it with {@code kvmmodel list} before running anything.
 */
public interface ArchPlugin {

  /** The name used in configuration and on the command line, lower case, e.g. {@code x86}. */
  String name();

  /** The plugin's own version. */
  String version();

  /** One line saying what the plugin models. */
  String description();

  /** The capabilities of this architecture's KVM MMU. */
  Set<ArchFeature> features();

  /** The kernel versions whose behaviour this plugin models, oldest first. */
  List<KvmVersion> kvmVersions();

  /**
   * The configurations the plugin models; they cover every value of each axis and every pair
   * of values KVM allows, not the full product. The first is the default.
   */
  List<ArchConfiguration> configurations();

  /** The flavour of mmu_lock ({@code KVM_HAVE_MMU_RWLOCK} or not). */
  MmuLockKind mmuLockKind();

  /**
   * How this architecture's stage-2 descriptors read under {@code configuration}, one of
   * {@link #configurations()}: the bit layout its KVM code writes and tests.
   */
  DescriptorFormat descriptorFormat(ArchConfiguration configuration);

  /**
   * {@code kvm_arch_init_vm} for the MMU: the arch backend of one VM in {@code configuration},
   * built over the services {@code kvm} gives it.
   */
  ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration);

  /**
   * The checks real KVM fails for this arch at {@code version}, each with its fix: behaviour the
   * plugin models faithfully although it breaks an invariant. None by default.
   */
  default List<KnownDivergence> knownDivergences(KvmVersion version) {
    return List.of();
  }

  /**
   * The kinds of situation a check judges that this arch never creates (a huge leaf where it
   * maps pages only), each with its reason; conformance reports them {@code not-applicable}.
   * None by default.
   */
  default List<ImpossibleSituation> impossibleSituations() {
    return List.of();
  }

  /** {@code kvm_arch_nr_memslot_as_ids}: memslot address spaces (x86 has 2, for SMM). */
  default int memslotAddressSpaces() {
    return 1;
  }

  /** {@code KVM_INTERNAL_MEM_SLOTS}: slot ids reserved for KVM itself (x86: 3). */
  default int internalMemslots() {
    return 0;
  }

  /** {@code kvm_arch_has_readonly_mem}: whether KVM_MEM_READONLY is accepted. */
  default boolean readonlyMemory() {
    return true;
  }

  /** The configuration called {@code name}, or an exception listing the known names. */
  default ArchConfiguration configuration(String name) {
    for (ArchConfiguration c : configurations()) {
      if (c.name().equals(name)) {
        return c;
      }
    }
    StringBuilder known = new StringBuilder();
    for (ArchConfiguration c : configurations()) {
      known.append(known.length() == 0 ? "" : ", ").append(c.name());
    }
    throw new IllegalArgumentException(
        "arch " + name() + " has no configuration '" + name + "' (known: " + known + ")");
  }
}

package org.kvmmodel.tests.doubles;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchFeature;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.ImpossibleSituation;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * Test doubles that prove the SPI serves opposite arches: {@link #spinlockWholeVm()} has a
 * spinlock mmu_lock, a whole-VM retry check and no fast path (as RISC-V and MIPS);
 * {@link #concatenatedRoot()} has an rwlock, a gfn-ranged retry check and a root made of four
 * pages (as RISC-V's x4 and arm64's concatenated roots).
 */
public final class ToyPlugin implements ArchPlugin {

  /** What the toy's MMU calls its guest fault path ({@code ArchMmu.guestFaultFunction}). */
  public static final String FAULT_FUNCTION = "toy_page_fault";

  private final String name;
  private final MmuLockKind lockKind;
  private final boolean wholeVmRetry;
  private final int rootExtraBits;
  private final Set<Breakage> breakages;
  private final List<KnownDivergence> divergences;
  private final List<ImpossibleSituation> impossible;

  private ToyPlugin(
      String name, MmuLockKind lockKind, boolean wholeVmRetry, int rootExtraBits,
      Set<Breakage> breakages) {
    this.name = name;
    this.lockKind = lockKind;
    this.wholeVmRetry = wholeVmRetry;
    this.rootExtraBits = rootExtraBits;
    this.breakages = breakages;
    this.divergences = List.of();
    this.impossible = List.of();
  }

  private ToyPlugin(
      ToyPlugin base, List<KnownDivergence> divergences, List<ImpossibleSituation> impossible) {
    this.name = base.name;
    this.lockKind = base.lockKind;
    this.wholeVmRetry = base.wholeVmRetry;
    this.rootExtraBits = base.rootExtraBits;
    this.breakages = base.breakages;
    this.divergences = divergences;
    this.impossible = impossible;
  }

  /** The same double, declaring that real KVM at 6.13 fails a check as this double does. */
  public ToyPlugin declaring(KnownDivergence divergence) {
    return new ToyPlugin(this, List.of(divergence), impossible);
  }

  /** The same double, declaring kinds of situation it never creates. */
  public ToyPlugin declaringImpossible(ImpossibleSituation... situations) {
    return new ToyPlugin(this, divergences, List.of(situations));
  }

  @Override
  public List<ImpossibleSituation> impossibleSituations() {
    return impossible;
  }

  @Override
  public List<KnownDivergence> knownDivergences(KvmVersion version) {
    return version.equals(KvmVersion.DEFAULT) ? divergences : List.of();
  }

  public static ToyPlugin spinlockWholeVm() {
    return new ToyPlugin("toy-spin", MmuLockKind.SPINLOCK, true, 0, EnumSet.noneOf(Breakage.class));
  }

  public static ToyPlugin concatenatedRoot() {
    return new ToyPlugin("toy-concat", MmuLockKind.RWLOCK, false, 2, EnumSet.noneOf(Breakage.class));
  }

  /**
   * The spinlock double with one or more deliberate bugs, named {@code toy-<breakage>} after
   * each of them.
   */
  public static ToyPlugin broken(Breakage breakage, Breakage... more) {
    Set<Breakage> all = EnumSet.of(breakage, more);
    StringBuilder name = new StringBuilder("toy");
    for (Breakage b : all) {
      name.append('-').append(b.name().toLowerCase(Locale.US).replace('_', '-'));
    }
    return new ToyPlugin(name.toString(), MmuLockKind.SPINLOCK, true, 0, all);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String version() {
    return "test";
  }

  @Override
  public String description() {
    return "SPI test double";
  }

  @Override
  public Set<ArchFeature> features() {
    EnumSet<ArchFeature> f = EnumSet.of(ArchFeature.DIRTY_LOGGING);
    if (!wholeVmRetry) {
      f.add(ArchFeature.GFN_RANGED_RETRY);
    }
    if (rootExtraBits > 0) {
      f.add(ArchFeature.CONCATENATED_ROOTS);
    }
    return f;
  }

  @Override
  public List<KvmVersion> kvmVersions() {
    return List.of(KvmVersion.DEFAULT);
  }

  @Override
  public List<ArchConfiguration> configurations() {
    return List.of(new ArchConfiguration("default", Map.of("root-pages", Integer.toString(1 << rootExtraBits))));
  }

  @Override
  public MmuLockKind mmuLockKind() {
    return lockKind;
  }

  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    return new ToyMmu(kvm, new ToyFormat(rootExtraBits), wholeVmRetry, breakages);
  }

  @Override
  public DescriptorFormat descriptorFormat(ArchConfiguration configuration) {
    return new ToyFormat(rootExtraBits);
  }
}

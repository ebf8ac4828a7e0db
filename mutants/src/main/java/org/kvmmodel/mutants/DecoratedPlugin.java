package org.kvmmodel.mutants;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
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
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * A real plugin with a bug put in from outside: everything is the real plugin's, except that
 * its MMU is built over a view of common KVM whose calls {@link #intercept} may answer
 * differently, and the MMU's own hooks pass through {@link #interceptMmu}, so the plugin's own
 * code stays unchanged. The real plugin's known divergences are kept: a variant's own bug is
 * never among them.
 */
public abstract class DecoratedPlugin implements ArchPlugin {

  /** What an intercepted call does when it goes on. */
  @FunctionalInterface
  protected interface KvmCall {
    /** Runs the call on the real object. */
    Object proceed() throws Throwable;
  }

  protected final ArchPlugin real;
  private final Enum<?> breakage;

  /** {@code real} with {@code breakage}, named after it ({@code x86-variant}). */
  protected DecoratedPlugin(ArchPlugin real, Enum<?> breakage) {
    this.real = real;
    this.breakage = breakage;
  }

  @Override
  public String description() {
    return real.name() + " with " + breakage;
  }

  /**
   * The answer to {@code method(args)} on the plugin's view of {@code kvm}; {@code call} runs
   * it on the real one.
   */
  protected abstract Object intercept(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable;

  /**
   * The answer to the arch hook {@code method(args)} (a guest fault, a notifier callback);
   * {@code call} runs the real plugin's. By default the real plugin's.
   */
  protected Object interceptMmu(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    return call.proceed();
  }

  /** The real plugin's MMU over the decorated view of {@code kvm}, its hooks intercepted. */
  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    Kvm view = (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class},
        (proxy, method, args) -> intercept(kvm, method, args, () -> invoke(method, kvm, args)));
    ArchMmu mmu = real.createMmu(view, configuration);
    return (ArchMmu) Proxy.newProxyInstance(ArchMmu.class.getClassLoader(),
        new Class<?>[] {ArchMmu.class},
        (proxy, method, args) -> interceptMmu(kvm, method, args, () -> invoke(method, mmu, args)));
  }

  /**
   * What kernels before the 6.13 page-tracking overhaul did with {@code kvm_set_pfn_dirty}
   * where the variant calls it: the page of {@code gfn} looked up (a reference taken) and
   * released dirty, under mmu_lock held for read or with no lock at all.
   */
  protected static void setPageDirty(Kvm kvm, long gfn, boolean underMmuLock) {
    long page = kvm.gfnToPage(gfn, false);
    if (page == KvmPfn.NO_PAGE) {
      return;
    }
    if (!underMmuLock) {
      kvm.releasePageDirty(page);
      return;
    }
    kvm.mmuLock().readLock();
    try {
      kvm.releasePageDirty(page);
    } finally {
      kvm.mmuLock().readUnlock();
    }
  }

  /** Calls {@code method} on {@code target}, rethrowing what it throws. */
  protected static Object invoke(Method method, Object target, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  @Override
  public String name() {
    return real.name() + "-variant";
  }

  @Override
  public String version() {
    return real.version();
  }

  @Override
  public Set<ArchFeature> features() {
    return real.features();
  }

  @Override
  public List<KvmVersion> kvmVersions() {
    return real.kvmVersions();
  }

  @Override
  public List<KnownDivergence> knownDivergences(KvmVersion version) {
    return real.knownDivergences(version);
  }

  @Override
  public List<ImpossibleSituation> impossibleSituations() {
    return real.impossibleSituations();
  }

  @Override
  public List<ArchConfiguration> configurations() {
    return real.configurations();
  }

  @Override
  public MmuLockKind mmuLockKind() {
    return real.mmuLockKind();
  }

  @Override
  public DescriptorFormat descriptorFormat(ArchConfiguration configuration) {
    return real.descriptorFormat(configuration);
  }

  @Override
  public int memslotAddressSpaces() {
    return real.memslotAddressSpaces();
  }

  @Override
  public int internalMemslots() {
    return real.internalMemslots();
  }

  @Override
  public boolean readonlyMemory() {
    return real.readonlyMemory();
  }
}

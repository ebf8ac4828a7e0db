package org.kvmmodel.tests.doubles;

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
import org.kvmmodel.api.pt.DescriptorFormat;

/**
 * A real plugin with a bug put in from outside: everything is the real plugin's, except that
 * its MMU is built over a view of common KVM whose calls {@link #intercept} may answer
 * differently, so the plugin's own code stays unchanged. The real plugin's known divergences
 * are kept: a variant's own bug is never among them.
 */
public abstract class DecoratedPlugin implements ArchPlugin {

  /** What a call through the decorated view of common KVM does. */
  @FunctionalInterface
  protected interface KvmCall {
    /** Runs the call on the real {@link Kvm}. */
    Object proceed() throws Throwable;
  }

  protected final ArchPlugin real;
  private final String name;

  protected DecoratedPlugin(ArchPlugin real, String name) {
    this.real = real;
    this.name = name;
  }

  /**
   * The answer to {@code method(args)} on the plugin's view of {@code kvm}; {@code call} runs
   * it on the real one.
   */
  protected abstract Object intercept(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable;

  /** The real plugin's MMU over the decorated view of {@code kvm}. */
  @Override
  public ArchMmu createMmu(Kvm kvm, ArchConfiguration configuration) {
    Kvm view = (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class},
        (proxy, method, args) -> intercept(kvm, method, args, () -> invoke(method, kvm, args)));
    return real.createMmu(view, configuration);
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
    return name;
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

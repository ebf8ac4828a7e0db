package org.kvmmodel.tests.doubles;

import java.lang.reflect.Method;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.arch.x86.X86Plugin;

/**
 * The real x86 plugin as kernels before "KVM: x86/mmu: Retry fault before acquiring mmu_lock if
 * mapping is changing" behaved: {@code mmu_invalidate_retry_gfn_unsafe} always answers "no
 * retry", so a fault in a range under invalidation faults its pfn in and takes mmu_lock only to
 * find it must retry, and a zap that yields on contention yields to it (LIVENESS).
 */
public final class X86Variant extends DecoratedPlugin {

  public X86Variant() {
    super(new X86Plugin(), "x86-no-early-retry");
  }

  @Override
  public String description() {
    return "x86 without the retry check before faultin";
  }

  @Override
  protected Object intercept(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    return method.getName().equals("mmuInvalidateRetryGfnUnsafe") ? Boolean.FALSE : call.proceed();
  }
}

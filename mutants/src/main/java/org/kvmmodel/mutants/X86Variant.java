package org.kvmmodel.mutants;

import java.lang.reflect.Method;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.arch.x86.X86Plugin;

/**
 * The real x86 plugin with one bug of an older kernel put in from outside, through its view of
 * common KVM and its fault hook; the x86 code itself is unchanged.
 */
public final class X86Variant extends DecoratedPlugin {

  /** Deliberate bugs of the x86 variant, each of which one check must catch. */
  public enum X86Breakage {
    /**
     * Kernels before "KVM: x86/mmu: Retry fault before acquiring mmu_lock if mapping is
     * changing": {@code mmu_invalidate_retry_gfn_unsafe} always answers "no retry", so a fault
     * in a range under invalidation faults its pfn in and takes mmu_lock only to find it must
     * retry, and a zap that yields on contention yields to it (LIVENESS).
     */
    NO_EARLY_RETRY,
    /**
     * The hazard "KVM: x86/mmu: Mark folio dirty when creating SPTE, not when zapping/modifying"
     * names: the folio dirtied where an SPTE is made writable outside the notifier-protected
     * window, here after {@code fast_page_fault} restores write access with no mmu_lock, by a
     * {@code kvm_set_pfn_dirty} of the gfn's page (DIRTY-PROTECTED).
     */
    FAST_PATH_DIRTIES_FOLIO,
    /**
     * Kernels before "KVM: x86/mmu: Don't advance iterator after restart due to yielding": a
     * range walk that yields mmu_lock restarts at the root and then steps past the root entry
     * it yielded in, so the rest of that entry's range is never visited and a zap leaves its
     * leaves mapped (NO-STALE-MAPPING).
     */
    ITERATOR_ADVANCES_AFTER_RESTART
  }

  private final X86Breakage breakage;
  /** On the faulting thread: the gfn the fast path made writable during this fault, or -1. */
  private final ThreadLocal<long[]> fastWritable = ThreadLocal.withInitial(() -> new long[] {-1});

  public X86Variant(X86Breakage breakage) {
    super(new X86Plugin(), breakage);
    this.breakage = breakage;
  }

  @Override
  protected Object interceptMmu(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    if (breakage != X86Breakage.FAST_PATH_DIRTIES_FOLIO
        || !method.getName().equals("handleGuestFault")) {
      return call.proceed();
    }
    long[] made = fastWritable.get();
    made[0] = -1;
    Object ret = call.proceed();
    if (made[0] >= 0) {
      setPageDirty(kvm, made[0], false);
      made[0] = -1;
    }
    return ret;
  }

  @Override
  protected Object intercept(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    if (breakage == X86Breakage.ITERATOR_ADVANCES_AFTER_RESTART
        && method.getName().equals("pageTables")) {
      PageTableEnvironment env = (PageTableEnvironment) call.proceed();
      return new PageTableEnvironment(env.allocator(), env.deferredFree(), env.observer(),
          env.raceHook(), (gfn, rootPages) -> (gfn & -rootPages) + rootPages);
    }
    if (breakage == X86Breakage.NO_EARLY_RETRY
        && method.getName().equals("mmuInvalidateRetryGfnUnsafe")) {
      return Boolean.FALSE;
    }
    if (breakage == X86Breakage.FAST_PATH_DIRTIES_FOLIO
        && method.getName().equals("markPageDirtyInSlot") && !kvm.mmuLock().isHeld()) {
      fastWritable.get()[0] = (Long) args[1];
    }
    return call.proceed();
  }
}

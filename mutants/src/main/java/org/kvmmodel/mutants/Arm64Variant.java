package org.kvmmodel.mutants;

import java.lang.reflect.Method;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.DeferredFree;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.arch.arm64.Arm64Plugin;

/**
 * The real arm64 plugin with one deliberate bug, put in from outside: its MMU is built over a
 * decorated view of common KVM, and its abort handler is wrapped, so the arm64 code itself is
 * unchanged. The correct variant ({@link Arm64Breakage#NONE}) adds nothing.
 */
public final class Arm64Variant extends DecoratedPlugin {

  /** {@code ESR_ELx_FSC_TYPE} and the two fault types the variants single out. */
  private static final int FSC_TYPE = 0x3c;
  private static final int FSC_ACCESS = 0x08;
  private static final int FSC_PERM = 0x0c;
  private static final int PMD_SHIFT = 21;
  private static final int IN_FAULT = 0;
  private static final int PERMISSION = 1;

  /** Deliberate bugs of the arm64 variant, each of which one check must catch. */
  public enum Arm64Breakage {
    /** The real plugin. */
    NONE,
    /**
     * A permission fault that relaxes the leaf without {@code mmu_invalidate_retry}: the retry
     * check is answered "no retry" without asking common KVM (DIRTY-PROTECTED).
     */
    PERMISSION_FAULT_SKIPS_RETRY,
    /**
     * An access-flag fault that, like kernels before "Don't mark "struct page" accessed when
     * making SPTE young", also touches the folio: it looks the page up and releases it dirty
     * under mmu_lock (DIRTY-PROTECTED).
     */
    ACCESS_FAULT_RELEASES_DIRTY,
    /**
     * {@code user_mem_abort} without {@code fault_supports_stage2_huge_mapping}'s slot bound:
     * the abort handler sees every memslot 2 MiB longer than it is (PERMISSIONS).
     */
    BLOCK_CROSSES_MEMSLOT,
    /**
     * {@code transparent_hugepage_adjust} trusting a stale host mapping size: the host is
     * reported to map every hva with a PMD (PERMISSIONS).
     */
    BLOCK_OVER_HOST_PAGES,
    /**
     * {@code user_mem_abort} blind to {@code memslot_is_logging}: the abort handler sees every
     * memslot without {@code KVM_MEM_LOG_DIRTY_PAGES}, so it maps and relaxes blocks while the
     * slot logs (PERMISSIONS).
     */
    BLOCK_WHILE_LOGGING,
    /**
     * {@code kvm_vm_ioctl_mte_copy_tags} before "KVM: arm64: Release pfn, i.e. put page, if
     * copying MTE tags hits ZONE_DEVICE": refusing ZONE_DEVICE memory returns -EFAULT without
     * dropping the page's reference; the unused release, which arm64 does nowhere else, is
     * swallowed (REFCOUNT-BALANCED).
     */
    MTE_ZONE_DEVICE_KEEPS_REFERENCE,
    /**
     * The abort handler's break-before-make without its TLB invalidation, as when merging a
     * table back into a block first skipped it ("KVM: arm64: Fix handling of merging tables
     * into a block entry"): every remote TLB flush asked for inside {@code user_mem_abort} is
     * dropped (TLB-COHERENT).
     */
    FAULT_BREAKS_WITHOUT_TLBI,
    /**
     * {@code user_mem_abort} before "KVM: arm/arm64: Fix handling of stage2 huge mappings": a
     * block written where dirty logging left a table, with neither the TLB invalidation nor the
     * free of the table it replaces (the table is leaked), as if the range held nothing
     * (TLB-COHERENT, REFCOUNT-BALANCED).
     */
    BLOCK_OVER_LIVE_TABLE,
    /**
     * {@code kvm_tlb_flush_vmid_range} with an off-by-one in its range operand: every ranged
     * invalidation stops one page short of the range it was asked for, so a single page's is
     * no invalidation at all (TLB-COHERENT).
     */
    RANGED_TLBI_DROPS_LAST_PAGE
  }

  private final Arm64Breakage breakage;
  /** On the faulting thread: whether a fault is being handled, and whether it is a permission one. */
  private final ThreadLocal<boolean[]> fault = ThreadLocal.withInitial(() -> new boolean[2]);

  public Arm64Variant(Arm64Breakage breakage) {
    super(new Arm64Plugin(), breakage);
    this.breakage = breakage;
  }

  @Override
  protected Object interceptMmu(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    if (breakage == Arm64Breakage.NONE || !method.getName().equals("handleGuestFault")) {
      return call.proceed();
    }
    int type = ((Stage2Walk) args[1]).faultKind() & FSC_TYPE;
    boolean[] state = fault.get();
    state[PERMISSION] = type == FSC_PERM;
    state[IN_FAULT] = true;
    Object ret;
    try {
      ret = call.proceed();
    } finally {
      state[IN_FAULT] = false;
    }
    if (breakage == Arm64Breakage.ACCESS_FAULT_RELEASES_DIRTY && type == FSC_ACCESS) {
      setPageDirty(kvm, ((Stage2Walk) args[1]).gfn(kvm.pageShift()), true);
    }
    return ret;
  }

  @Override
  protected Object intercept(Kvm kvm, Method method, Object[] args, KvmCall call)
      throws Throwable {
    boolean[] state = fault.get();
    boolean overTable = breakage == Arm64Breakage.FAULT_BREAKS_WITHOUT_TLBI
        || breakage == Arm64Breakage.BLOCK_OVER_LIVE_TABLE;
    if (overTable && state[IN_FAULT] && method.getName().startsWith("flushRemoteTlbs")) {
      return null;
    }
    if (breakage == Arm64Breakage.RANGED_TLBI_DROPS_LAST_PAGE
        && method.getName().equals("flushRemoteTlbsRange")) {
      args[1] = (Long) args[1] - 1;
    }
    if (breakage == Arm64Breakage.BLOCK_OVER_LIVE_TABLE && method.getName().equals("pageTables")) {
      PageTableEnvironment env = (PageTableEnvironment) call.proceed();
      DeferredFree free = env.deferredFree();
      return new PageTableEnvironment(env.allocator(), page -> {
        if (!fault.get()[IN_FAULT]) {
          free.deferFree(page);
        }
      }, env.observer(), env.raceHook());
    }
    if (breakage == Arm64Breakage.PERMISSION_FAULT_SKIPS_RETRY && state[PERMISSION]
        && method.getName().equals("mmuInvalidateRetry")) {
      return false;
    }
    if (breakage == Arm64Breakage.BLOCK_OVER_HOST_PAGES
        && method.getName().equals("hostMappingShift")) {
      return PMD_SHIFT;
    }
    if (breakage == Arm64Breakage.MTE_ZONE_DEVICE_KEEPS_REFERENCE
        && method.getName().equals("releasePageUnused")) {
      return null;
    }
    Object ret = call.proceed();
    if (breakage == Arm64Breakage.BLOCK_WHILE_LOGGING
        && method.getName().equals("gfnToMemslot") && ret != null) {
      MemorySlot s = (MemorySlot) ret;
      return s.withFlags(s.flags() & ~MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    }
    if (breakage == Arm64Breakage.BLOCK_CROSSES_MEMSLOT
        && method.getName().equals("gfnToMemslot") && ret != null) {
      MemorySlot s = (MemorySlot) ret;
      return new MemorySlot(s.asId(), s.id(), s.baseGfn(), s.npages() + 512,
          s.userspaceAddr(), s.flags(), s.pageShift());
    }
    return ret;
  }
}

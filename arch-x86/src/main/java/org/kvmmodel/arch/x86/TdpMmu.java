package org.kvmmodel.arch.x86;

import java.util.Arrays;
import java.util.function.LongPredicate;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.RetPf;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The x86 TDP MMU's hooks for common KVM ({@code arch/x86/kvm/mmu/mmu.c},
 * {@code tdp_mmu.c}, {@code arch/x86/kvm/x86.c}) over one EPT root: unmapping and aging for
 * mmu_notifier callbacks, memslot preparation and commit (write-protecting a slot when dirty
 * logging is enabled), and the masked re-protection of dirty-log harvests. Common code holds
 * mmu_lock for write around the notifier and harvest hooks; enabling logging takes it for read,
 * as {@code kvm_mmu_slot_remove_write_access} does for TDP roots.
 *
 * <p>It also gives the vCPUs their EPT walker ({@link EptWalker}) and handles the exits it
 * reports: {@link #handleGuestFault} is {@code kvm_mmu_page_fault} after an EPT violation,
 * going through {@code kvm_tdp_mmu_page_fault}: the lockless {@link #fastPageFault}, then the
 * slow path (top up the MMU caches, fault the pfn in, take mmu_lock for read, check for a
 * stale fault, map, release the page, unlock). The slow path maps 4 KiB pages only and keeps
 * one root: huge mappings ({@code kvm_mmu_hugepage_adjust}) and root management (obsolete or
 * invalidated roots, the SMM and mirror roots) are not modelled yet. There is no shadow paging,
 * so no gfn is write-tracked and {@code page_fault_handle_page_track} never applies.
 *
 * <p>{@code handleGuestFault(id, ...)} is called by vCPU {@code id} from its own thread; its
 * state (a reusable {@code struct kvm_page_fault}, cursor and faultin result) is created on that
 * vCPU's first fault, so later faults allocate nothing.
 */
final class TdpMmu implements ArchMmu {

  /** {@code RET_PF_*} values as this class returns them; negative values are -errno. */
  private static final int RET_PF_CONTINUE = RetPf.CONTINUE.ordinal();
  private static final int RET_PF_RETRY = RetPf.RETRY.ordinal();
  private static final int RET_PF_EMULATE = RetPf.EMULATE.ordinal();
  private static final int RET_PF_INVALID = RetPf.INVALID.ordinal();
  private static final int RET_PF_FIXED = RetPf.FIXED.ordinal();
  private static final int RET_PF_SPURIOUS = RetPf.SPURIOUS.ordinal();
  private static final RetPf[] RET_PF = RetPf.values();

  /** How often the fast path retries a lost {@code cmpxchg} before giving up, as the kernel. */
  private static final int FAST_PF_MAX_RETRIES = 4;

  private final Kvm kvm;
  private final EptPageTableFormat format;
  private final RadixMmuOps ops;
  private final long maxGfn;
  private final boolean adEnabled;
  private volatile PageFault[] vcpus = new PageFault[0];

  TdpMmu(Kvm kvm, EptPageTableFormat format) {
    this.kvm = kvm;
    this.format = format;
    this.ops = new RadixMmuOps(kvm, RadixPageTable.create(format, kvm.pageTables()));
    this.maxGfn = (1L << (Math.min(format.geometry().addressBits(), 52) - 12)) - 1;
    this.adEnabled = format.encoder().adEnabled();
  }

  /** The EPT root this MMU maintains. */
  RadixPageTable root() {
    return ops.table();
  }

  EptPageTableFormat format() {
    return format;
  }

  /** {@code kvm_unmap_gfn_range} → {@code kvm_tdp_mmu_unmap_gfn_range}: zap leaves. */
  @Override
  public boolean unmapGfnRange(GfnRange range) {
    kvm.mmuLock().assertHeldExclusive("kvm_unmap_gfn_range");
    return ops.unmap(range);
  }

  /** {@code kvm_age_gfn} → {@code kvm_tdp_mmu_age_gfn_range}. */
  @Override
  public boolean ageGfn(GfnRange range) {
    return ops.age(range);
  }

  /** {@code kvm_test_age_gfn} → {@code kvm_tdp_mmu_test_age_gfn}. */
  @Override
  public boolean testAgeGfn(GfnRange range) {
    return ops.testAge(range);
  }

  /**
   * {@code kvm_arch_prepare_memory_region}: a slot beyond {@code kvm_mmu_max_gfn} is -EINVAL;
   * the model keeps no per-slot metadata that could fail to allocate.
   */
  @Override
  public int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if ((change == MemoryChange.CREATE || change == MemoryChange.MOVE)
        && updated.baseGfn() + updated.npages() - 1 > maxGfn) {
      return Errno.EINVAL.negative();
    }
    return 0;
  }

  /**
   * {@code kvm_mmu_slot_apply_flags}: when a FLAGS_ONLY change turns dirty logging on (and the
   * bitmap is not initially all set), write-protect the whole slot and flush.
   */
  @Override
  public void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change != MemoryChange.FLAGS_ONLY || updated.isReadonly()) {
      return;
    }
    boolean enabling = updated.dirtyLogEnabled() && !old.dirtyLogEnabled();
    if (!enabling || kvm.dirtyLogManualProtectAndInitSet()) {
      return;
    }
    kvm.mmuLock().readLock();
    try {
      ops.writeProtectSlot(updated);
    } finally {
      kvm.mmuLock().readUnlock();
    }
    kvm.flushRemoteTlbsRange(updated.baseGfn(), updated.npages());
  }

  /**
   * {@code kvm_arch_flush_shadow_memslot} with {@code KVM_X86_QUIRK_SLOT_ZAP_ALL} disabled
   * ({@code kvm_mmu_zap_memslot_leafs}): under the write lock, {@code kvm_unmap_gfn_range} zaps
   * the slot's leaves with {@code may_block} (plain stores, the flush batched and issued before
   * each yield), and only if a zap is left unflushed does {@code kvm_flush_remote_tlbs_memslot}
   * flush the slot's range. The quirk's default, zapping every root by invalidating it, needs
   * multiple roots.
   */
  @Override
  public void flushShadowMemslot(MemorySlot slot) {
    kvm.mmuLock().lock();
    try {
      if (ops.unmap(new GfnRange(slot, slot.baseGfn(), slot.endGfn(), true))) {
        kvm.flushRemoteTlbsRange(slot.baseGfn(), slot.npages());
      }
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_flush_shadow_all} → {@code kvm_mmu_zap_all} → {@code kvm_tdp_mmu_zap_all}:
   * every root zapped under the write lock with no TLB flush, because KVM zaps everything only
   * once the VMM has exited or the VM is being destroyed, when {@code KVM_RUN} can no longer be
   * reached.
   */
  @Override
  public void flushShadowAll() {
    kvm.mmuLock().lock();
    try {
      ops.zapAllExclusive();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_mmu_enable_log_dirty_pt_masked} without PML:
   * {@code kvm_mmu_write_protect_pt_masked} clears Writable (keeping MMU-writable, so the fast
   * path can restore it and log the gfn). The caller flushes after dropping mmu_lock.
   */
  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    kvm.mmuLock().assertHeldExclusive("kvm_arch_mmu_enable_log_dirty_pt_masked");
    ops.writeProtectMasked(slot, gfnOffset, mask);
  }

  // ---------------------------------------------------------------- hardware walker

  /**
   * A new EPT walker with its own cursor, for one vCPU; with A/D bits enabled it sets
   * Accessed and Dirty as the CPU does.
   */
  @Override
  public Stage2Walker walker() {
    return new EptWalker(root(), adEnabled);
  }

  // ---------------------------------------------------------------- guest faults

  /** {@code kvm_tdp_mmu_page_fault}, which faults the pfn in and finishes with its release. */
  @Override
  public String guestFaultFunction() {
    return "kvm_tdp_mmu_page_fault";
  }

  /**
   * {@code handle_ept_violation} / {@code handle_ept_misconfig} → {@code kvm_mmu_page_fault}
   * → {@code kvm_mmu_do_page_fault}: fill the vCPU's {@code struct kvm_page_fault} from the
   * exit (gfn, write, exec, present, and the memslot of the gfn in address space 0) and run
   * {@link #kvmTdpMmuPageFault}. Returns 0 when the guest re-executes the access (fixed,
   * spurious or to be retried), {@link KvmExit#MMIO} when the access is to be emulated, and a
   * negative errno for an exit with an error.
   *
   * <p>{@code RET_PF_EMULATE} (an access with no memslot, or a write to a read-only one) sends
   * {@code kvm_mmu_page_fault} to {@code x86_emulate_instruction}. The model does not run the
   * emulator: the access it would emulate reaches no memory KVM may touch and no in-kernel
   * device on the MMIO bus, so the emulator ends {@code KVM_RUN} with {@code KVM_EXIT_MMIO}
   * for userspace to complete, and that exit is what is returned. A locked read-modify-write
   * ends the same way: {@code emulator_cmpxchg_emulated} finds no writable hva for the gfn and
   * falls back to an emulated (MMIO) write.
   *
   * <p>An EPT misconfiguration means an MMIO SPTE; the model never installs one (it runs as
   * KVM does with MMIO caching disabled, see {@link #kvmHandleNoslotFault}), so one planted by
   * hand is an -EFAULT exit.
   *
   * @throws IllegalArgumentException when {@code walk} translated, or for a negative id
   */
  @Override
  public int handleGuestFault(int vcpuId, Stage2Walk walk) {
    if (walk.translated()) {
      throw new IllegalArgumentException("the walk translated; there is no fault to handle");
    }
    PageFault fault = vcpu(vcpuId);
    int r;
    if (walk.faultKind() == EptWalker.EPT_MISCONFIG) {
      r = Errno.EFAULT.negative();
    } else {
      fault.begin(walk, kvm.gfnToMemslot(0, walk.gfn(EptPageTableFormat.PAGE_SHIFT)));
      r = kvmTdpMmuPageFault(fault);
    }
    fault.outcome = r < 0 ? null : RET_PF[r];
    if (r < 0) {
      return r;
    }
    return r == RET_PF_EMULATE ? KvmExit.MMIO : 0;
  }

  /**
   * The {@code RET_PF_*} outcome of vCPU {@code vcpuId}'s last fault, or null when it exited
   * with an errno or has not faulted; for tracing and tests.
   */
  RetPf lastOutcome(int vcpuId) {
    PageFault[] v = vcpus;
    return vcpuId < v.length && v[vcpuId] != null ? v[vcpuId].outcome : null;
  }

  /**
   * {@code kvm_tdp_mmu_page_fault}: the fast path; if it cannot help, top up the caches, fault
   * the pfn in, and under mmu_lock held for read check staleness, map, and finish (release the
   * page) before unlocking.
   */
  private int kvmTdpMmuPageFault(PageFault fault) {
    int r = fastPageFault(fault);
    if (r != RET_PF_INVALID) {
      return r;
    }
    r = mmuTopupMemoryCaches();
    if (r != 0) {
      return r;
    }
    r = kvmMmuFaultinPfn(fault);
    if (r != RET_PF_CONTINUE) {
      return r;
    }
    r = RET_PF_RETRY;
    kvm.mmuLock().readLock();
    try {
      if (!isPageFaultStale(fault)) {
        r = kvmTdpMmuMap(fault);
      }
      kvmMmuFinishPageFault(fault, r);
    } finally {
      kvm.mmuLock().readUnlock();
    }
    return r;
  }

  /**
   * {@code page_fault_can_be_fast}: a fault on a non-present entry only when KVM runs without
   * A/D bits (it may be access tracking); on a present one only for a write (write
   * protection, e.g. for dirty logging). Reserved-bit (MMIO) faults never get here.
   */
  private boolean pageFaultCanBeFast(PageFault fault) {
    if (!fault.present) {
      return !adEnabled;
    }
    return fault.write;
  }

  /**
   * {@code is_access_allowed}: whether {@code spte} already permits the faulting access:
   * execute needs X, write needs W, read needs R.
   */
  private static boolean isAccessAllowed(PageFault fault, long spte) {
    if (fault.exec) {
      return (spte & Spte.EXECUTABLE) != 0;
    }
    if (fault.write) {
      return Spte.isWritablePte(spte);
    }
    return (spte & Spte.READABLE) != 0;
  }

  /**
   * {@code fast_page_fault}: fix an SPTE without mmu_lock, under RCU only. It may restore an
   * access-tracked SPTE ({@code restore_acc_track_spte}, setting Accessed again) and set
   * Writable on an MMU-writable one, installing the result with one {@code cmpxchg} and retrying
   * a lost one a few times. It never creates an SPTE, changes a pfn or touches a folio; a
   * read-only to writable change is logged in the dirty bitmap only. Returns
   * {@code RET_PF_FIXED}, {@code RET_PF_SPURIOUS} (the access is already allowed: a stale TLB
   * entry, or another vCPU fixed it) or {@code RET_PF_INVALID} (take the slow path).
   */
  private int fastPageFault(PageFault fault) {
    if (!pageFaultCanBeFast(fault)) {
      return RET_PF_INVALID;
    }
    PageTableCursor cursor = fault.cursor;
    int ret = RET_PF_INVALID;
    int retries = 0;
    int idx = kvm.rcuReadLock();
    try {
      for (; ; ) {
        if (!cursor.walkLockless(fault.gfn)) {
          break;
        }
        long spte = cursor.entry();
        if (isAccessAllowed(fault, spte)) {
          ret = RET_PF_SPURIOUS;
          break;
        }
        long newSpte = spte;
        if (!adEnabled && Spte.isAccessTrackSpte(spte)) {
          newSpte = Spte.restoreAccTrackSpte(newSpte) | Spte.ACCESSED;
        }
        if (fault.write && Spte.isMmuWritableSpte(spte)) {
          newSpte |= Spte.WRITABLE;
          if (cursor.level() > 1 && fault.slot != null && fault.slot.dirtyLogEnabled()) {
            break;
          }
        }
        if (newSpte == spte || !isAccessAllowed(fault, newSpte)) {
          break;
        }
        if (fastPfFixDirectSpte(fault, cursor, spte, newSpte)) {
          ret = RET_PF_FIXED;
          break;
        }
        if (++retries > FAST_PF_MAX_RETRIES) {
          break;
        }
      }
    } finally {
      kvm.rcuReadUnlock(idx);
    }
    return ret;
  }

  /**
   * {@code fast_pf_fix_direct_spte}: the single {@code cmpxchg}; on success a read-only to
   * writable change marks the gfn in the dirty log ({@code mark_page_dirty_in_slot}), never the
   * folio, which the fast path may not touch outside mmu_notifier protection.
   */
  private boolean fastPfFixDirectSpte(
      PageFault fault, PageTableCursor cursor, long oldSpte, long newSpte) {
    if (!cursor.tryUpdateWalkedLeaf(oldSpte, newSpte)) {
      return false;
    }
    if (Spte.isWritablePte(newSpte) && !Spte.isWritablePte(oldSpte)) {
      kvm.markPageDirtyInSlot(fault.slot, fault.gfn);
    }
    return true;
  }

  /**
   * {@code mmu_topup_memory_caches}: fill the vCPU's page-table cache before taking mmu_lock,
   * enough for every table a 4 KiB mapping can need; 0 or -ENOMEM.
   */
  private int mmuTopupMemoryCaches() {
    return kvm.mmuTopupMemoryCache(format.geometry().levels());
  }

  /**
   * {@code kvm_mmu_faultin_pfn}: snapshot {@code mmu_invalidate_seq}; no memslot is
   * {@link #kvmHandleNoslotFault}; a slot being deleted or moved retries; the lockless range
   * pre-check retries before GUP; then {@link #kvmMmuFaultinPfnNowait}, error pfns, a no-slot
   * pfn (the kernel warns: the slot went away under faultin) handled as no slot, and the
   * pre-check again, releasing the page unused when it fires. Returns {@code RET_PF_CONTINUE}
   * with {@code fault.pfn} and the page set, {@code RET_PF_RETRY}, {@code RET_PF_EMULATE}, or a
   * negative errno.
   */
  private int kvmMmuFaultinPfn(PageFault fault) {
    fault.mmuSeq = kvm.mmuInvalidateSeq();
    MemorySlot slot = fault.slot;
    if (slot == null) {
      return kvmHandleNoslotFault(fault);
    }
    if (slot.isInvalid()) {
      return RET_PF_RETRY;
    }
    if (kvm.mmuInvalidateRetryGfnUnsafe(fault.mmuSeq, fault.gfn)) {
      return RET_PF_RETRY;
    }
    kvmMmuFaultinPfnNowait(fault);
    if (KvmPfn.isError(fault.pfn)) {
      return kvmHandleErrorPfn(fault);
    }
    if (KvmPfn.isNoslot(fault.pfn)) {
      return kvmHandleNoslotFault(fault);
    }
    if (kvm.mmuInvalidateRetryGfnUnsafe(fault.mmuSeq, fault.gfn)) {
      kvmMmuFinishPageFault(fault, RET_PF_RETRY);
      return RET_PF_RETRY;
    }
    return RET_PF_CONTINUE;
  }

  /**
   * {@code kvm_handle_noslot_fault} for a shared (not private) fault, as KVM runs with MMIO
   * caching disabled ({@code enable_mmio_caching} off): the access is emulated at once
   * ({@code RET_PF_EMULATE}) without touching the page tables. With caching on the kernel
   * would first install an MMIO SPTE tagged with the memslot generation, so later accesses
   * take an EPT misconfiguration and skip the fault path while the generation still matches;
   * the exit to userspace is the same, and without the SPTE there is no generation to check.
   */
  private static int kvmHandleNoslotFault(PageFault fault) {
    fault.pfn = KvmPfn.NOSLOT;
    return RET_PF_EMULATE;
  }

  /**
   * {@code __kvm_mmu_faultin_pfn} for shared memory: {@code __kvm_faultin_pfn} with
   * {@code FOLL_NOWAIT} (and {@code FOLL_WRITE} for a write); if the page needs I/O, ask again
   * allowing the wait, interruptibly. The model has no async page faults, so there is no
   * {@code kvm_arch_setup_async_pf} in between.
   */
  private void kvmMmuFaultinPfnNowait(PageFault fault) {
    int foll = (fault.write ? Foll.WRITE : 0) | Foll.NOWAIT;
    fault.pfn = kvm.faultinPfn(fault.slot, fault.gfn, foll, fault.faultin);
    if (fault.pfn != KvmPfn.ERR_NEEDS_IO) {
      return;
    }
    foll = (foll | Foll.INTERRUPTIBLE) & ~Foll.NOWAIT;
    fault.pfn = kvm.faultinPfn(fault.slot, fault.gfn, foll, fault.faultin);
  }

  /**
   * {@code kvm_handle_error_pfn}: a pending signal is an -EINTR exit; a write to read-only
   * memory ({@code KVM_PFN_ERR_RO_FAULT}) is emulated ({@code RET_PF_EMULATE}), with nothing
   * cached in the tables so that reads of the gfn still map it; a poisoned page, for which the
   * kernel queues SIGBUS and retries, exits with -EHWPOISON; any other error is -EFAULT.
   */
  private static int kvmHandleErrorPfn(PageFault fault) {
    if (fault.pfn == KvmPfn.ERR_SIGPENDING) {
      return Errno.EINTR.negative();
    }
    if (fault.pfn == KvmPfn.ERR_RO_FAULT) {
      return RET_PF_EMULATE;
    }
    if (fault.pfn == KvmPfn.ERR_HWPOISON) {
      return Errno.EHWPOISON.negative();
    }
    return Errno.EFAULT.negative();
  }

  /**
   * {@code is_page_fault_stale}, under mmu_lock: with one root that is never obsoleted, only
   * the gfn-ranged {@code mmu_invalidate_retry_gfn} check remains.
   */
  private boolean isPageFaultStale(PageFault fault) {
    return kvm.mmuInvalidateRetryGfn(fault.mmuSeq, fault.gfn);
  }

  /**
   * {@code kvm_tdp_mmu_map} at 4 KiB, under RCU and mmu_lock held for read: walk down linking
   * missing tables and install the leaf from {@link #makeSpte}, every step a {@code cmpxchg};
   * a lost one retries the fault ({@code tdp_mmu_map_handle_target_level}). A present leaf that
   * already allows the access (another vCPU fixed it first), or the same SPTE, is spurious and
   * stays as it is, Accessed and Dirty included. A writable leaf in a dirty-logged slot marks the
   * gfn in the dirty log, as {@code make_spte} does, except where the existing leaf already
   * allowed the access: {@code tdp_mmu_map_handle_target_level} returns spurious for that before
   * it calls {@code make_spte}, so such a fault (a read racing a harvest that write-protected the
   * leaf) logs nothing. An empty page-table cache, which the kernel's
   * allocation never reports, is -ENOMEM.
   */
  private int kvmTdpMmuMap(PageFault fault) {
    long spte = makeSpte(fault);
    fault.keptAllowedLeaf = false;
    int idx = kvm.rcuReadLock();
    int r;
    try {
      switch (fault.cursor.map(fault.gfn, 1, spte, fault)) {
        case CHANGED:
          r = RET_PF_FIXED;
          break;
        case UNCHANGED:
          r = RET_PF_SPURIOUS;
          break;
        case RETRY:
          return RET_PF_RETRY;
        default:
          return Errno.ENOMEM.negative();
      }
    } finally {
      kvm.rcuReadUnlock(idx);
    }
    if (!fault.keptAllowedLeaf && Spte.isWritablePte(spte) && fault.slot.dirtyLogEnabled()) {
      kvm.markPageDirtyInSlot(fault.slot, fault.gfn);
    }
    return r;
  }

  /**
   * {@code make_spte} for the fault: all access rights, not a prefetch, host-writable as the
   * primary MMU gave it ({@code map_writable}), so even a read fault on a host-writable page
   * gets a writable SPTE. Memory without a refcounted page is treated as host MMIO for the
   * memory type ({@code kvm_is_mmio_pfn}); the rest is write-back with guest PAT ignored.
   */
  private long makeSpte(PageFault fault) {
    FaultinResult faultin = fault.faultin;
    boolean hostMmio = faultin.refcountedPage() == KvmPfn.NO_PAGE;
    return format
        .encoder()
        .makeSpte(
            1,
            fault.pfn,
            Spte.ACC_ALL,
            false,
            faultin.writable(),
            Spte.vmxGetMtMask(hostMmio, true));
  }

  /**
   * {@code kvm_mmu_finish_page_fault} → {@code kvm_release_faultin_page}: release the page as
   * unused when the fault is retried (or, here, ran out of table pages: nothing was
   * installed), otherwise accessed and, whenever the primary MMU gave a writable pfn, dirty,
   * whatever SPTE was installed, since the fast path may later make it writable.
   */
  private void kvmMmuFinishPageFault(PageFault fault, int r) {
    boolean unused = r == RET_PF_RETRY || r == Errno.ENOMEM.negative();
    kvm.releaseFaultinPage(fault.faultin.refcountedPage(), unused, fault.faultin.writable());
  }

  private PageFault vcpu(int id) {
    PageFault[] v = vcpus;
    if (id >= 0 && id < v.length && v[id] != null) {
      return v[id];
    }
    return addVcpu(id);
  }

  private synchronized PageFault addVcpu(int id) {
    if (id < 0) {
      throw new IllegalArgumentException("vCPU id " + id);
    }
    PageFault[] v = vcpus;
    if (id >= v.length) {
      v = Arrays.copyOf(v, Math.max(id + 1, 2 * v.length));
    }
    if (v[id] == null) {
      v[id] = new PageFault(ops.newCursor());
    }
    vcpus = v;
    return v[id];
  }

  /**
   * One vCPU's {@code struct kvm_page_fault}, reused for each of its faults, with the cursor
   * and the faultin out-parameters its faults use.
   */
  private static final class PageFault implements LongPredicate {
    final PageTableCursor cursor;
    final FaultinResult faultin = new FaultinResult();
    long gfn;
    boolean write;
    boolean exec;
    boolean present;
    MemorySlot slot;
    long pfn;
    long mmuSeq;
    RetPf outcome;
    /** Whether the map found a present leaf that already allows the access, and kept it. */
    boolean keptAllowedLeaf;

    PageFault(PageTableCursor cursor) {
      this.cursor = cursor;
    }

    /** Whether the present leaf {@code spte} already allows this fault's access. */
    @Override
    public boolean test(long spte) {
      keptAllowedLeaf = isAccessAllowed(this, spte);
      return keptAllowedLeaf;
    }

    /** {@code kvm_mmu_do_page_fault}'s initialisation from the exit. */
    void begin(Stage2Walk walk, MemorySlot memslot) {
      gfn = walk.gfn(EptPageTableFormat.PAGE_SHIFT);
      write = walk.isWrite();
      exec = walk.isExec();
      present = walk.entryPresent();
      slot = memslot;
      pfn = KvmPfn.NOSLOT;
      mmuSeq = 0;
    }
  }
}

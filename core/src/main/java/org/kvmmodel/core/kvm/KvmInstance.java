package org.kvmmodel.core.kvm;

import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.HostVma;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.sched.Rcu;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.sched.Srcu;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.KvmCallSite;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * One VM's {@code struct kvm}: the common KVM state and services of {@code virt/kvm/}, wired to
 * the arch's MMU hooks and to the VMM process whose memory backs the memslots.
 */
public final class KvmInstance implements Kvm {

  /** What a VM is built from. */
  public record Spec(
      KvmVersion version,
      MmuLockKind lockKind,
      MemslotLimits limits,
      DirtyLogMode dirtyLogMode,
      boolean elideFlushIfYoung,
      boolean rangedRemoteTlbFlush) {}

  private final KvmVersion version;
  private final Scheduler scheduler;
  private final KvmMmuLock mmuLock;
  private final MmuInvalidate invalidate;
  private final MnActiveInvalidations mnActive;
  private final Srcu srcu;
  private final KvmMemslots memslots;
  private final FollowPfn followPfn;
  private final PageRelease pageRelease;
  private final Rcu rcu;
  private final VmPageTables pageTables;
  private final LongAdder remoteTlbFlushes = new LongAdder();
  private final boolean rangedRemoteTlbFlush;
  private final EventLog log;
  private final GuestWrites guestWrites;
  private final List<VcpuRequestTarget> vcpus = new CopyOnWriteArrayList<>();
  private final List<VcpuRequestTarget> vcpusView = Collections.unmodifiableList(vcpus);
  private final GfnToPfnCaches pfnCaches;
  private final KvmGuestWrite guestWrite;
  private final UserCopy userCopy;
  private ArchMmu arch;
  private MmuNotifierAdapter mmuNotifier;
  private VmList vmList;
  private int id;
  private SetMemoryRegion setMemoryRegion;
  private DirtyLog dirtyLog;
  private KvmMmuNotifier notifier;
  private KvmCallSites callSites;

  private KvmInstance(
      Spec spec, MmStruct vmm, Scheduler scheduler, FaultInjector inject, EventLog log) {
    this.log = log;
    this.version = spec.version();
    this.rangedRemoteTlbFlush = spec.rangedRemoteTlbFlush();
    this.scheduler = scheduler;
    this.mmuLock = new KvmMmuLock(spec.lockKind(), scheduler, log);
    this.invalidate = new MmuInvalidate(mmuLock, scheduler);
    this.mnActive = new MnActiveInvalidations(scheduler);
    this.srcu = new Srcu(scheduler, log);
    this.memslots = new KvmMemslots(spec.limits().addressSpaces(), srcu, mnActive);
    this.followPfn = new FollowPfn(vmm, inject, scheduler, false, log);
    this.rcu = new Rcu(scheduler, log);
    this.pageTables =
        new VmPageTables(mmuLock, inject, scheduler, rcu, vmm.memory().ramPages(), log);
    this.pageRelease = new PageRelease(vmm.memory(), mmuLock, log);
    this.guestWrites = new GuestWrites(vmm.memory().structPageCount());
    this.pfnCaches = new GfnToPfnCaches(scheduler);
    this.guestWrite = new KvmGuestWrite(this, scheduler, this::markPageDirtyInSlot);
    this.userCopy = new UserCopy(vmm, scheduler, vmm.memory().pageShift());
  }

  /**
   * Creates the VM and its arch MMU ({@code kvm_create_vm} → {@code kvm_arch_init_vm}), then
   * registers KVM's mmu_notifier with the VMM's mm.
   */
  public static KvmInstance create(
      Spec spec,
      MmStruct vmm,
      Scheduler scheduler,
      FaultInjector inject,
      EventLog log,
      Function<Kvm, ArchMmu> archFactory) {
    return create(spec, vmm, scheduler, inject, log, archFactory, new VmList());
  }

  /** As above, on a host whose VMs {@code vmList} holds; the VM joins it last. */
  public static KvmInstance create(
      Spec spec,
      MmStruct vmm,
      Scheduler scheduler,
      FaultInjector inject,
      EventLog log,
      Function<Kvm, ArchMmu> archFactory,
      VmList vmList) {
    return create(
        spec, vmm, scheduler, inject, log, archFactory, vmList, caches -> caches::invalidateStart);
  }

  /**
   * As {@link #create(Spec, MmStruct, Scheduler, FaultInjector, EventLog, Function, VmList)},
   * with the pfn-cache step of {@code invalidate_range_start} made from the VM's cache list by
   * {@code pfnCacheInvalidation} (a conformance double replaces it to show the check catches it).
   */
  public static KvmInstance create(
      Spec spec,
      MmStruct vmm,
      Scheduler scheduler,
      FaultInjector inject,
      EventLog log,
      Function<Kvm, ArchMmu> archFactory,
      VmList vmList,
      Function<GfnToPfnCaches, KvmMmuNotifier.InvalidateStartListener> pfnCacheInvalidation) {
    KvmInstance kvm = new KvmInstance(spec, vmm, scheduler, inject, log);
    kvm.arch = archFactory.apply(kvm);
    kvm.setMemoryRegion =
        new SetMemoryRegion(
            kvm.memslots, spec.limits(), () -> kvm.dirtyLog.mode(), kvm.arch, gen -> {},
            scheduler.newLock("slots_lock"), log, kvm.pageShift());
    kvm.dirtyLog =
        new DirtyLog(
            kvm.memslots,
            kvm.mmuLock,
            kvm.arch,
            spec.dirtyLogMode(),
            kvm::flushRemoteTlbs,
            spec.limits().userMemSlots(),
            log,
            scheduler);
    kvm.notifier =
        new KvmMmuNotifier(
            kvm.memslots,
            kvm.mmuLock,
            kvm.invalidate,
            kvm.mnActive,
            kvm.arch,
            kvm::flushRemoteTlbs,
            spec.elideFlushIfYoung(),
            pfnCacheInvalidation.apply(kvm.pfnCaches),
            log);
    kvm.mmuNotifier = new MmuNotifierAdapter(kvm.notifier);
    vmm.registerNotifier(kvm.mmuNotifier);
    vmm.addMmapLockListener(
        exclusive -> log.emit(Tracepoint.MMAP_LOCK, exclusive ? 1 : 0, 0, 0));
    vmm.memory().addWritebackListener(
        (pfn, wasDirty) -> log.emit(Tracepoint.FOLIO_CLEAR_DIRTY_FOR_IO, pfn, wasDirty ? 1 : 0, 0));
    kvm.vmList = vmList;
    kvm.id = vmList.add(kvm);
    return kvm;
  }

  @Override
  public KvmVersion version() {
    return version;
  }

  @Override
  public MmuLock mmuLock() {
    return mmuLock;
  }

  @Override
  public long mmuInvalidateSeq() {
    long seq = invalidate.seq();
    log.emit(Tracepoint.MMU_INVALIDATE_SEQ, seq, 0, 0);
    scheduler.point("smp_rmb after mmu_invalidate_seq");
    return seq;
  }

  @Override
  public boolean mmuInvalidateRetry(long seq) {
    boolean retry = invalidate.retry(seq);
    log.emit(Tracepoint.MMU_INVALIDATE_RETRY, -1, seq, retry ? 1 : 0);
    return retry;
  }

  @Override
  public boolean mmuInvalidateRetryGfn(long seq, long gfn) {
    boolean retry = invalidate.retryGfn(seq, gfn);
    log.emit(Tracepoint.MMU_INVALIDATE_RETRY, gfn, seq, retry ? 1 : 0);
    return retry;
  }

  @Override
  public boolean mmuInvalidateRetryGfnUnsafe(long seq, long gfn) {
    return invalidate.retryGfnUnsafe(seq, gfn);
  }

  @Override
  public MemorySlot gfnToMemslot(int asId, long gfn) {
    scheduler.point("srcu_dereference kvm->memslots");
    return memslots.gfnToMemslot(asId, gfn);
  }

  @Override
  public long memslotsGeneration(int asId) {
    scheduler.point("srcu_dereference kvm->memslots");
    return memslots.active(asId).generation();
  }

  @Override
  public long faultinPfn(MemorySlot slot, long gfn, int foll, FaultinResult out) {
    out.reset();
    long pfn = followPfn.followPfn(slot, gfn, foll, false, true, out);
    log.emit(Tracepoint.KVM_FAULTIN_PFN, gfn, pfn, out.writable() ? 1 : 0);
    return pfn;
  }

  @Override
  public void releasePageClean(long page) {
    pageRelease.releasePageClean(page);
  }

  @Override
  public void releasePageDirty(long page) {
    pageRelease.releasePageDirty(page);
  }

  @Override
  public void releasePageUnused(long page) {
    pageRelease.releasePageUnused(page);
  }

  @Override
  public void releaseFaultinPage(long page, boolean unused, boolean dirty) {
    pageRelease.releaseFaultinPage(page, unused, dirty);
  }

  @Override
  public void markPageDirtyInSlot(MemorySlot slot, long gfn) {
    log.emit(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT, gfn, 0, 0);
    dirtyLog.markPageDirtyInSlot(slot, gfn);
    log.emit(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT_DONE, gfn, 0, 0);
  }

  @Override
  public void mmapReadLock() {
    followPfn.mm().mmapReadLock();
  }

  @Override
  public void mmapReadUnlock() {
    followPfn.mm().mmapReadUnlock();
  }

  @Override
  public HostVma vmaLookup(long hva) {
    Vma vma = followPfn.mm().findVma(hva);
    return vma == null ? null : vma.describe();
  }

  @Override
  public HostVma findVmaIntersection(long start, long end) {
    Vma vma = followPfn.mm().findVmaIntersection(start, end);
    return vma == null ? null : vma.describe();
  }

  @Override
  public int hostMappingShift(long hva) {
    return followPfn.mm().hostMappingShift(hva);
  }

  @Override
  public int pageShift() {
    return memory().pageShift();
  }

  @Override
  public PageTableEnvironment pageTables() {
    return pageTables.environment();
  }

  @Override
  public int mmuTopupMemoryCache(int min) {
    return pageTables.topup(min);
  }

  /** The VM's page-table pages: caches, live and freed counts. */
  public VmPageTables pageTablePages() {
    return pageTables;
  }

  @Override
  public int rcuReadLock() {
    int idx = rcu.readLock();
    log.emit(Tracepoint.RCU_READ_LOCK, 0, 0, 0);
    return idx;
  }

  @Override
  public void rcuReadUnlock(int idx) {
    log.emit(Tracepoint.RCU_READ_UNLOCK, 0, 0, 0);
    rcu.readUnlock(idx);
  }

  /** {@code synchronize_rcu}: a grace period; page-table pages unlinked before it are freed. */
  public void synchronizeRcu() {
    log.emit(Tracepoint.MIGHT_SLEEP, SleepSite.SYNCHRONIZE_RCU.ordinal(), 0, 0);
    rcu.synchronize();
  }

  public Rcu rcu() {
    return rcu;
  }

  /** Whether KVM_GET_DIRTY_LOG only copies the bitmap ({@code KVM_DIRTY_LOG_MANUAL_PROTECT}). */
  public boolean dirtyLogManualProtect() {
    return dirtyLog.mode().manualProtect();
  }

  @Override
  public boolean dirtyLogManualProtectAndInitSet() {
    return dirtyLog.mode().initiallySet();
  }

  @Override
  public void flushRemoteTlbs() {
    scheduler.point("kvm_flush_remote_tlbs");
    log.emit(Tracepoint.FLUSH_REMOTE_TLBS, 0, 0, 0);
    remoteTlbFlushes.increment();
    for (VcpuRequestTarget vcpu : vcpus) {
      vcpu.requestAndKick(VcpuRequestTarget.KVM_REQ_TLB_FLUSH);
    }
  }

  /**
   * {@code kvm_flush_remote_tlbs_range}: where the arch flushes by range
   * ({@link org.kvmmodel.api.ArchFeature#RANGED_REMOTE_TLB_FLUSH}), every vCPU drops the
   * translations of the leaves covering {@code [startGfn, startGfn + pages)} and keeps the rest,
   * so a range too small leaves stale entries for the checks to find; elsewhere the whole VM is
   * flushed.
   */
  @Override
  public void flushRemoteTlbsRange(long startGfn, long pages) {
    if (!rangedRemoteTlbFlush) {
      flushRemoteTlbs();
      return;
    }
    scheduler.point("kvm_flush_remote_tlbs_range");
    log.emit(Tracepoint.FLUSH_REMOTE_TLBS_RANGE, startGfn, pages, 0);
    remoteTlbFlushes.increment();
    for (VcpuRequestTarget vcpu : vcpus) {
      vcpu.invalidateRangeAndKick(startGfn, pages);
    }
  }

  /**
   * How many pages a stage-2 leaf at {@code level} (the arch's kernel numbering) maps in this
   * VM's tables: a TLB entry filled from a block covers the whole block.
   */
  public long leafPages(int level) {
    List<RadixPageTable> tables = pageTables.pageTables();
    if (tables.isEmpty()) {
      return 1;
    }
    return tables.get(0).format().geometry().leafPages(level);
  }

  /** How many remote TLB flushes were issued. */
  public long remoteTlbFlushes() {
    return remoteTlbFlushes.sum();
  }

  /**
   * {@code __gfn_to_page}: a referenced page for {@code gfn} of address space 0, or
   * {@link KvmPfn#NO_PAGE} (also for memory without a refcounted struct page).
   */
  @Override
  public long gfnToPage(long gfn, boolean write) {
    FaultinResult out = new FaultinResult();
    int idx = srcu.readLock();
    try {
      followPfn.followPfn(gfnToMemslot(0, gfn), gfn, write ? Foll.WRITE : 0, false, false, out);
    } finally {
      srcu.readUnlock(idx);
    }
    return out.refcountedPage();
  }

  @Override
  public long pfnToOnlinePage(long pfn) {
    HostMemory memory = followPfn.mm().memory();
    return memory.pfnValid(pfn) && !memory.isZoneDevice(pfn) ? pfn : KvmPfn.NO_PAGE;
  }

  @Override
  public long copyToUser(long addr, long len) {
    return userCopy.copyToUser(addr, len);
  }

  @Override
  public long copyFromUser(long addr, long len) {
    return userCopy.copyFromUser(addr, len);
  }

  @Override
  public void slotsLock() {
    setMemoryRegion.lockSlots();
  }

  @Override
  public void slotsUnlock() {
    setMemoryRegion.unlockSlots();
  }

  /**
   * {@code __kvm_vcpu_map}: pin the page of {@code gfn} so KVM can access it outside mmu_notifier
   * protection. Returns 0, or -EINVAL when no pfn could be had.
   */
  public int vcpuMap(long gfn, boolean writable, KvmHostMap map) {
    return KvmCallSites.call(
        log, KvmCallSite.VCPU_MAP, gfn, () -> vcpuMapLocked(gfn, writable, map));
  }

  private int vcpuMapLocked(long gfn, boolean writable, KvmHostMap map) {
    FaultinResult out = new FaultinResult();
    map.gfn = gfn;
    map.writable = writable;
    map.pinnedPage = KvmPfn.NO_PAGE;
    map.mapped = false;
    int idx = srcu.readLock();
    try {
      map.pfn =
          followPfn.followPfn(gfnToMemslot(0, gfn), gfn, writable ? Foll.WRITE : 0, true, false, out);
    } finally {
      srcu.readUnlock(idx);
    }
    if (KvmPfn.isErrorOrNoslot(map.pfn)) {
      return Errno.EINVAL.negative();
    }
    map.pinnedPage = out.refcountedPage();
    map.mapped = true;
    return 0;
  }

  /**
   * {@code kvm_vcpu_unmap}: a writable map marks the gfn in the dirty log and the page dirty
   * (the pin kept it from being written back meanwhile); the page is marked accessed and
   * unpinned.
   */
  public void vcpuUnmap(KvmHostMap map) {
    KvmCallSites.call(
        log,
        KvmCallSite.VCPU_UNMAP,
        map.gfn,
        () -> {
          unmapHostMap(map);
          return 0;
        });
  }

  private void unmapHostMap(KvmHostMap map) {
    if (!map.mapped) {
      return;
    }
    if (map.writable) {
      int idx = srcu.readLock();
      try {
        MemorySlot slot = gfnToMemslot(0, map.gfn);
        markPageDirtyInSlot(slot, map.gfn);
      } finally {
        srcu.readUnlock(idx);
      }
    }
    if (map.pinnedPage != KvmPfn.NO_PAGE) {
      if (map.writable) {
        pageRelease.setPageDirty(map.pinnedPage, true);
      }
      pageRelease.setPageAccessed(map.pinnedPage);
      log.emit(Tracepoint.KVM_UNPIN_PAGE, map.pinnedPage, 0, 0);
      followPfn.mm().memory().unpinUserPage(map.pinnedPage);
    }
    map.mapped = false;
    map.pinnedPage = KvmPfn.NO_PAGE;
  }

  /**
   * {@code kvm_write_guest}: KVM stores {@code len} bytes at {@code gpa} of address space 0 (as
   * kvm-clock and steal-time updates do); the caller holds {@code kvm->srcu}. 0 or -EFAULT.
   */
  public int writeGuest(long gpa, long len) {
    return guestWrite(KvmCallSite.WRITE_GUEST, 0, gpa, len);
  }

  /** {@code kvm_vcpu_write_guest}: as {@link #writeGuest} in the vCPU's address space. */
  public int vcpuWriteGuest(int asId, long gpa, long len) {
    return guestWrite(KvmCallSite.VCPU_WRITE_GUEST, asId, gpa, len);
  }

  private int guestWrite(KvmCallSite site, int asId, long gpa, long len) {
    return KvmCallSites.call(log, site, gpa, () -> guestWrite.writeGuest(asId, gpa, len));
  }

  /**
   * {@code kvm_destroy_vm}, once the last reference is gone: {@code kvm_arch_pre_destroy_vm}
   * (nothing the model keeps), {@code mmu_notifier_unregister} (which runs
   * {@code kvm_mmu_notifier_release} → {@code kvm_flush_shadow_all} unless {@code exit_mmap}
   * already released the subscription), then {@code kvm_arch_destroy_vm}: the vCPUs' pfn caches
   * are deactivated, the arch frees its tables and an RCU barrier lets the deferred frees run.
   */
  public void destroyVm() {
    log.emit(Tracepoint.KVM_DESTROY_VM, 0, 0, 0);
    followPfn.mm().unregisterNotifier(mmuNotifier);
    if (mnActive.count() == 0 && invalidate.inProgress() != 0) {
      throw new IllegalStateException("WARN_ON: mmu_invalidate_in_progress at kvm_destroy_vm");
    }
    for (GfnToPfnCache gpc : pfnCaches.active()) {
      gpc.deactivate();
    }
    arch.destroyVm(List.copyOf(pageTables.pageTables()));
    rcu.barrier();
    log.emit(Tracepoint.KVM_DESTROY_VM_DONE, pageTables.livePages(), 0, 0);
  }

  /** KVM_SET_USER_MEMORY_REGION2: 0 or a negative errno. */
  public int setUserMemoryRegion2(UserspaceMemoryRegion2 region) {
    return setMemoryRegion.setUserMemoryRegion2(region);
  }

  /**
   * KVM_GET_DIRTY_LOG ({@code kvm_vm_ioctl_get_dirty_log}): {@code kvm_get_dirty_log_protect}
   * with slots_lock held. The start of the harvest, every gfn the returned bitmap reports, and
   * its return are events, which is what dirty_log_test's host side sees.
   */
  public int getDirtyLog(int slot, long[] bitmap) {
    log.emit(Tracepoint.GET_DIRTY_LOG, slot, 0, 0);
    int r = setMemoryRegion.withSlotsLock(() -> getDirtyLogProtect(slot, bitmap));
    log.emit(Tracepoint.GET_DIRTY_LOG_DONE, slot, r, 0);
    return r;
  }

  /** {@code kvm_get_dirty_log_protect}, slots_lock held, reporting each harvested gfn. */
  private int getDirtyLogProtect(int slot, long[] bitmap) {
    int r = dirtyLog.getDirtyLog(slot, bitmap);
    if (r == 0) {
      KvmMemslot s = memslots.active(slot >>> 16).byId(slot & 0xffff);
      long base = s.slot().baseGfn();
      int words = KvmMemslot.bitmapLongs(s.slot().npages());
      for (int w = 0; w < words; w++) {
        for (long mask = bitmap[w]; mask != 0; mask &= mask - 1) {
          log.emit(Tracepoint.DIRTY_LOG_HARVESTED,
              base + (long) w * 64 + Long.numberOfTrailingZeros(mask), 0, 0);
        }
      }
    }
    return r;
  }

  /**
   * KVM_ENABLE_CAP on the VM with zero flags: common code's capabilities first
   * ({@code kvm_vm_ioctl_enable_cap_generic}: {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}), then
   * the arch's ({@code kvm_vm_ioctl_enable_cap}), with slots_lock held as the ones that look at
   * memslots take it. Returns 0 or a negative errno, {@code -EINVAL} for a capability or value
   * the VM does not accept.
   */
  public int enableCap(long cap, long arg) {
    if (cap == KvmCap.MANUAL_DIRTY_LOG_PROTECT2) {
      return dirtyLog.enableManualProtect(arg);
    }
    return setMemoryRegion.withSlotsLock(() -> arch.enableCap(cap, arg));
  }

  /**
   * A VM ioctl that {@code kvm_vm_ioctl} leaves to the arch ({@code kvm_arch_vm_ioctl}):
   * {@code arg} is the argument structure in 64-bit words. Returns what the ioctl returns.
   */
  public int vmIoctl(long ioctl, long[] arg) {
    long[] copied = arg.clone();
    return KvmCallSites.call(log, KvmCallSite.VM_IOCTL, ioctl, () -> arch.vmIoctl(ioctl, copied));
  }

  /**
   * Which KVM entry point each actor is inside, for checks to name where they saw a violation;
   * attached to the event log on first use, ahead of the checks that ask.
   */
  public synchronized KvmCallSites callSites() {
    if (callSites == null) {
      callSites = new KvmCallSites(arch);
      log.addListener(callSites);
    }
    return callSites;
  }

  @Override
  public boolean areAllMemslotsEmpty() {
    return setMemoryRegion.areAllMemslotsEmpty();
  }

  /**
   * KVM_CLEAR_DIRTY_LOG ({@code kvm_vm_ioctl_clear_dirty_log}): {@code kvm_clear_dirty_log_protect}
   * with slots_lock held. Once slots_lock is held the request is an event, each non-zero word
   * of the caller's bitmap as it was passed (its gfn offset in the slot and its mask), and so
   * is the return: what a check needs to judge that exactly the requested bits were cleared.
   */
  public int clearDirtyLog(int slot, long firstPage, long numPages, long[] bitmap) {
    return setMemoryRegion.withSlotsLock(
        () -> {
          log.emit(Tracepoint.CLEAR_DIRTY_LOG, slot, firstPage, numPages);
          long words = numPages < 0 ? 0 : Math.min(bitmap.length, (numPages + 63) >>> 6);
          for (int w = 0; w < words; w++) {
            if (bitmap[w] != 0) {
              log.emit(Tracepoint.CLEAR_DIRTY_LOG_MASK, slot, firstPage + (long) w * 64, bitmap[w]);
            }
          }
          int r = dirtyLog.clearDirtyLog(slot, firstPage, numPages, bitmap);
          log.emit(Tracepoint.CLEAR_DIRTY_LOG_DONE, slot, r, 0);
          return r;
        });
  }

  /** {@code kvm_vm_ioctl_create_vcpu}: the vCPU now receives the VM's requests. */
  public void addVcpu(VcpuRequestTarget vcpu) {
    vcpus.add(vcpu);
  }

  /** The vCPUs created so far, in creation order. */
  public List<VcpuRequestTarget> vcpus() {
    return vcpusView;
  }

  /** The per-frame count of guest writes that landed. */
  public GuestWrites guestWrites() {
    return guestWrites;
  }

  /** The VM's id on its host: its place in {@link #vmList()}. */
  public int id() {
    return id;
  }

  /** The name messages give the VM: {@code vm0}, {@code vm1}, ... */
  public String name() {
    return "vm" + id;
  }

  /**
   * The name of an actor working for this VM ({@code vcpu0}, {@code vmm}, {@code host}): as
   * given for the first VM, qualified by the VM's name ({@code vm1.vmm}) for the others.
   */
  public String actorName(String role) {
    return id == 0 ? role : name() + "." + role;
  }

  /** Every VM on this VM's host, itself included. */
  public VmList vmList() {
    return vmList;
  }

  /** The event log this VM reports to. */
  public EventLog log() {
    return log;
  }

  public ArchMmu arch() {
    return arch;
  }

  public MmuInvalidate invalidate() {
    return invalidate;
  }

  public KvmMemslots memslots() {
    return memslots;
  }

  public Srcu srcu() {
    return srcu;
  }

  public MnActiveInvalidations mnActive() {
    return mnActive;
  }

  public HostMemory memory() {
    return followPfn.mm().memory();
  }

  public MmStruct vmm() {
    return followPfn.mm();
  }

  /** The VM's active pfn caches ({@code kvm->gpc_list}). */
  public GfnToPfnCaches pfnCaches() {
    return pfnCaches;
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  FollowPfn followPfn() {
    return followPfn;
  }
}

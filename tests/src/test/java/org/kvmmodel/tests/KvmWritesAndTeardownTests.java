package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.check.RefcountBalancedCheck;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.GfnToPfnCaches;
import org.kvmmodel.core.kvm.GuestPvclock;
import org.kvmmodel.core.kvm.KvmGuestWrite;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.VmList;
import org.kvmmodel.core.kvm.KvmMmuNotifier;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * KVM's own guest writes, the pfn cache and VM teardown, each judged on a correct toy VM and
 * caught by its check when one step is deliberately broken: a write path that skips
 * {@code mark_page_dirty_in_slot} (DIRTY-LOG-COMPLETE), an {@code invalidate_range_start} that
 * skips the pfn caches (NO-STALE-MAPPING) and a flush-all that leaves a leaf
 * (REFCOUNT-BALANCED).
 */
class KvmWritesAndTeardownTests {

  private static final long PAGES = 4;
  private static final long BYTES = PAGES << HostPageSize.SIZE_4K.shift();
  private static final long HVA = 0x7f0000000000L;
  private static final long READONLY_HVA = HVA + BYTES;
  private static final long READONLY_GPA = 0x100000;

  /** A toy VM over {@code PAGES} anonymous pages and a read-only slot after them. */
  private static KvmInstance vm(
      Breakage breakage,
      Function<GfnToPfnCaches, KvmMmuNotifier.InvalidateStartListener> gpc) {
    ToyPlugin plugin =
        breakage == Breakage.NONE ? ToyPlugin.spinlockWholeVm() : ToyPlugin.broken(breakage);
    MmStruct vmm = new MmStruct(new HostMemory(256, 0, 0));
    KvmInstance kvm =
        KvmInstance.create(
            new KvmInstance.Spec(KvmVersion.DEFAULT, plugin.mmuLockKind(),
                new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
                DirtyLogMode.DEFAULT, false, false),
            vmm, FreeScheduler.INSTANCE, FaultInjector.none(), new EventLog(256),
            k -> plugin.createMmu(k, plugin.configurations().get(0)), new VmList(), gpc);
    assertEquals(HVA, vmm.mmap(HVA, 2 * BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, BYTES, HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        1, MemorySlot.KVM_MEM_READONLY, READONLY_GPA, BYTES, READONLY_HVA)));
    return kvm;
  }

  private static KvmInstance vm(Breakage breakage) {
    return vm(breakage, caches -> caches::invalidateStart);
  }

  private static Map<String, CheckResult> results(Checker checker) {
    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    return results;
  }

  private static String firstMessage(CheckResult r) {
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    return r.violations().get(0).message();
  }

  private static long frameAt(KvmInstance kvm, long hva) {
    return HostPte.pfn(kvm.vmm().hostPte(hva));
  }

  /**
   * Dirty logging on; a harvest, then KVM writes 32 bytes into gfn 2 through a write path that
   * logs the gfn or (broken) skips {@code mark_page_dirty_in_slot}, then a second harvest.
   */
  private static Map<String, CheckResult> kvmWriteBetweenHarvests(boolean logged) {
    KvmInstance kvm = vm(Breakage.NONE);
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    Checker checker = Checker.attach(kvm, List.of(DirtyLogCompleteCheck::new), id -> true);
    KvmGuestWrite path =
        new KvmGuestWrite(kvm, FreeScheduler.INSTANCE,
            logged ? kvm::markPageDirtyInSlot : (slot, gfn) -> {});
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    int idx = kvm.srcu().readLock();
    try {
      assertEquals(0, path.writeGuest(0, 0x2040, 32));
    } finally {
      kvm.srcu().readUnlock(idx);
    }
    assertEquals(1, kvm.guestWrites().count(frameAt(kvm, HVA + 0x2000)), "the store counted");
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(logged ? 1L << 2 : 0, bitmap[0]);
    return results(checker);
  }

  /**
   * kvm-clock at gpa 0x1040 through a pfn cache: one update, the host zaps the page
   * ({@code MADV_DONTNEED}), a second update.
   */
  private static Map<String, CheckResult> pvclockAcrossZap(
      Function<GfnToPfnCaches, KvmMmuNotifier.InvalidateStartListener> gpcInvalidation) {
    KvmInstance kvm = vm(Breakage.NONE, gpcInvalidation);
    Checker checker = Checker.attach(kvm, List.of(NoStaleMappingCheck::new), id -> true);
    GuestPvclock clock = new GuestPvclock(kvm, 0x1040);
    assertEquals(0, clock.enable());
    assertEquals(0, clock.update());
    assertEquals(0, kvm.vmm().madviseDontneed(HVA + 0x1000, 0x1000));
    assertEquals(0, clock.update());
    return results(checker);
  }

  @Test
  void kvmWriteGuestFaultsThePageInLogsItAndAnswersKvmErrnos() {
    KvmInstance kvm = vm(Breakage.NONE);
    int idx = kvm.srcu().readLock();
    try {
      assertEquals(0, kvm.writeGuest(0x0ff8, 16), "a write across two pages");
      assertEquals(-14, kvm.writeGuest(0x40000, 8), "no memslot: -EFAULT");
      assertEquals(-14, kvm.writeGuest(READONLY_GPA, 8), "read-only memslot: -EFAULT");
    } finally {
      kvm.srcu().readUnlock(idx);
    }
    assertEquals(1, kvm.guestWrites().count(frameAt(kvm, HVA)));
    assertEquals(1, kvm.guestWrites().count(frameAt(kvm, HVA + 0x1000)));
    assertTrue(HostPte.isDirty(kvm.vmm().hostPte(HVA + 0x1000)), "copy_to_user dirtied the PTE");
  }

  @Test
  void kvmWritesAreJudgedByDirtyLogComplete() {
    CheckResult r = kvmWriteBetweenHarvests(true).get(DirtyLogCompleteCheck.ID);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(2, r.judged(), "the write and its report");
  }

  @Test
  void aKvmWritePathThatSkipsMarkPageDirtyInSlotIsCaughtByDirtyLogComplete() {
    assertTrue(
        firstMessage(kvmWriteBetweenHarvests(false).get(DirtyLogCompleteCheck.ID))
            .matches("KVM write to gfn 0x2 at event \\d+ was not reported by KVM_GET_DIRTY_LOG"
                + " harvest #2, the first to begin after it with no fault on the gfn in flight"));
  }

  @Test
  void thePfnCacheIsInvalidatedAndRefreshedWithoutAReference() {
    KvmInstance kvm = vm(Breakage.NONE);
    GuestPvclock clock = new GuestPvclock(kvm, 0x1040);
    assertEquals(0, clock.enable());
    long pfn = clock.cache().khvaPfn();
    assertEquals(frameAt(kvm, HVA + 0x1000), pfn);
    assertEquals(1, kvm.memory().refcount(pfn), "the cache holds the pfn, not a reference");
    assertEquals(0, kvm.vmm().madviseDontneed(HVA + 0x1000, 0x1000));
    assertFalse(clock.cache().valid(), "invalidate_range_start invalidated the cache");
    assertEquals(0, clock.update());
    assertTrue(clock.cache().valid());
    assertEquals(frameAt(kvm, HVA + 0x1000), clock.cache().khvaPfn());
    CheckResult r = pvclockAcrossZap(caches -> caches::invalidateStart).get(NoStaleMappingCheck.ID);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(4, r.judged(), "the zapped stage-2 range, the cache in it and two writes");
  }

  @Test
  void anInvalidateStartThatSkipsThePfnCachesIsCaughtByNoStaleMapping() {
    CheckResult r = pvclockAcrossZap(caches -> (start, end) -> {}).get(NoStaleMappingCheck.ID);
    assertTrue(firstMessage(r).matches(
        "gfn_to_pfn_cache of gpa 0x1040 \\(hva 0x7f0000001040, pfn 0x[0-9a-f]+\\) is still valid"
            + " when invalidate_range_start of \\[0x7f0000001000, 0x7f0000002000\\) returns"));
    assertTrue(r.violations().get(1).message().matches(
        "KVM wrote gfn 0x1 through a gfn_to_pfn_cache into pfn 0x[0-9a-f]+, but the cache's hva"
            + " 0x7f0000001040 was invalidated at event \\d+ after the cache was refreshed at"
            + " event \\d+"));
  }

  /** Faults and writes three pages, then the VMM closes the VM and exits. */
  private static CheckResult teardown(Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attach(kvm, List.of(RefcountBalancedCheck::new), id -> true);
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    for (long gfn = 0; gfn < 3; gfn++) {
      vcpu.access(gfn << HostPageSize.SIZE_4K.shift(), GuestAccess.WRITE);
    }
    kvm.destroyVm();
    kvm.vmm().exitMmap();
    return results(checker).get(RefcountBalancedCheck.ID);
  }

  @Test
  void teardownLeavesNoTablePageAndEveryFolioAtItsHostBaseline() {
    CheckResult r = teardown(Breakage.NONE);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
  }

  @Test
  void aFlushAllThatLeavesALeafIsCaughtByRefcountBalancedAtTeardown() {
    assertTrue(firstMessage(teardown(Breakage.FLUSH_ALL_LEAVES_A_LEAF))
        .matches("\\d+ stage-2 page-table page\\(s\\) were still allocated after kvm_destroy_vm"));
  }
}

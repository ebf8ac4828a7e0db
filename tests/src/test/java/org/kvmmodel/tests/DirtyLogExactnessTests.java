package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.kvm.DirtyLog;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.Tracepoint;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;
import org.kvmmodel.tests.doubles.ToyVms;

/**
 * The exactness rules of dirty logging: KVM_CLEAR_DIRTY_LOG clears exactly the requested bits
 * that are set (DIRTY-LOG-COMPLETE) and leaves their gfns write-protected in the tables and the
 * TLBs (PERMISSIONS), as does a harvest without manual protect. Each rule passes on KVM's own
 * ioctls and catches a broken one, with its message asserted. A broken clear is common code's
 * {@link DirtyLog} run under a request the ioctl's events describe differently: the bitmap the
 * caller passed is what the events say, and what was cleared is what the broken code did.
 */
class DirtyLogExactnessTests {

  /** 100 pages: a slot whose last bitmap word is partial (36 pages). */
  private static final long PAGES = 100;
  private static final long BYTES = PAGES << HostPageSize.SIZE_4K.shift();
  private static final long HVA = 0x7f0000000000L;

  private static KvmInstance vm(Breakage breakage, boolean manualProtect) {
    KvmInstance kvm = ToyVms.create(
        breakage == Breakage.NONE ? ToyPlugin.spinlockWholeVm() : ToyPlugin.broken(breakage),
        "kvmmodel.vm.dirty-log.manual-protect = " + manualProtect);
    assertEquals(HVA, kvm.vmm().mmap(HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    return kvm;
  }

  private static Vcpu vcpu(KvmInstance kvm) {
    return ToyVms.vcpu(kvm, 0);
  }

  private static Map<String, CheckResult> results(Checker checker) {
    return ToyVms.results(checker);
  }

  /** The guest writes pages 3, 64 and 99 (the last word's last page): three bits set. */
  private static Checker writeThreePages(KvmInstance kvm, Vcpu vcpu) {
    Checker checker = Checker.attach(kvm, Checker.ALL,
        id -> id.equals(DirtyLogCompleteCheck.ID) || id.equals(PermissionsCheck.ID));
    for (long page : new long[] {3, 64, 99}) {
      vcpu.access(page << 12, GuestAccess.WRITE);
    }
    return checker;
  }

  /**
   * A clear as common code does it, of the request {@code events} describes, while the clear
   * itself runs on {@code cleared} with TLB flushes that are {@code flushed}; returns what the
   * clear returned, or {@code ret} in place of it.
   */
  private static int brokenClear(KvmInstance kvm, long[] events, long[] cleared, boolean flushed,
      Integer ret) {
    DirtyLog clear = new DirtyLog(kvm.memslots(), kvm.mmuLock(), kvm.arch(),
        new DirtyLogMode(true, false), flushed ? kvm::flushRemoteTlbs : () -> {},
        MemslotLimits.KVM_MEM_SLOTS_NUM, kvm.log(), kvm.scheduler());
    kvm.log().emit(Tracepoint.CLEAR_DIRTY_LOG, 0, 0, PAGES);
    for (int w = 0; w < events.length; w++) {
      if (events[w] != 0) {
        kvm.log().emit(Tracepoint.CLEAR_DIRTY_LOG_MASK, 0, w * 64L, events[w]);
      }
    }
    int r = clear.clearDirtyLog(0, 0, PAGES, cleared);
    int reported = ret == null ? r : ret;
    kvm.log().emit(Tracepoint.CLEAR_DIRTY_LOG_DONE, 0, reported, 0);
    return reported;
  }

  private static Violation only(CheckResult r, String kind) {
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    assertEquals(1, r.violations().size(), r.toString());
    assertEquals(kind, r.violations().get(0).kind());
    return r.violations().get(0);
  }

  @Test
  void kvmsOwnClearOfEveryBitPassesBothRulesAndJudgesThem() {
    KvmInstance kvm = vm(Breakage.NONE, true);
    Vcpu vcpu = vcpu(kvm);
    Checker checker = writeThreePages(kvm, vcpu);
    long[] bitmap = new long[2];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(List.of(1L << 3, 1L | 1L << 35), List.of(bitmap[0], bitmap[1]));
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {-1L, -1L}));
    vcpu.access(64L << 12, GuestAccess.WRITE);
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(List.of(0L, 1L), List.of(bitmap[0], bitmap[1]), "only the rewritten page");
    Map<String, CheckResult> results = results(checker);
    for (CheckResult r : results.values()) {
      assertEquals(CheckStatus.PASS, r.status(), r.toString());
    }
    assertTrue(results.get(PermissionsCheck.ID).judged() > 0);
  }

  @Test
  void aClearThatDropsThePartialLastWordIsCaught() {
    KvmInstance kvm = vm(Breakage.NONE, true);
    Checker checker = writeThreePages(kvm, vcpu(kvm));
    assertEquals(0, brokenClear(kvm, new long[] {-1L, -1L}, new long[] {-1L, 0}, true, null));
    Violation v = only(results(checker).get(DirtyLogCompleteCheck.ID), "requested-bit-kept");
    assertEquals("KVM_CLEAR_DIRTY_LOG of slot 0 pages [0x0, 0x64) left the bit of gfn 0x40 set,"
        + " although it was set and requested and nothing logged the gfn again", v.message());
  }

  @Test
  void aClearOfMoreThanWasAskedIsCaught() {
    KvmInstance kvm = vm(Breakage.NONE, true);
    Checker checker = writeThreePages(kvm, vcpu(kvm));
    assertEquals(0, brokenClear(kvm, new long[] {1L << 3, 0}, new long[] {1L << 3, 1L}, true,
        null));
    Violation v = only(results(checker).get(DirtyLogCompleteCheck.ID), "unrequested-bit-cleared");
    assertEquals("KVM_CLEAR_DIRTY_LOG of slot 0 pages [0x0, 0x64) cleared the bit of gfn 0x40,"
        + " which the caller did not ask to clear: its dirty state is lost", v.message());
  }

  @Test
  void aRefusedClearThatClearedBitsIsCaught() {
    KvmInstance kvm = vm(Breakage.NONE, true);
    Checker checker = writeThreePages(kvm, vcpu(kvm));
    assertEquals(-22, brokenClear(kvm, new long[] {-1L, -1L}, new long[] {-1L, -1L}, true, -22));
    Violation v = only(results(checker).get(DirtyLogCompleteCheck.ID), "refused-clear-cleared");
    assertEquals("KVM_CLEAR_DIRTY_LOG of slot 0 failed with -22 but cleared the bit of gfn 0x3:"
        + " a refused request must change nothing", v.message());
  }

  @Test
  void aClearThatDoesNotFlushLeavesAWritableTlbEntryForPermissions() {
    KvmInstance kvm = vm(Breakage.NONE, true);
    Checker checker = writeThreePages(kvm, vcpu(kvm));
    assertEquals(0, brokenClear(kvm, new long[] {-1L, -1L}, new long[] {-1L, -1L}, false, null));
    Violation v = only(results(checker).get(PermissionsCheck.ID), "tlb-writable-after-log-protect");
    assertEquals("KVM_CLEAR_DIRTY_LOG of slot 0, which cleared the gfn's bit, returned with"
        + " vcpu0's TLB still granting write to gfn 0x3, and no guest fault or log mark touched"
        + " it since", v.message());
  }

  @Test
  void aHarvestWhoseReprotectSkipsAGfnLeavesItWritableForPermissions() {
    KvmInstance kvm = vm(Breakage.REPROTECT_SKIPS_A_GFN, false);
    Checker checker = writeThreePages(kvm, vcpu(kvm));
    assertEquals(0, kvm.getDirtyLog(0, new long[2]));
    Violation v = results(checker).get(PermissionsCheck.ID).violations().get(0);
    assertEquals("writable-after-log-protect", v.kind());
    assertEquals("KVM_GET_DIRTY_LOG of slot 0, which reported the gfn, returned with gfn 0x3"
        + " still writable at stage 2, and no guest fault or log mark touched it since",
        v.message());
  }

  /**
   * x86: a read fault that exited while its gfn was unmapped and, once it holds mmu_lock, finds
   * a leaf that allows the read (here one a harvest just write-protected) is spurious before
   * {@code make_spte}, so it logs nothing, and the next harvest reports nothing for it.
   */
  @Test
  void anX86ReadFaultFindingItsLeafReadableLogsNothing() {
    KvmInstance kvm = ToyVms.create(new X86Plugin(), "kvmmodel.vm.dirty-log.manual-protect = true");
    assertEquals(HVA, kvm.vmm().mmap(HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    Checker checker = Checker.attach(kvm, Checker.ALL, DirtyLogCompleteCheck.ID::equals);
    vcpu.access(3L << 12, GuestAccess.WRITE);
    long[] bitmap = new long[2];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 3, bitmap[0]);
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 3, 0}));
    Stage2Walk stale = new Stage2Walk();
    stale.begin(3L << 12, GuestAccess.READ);
    stale.faulted(false, 0, 0);
    assertEquals(0, kvm.arch().handleGuestFault(0, stale));
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0], "a read fault the leaf already allowed logged the gfn");
    assertEquals(CheckStatus.PASS, results(checker).get(DirtyLogCompleteCheck.ID).status());
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.arch.x86.EptWalker;
import org.kvmmodel.arch.x86.Spte;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.FaultInjectionSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * The branches of x86's TDP MMU that only the order and count of its calls into KVM tell
 * apart, judged through the VM's event log, the SPTEs in page-table memory, the folios and the
 * dirty bitmap: {@code page_fault_can_be_fast}, {@code fast_page_fault} (with
 * {@code is_access_allowed}, {@code restore_acc_track_spte} and {@code fast_pf_fix_direct_spte}),
 * the retries of {@code kvm_mmu_faultin_pfn} and {@code is_page_fault_stale} with
 * {@code kvm_mmu_finish_page_fault}'s release, {@code tdp_mmu_map_handle_target_level} and
 * {@code make_spte}'s dirty logging, {@code kvm_arch_prepare_memory_region},
 * {@code kvm_mmu_slot_apply_flags}, {@code kvm_arch_flush_shadow_memslot},
 * {@code kvm_arch_flush_shadow_all}, aging, and the lockdep assertions of
 * {@code tdp_mmu_zap_leafs} and of {@code kvm_tdp_mmu_clear_dirty_pt_masked}'s root walk.
 */
class X86TdpMmuGapTests {

  private static final long PAGES = 64;
  private static final long BYTES = PAGES << 12;
  private static final long HVA = ArchVms.HVA;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;
  private static final int READ = GuestAccess.READ;
  private static final int WRITE = GuestAccess.WRITE;
  private static final int EXEC = GuestAccess.EXEC;
  private static final X86Plugin PLUGIN = new X86Plugin();

  /** One event of the VM's log. */
  private record Event(Tracepoint tp, long a, long b, long c) {}

  private final List<Event> events = new ArrayList<>();
  private HostMemory memory;
  private KvmInstance kvm;
  private Runnable afterFaultin = () -> {};
  private Runnable afterSecondPrecheck = () -> {};
  private int prechecks;
  private boolean slotsBeingDeleted;

  /**
   * A VM of {@code configuration} whose slot 0 maps gpa 0 onto {@link #PAGES} pages of
   * anonymous memory with {@code flags}, every page written once by the VMM (so GUP finds each
   * writable) except those of {@code untouched}.
   */
  private void vm(String configuration, FaultInjector inject, DirtyLogMode mode, int flags,
      long... untouched) {
    memory = new HostMemory(16384, 0, 1024);
    MmStruct vmm = new MmStruct(memory);
    EventLog log = new EventLog(256);
    log.addListener((seq, tp, actor, a, b, c) -> events.add(new Event(tp, a, b, c)));
    kvm = KvmInstance.create(
        new KvmInstance.Spec(KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
            new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL), mode, true,
            false),
        vmm, FreeScheduler.INSTANCE, inject, log,
        k -> PLUGIN.createMmu(hooked(k), PLUGIN.configuration(configuration)));
    assertEquals(HVA, vmm.mmap(HVA, BYTES, RW, VmaKind.ANON));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      long page = gfn;
      if (LongStream.of(untouched).noneMatch(u -> u == page)) {
        assertEquals(0, vmm.userWrite(HVA + (page << 12)));
      }
    }
    assertEquals(0, region(0, flags, 0, BYTES, HVA));
  }

  private void vm(String configuration, long... untouched) {
    vm(configuration, FaultInjector.none(), DirtyLogMode.DEFAULT, 0, untouched);
  }

  /**
   * Core's KVM as the MMU sees it, with a hook after faultin and after the second lockless
   * retry pre-check, and memslots that can be made to look like the INVALID copy of a slot
   * being deleted.
   */
  private Kvm hooked(Kvm real) {
    return (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class},
        (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          switch (method.getName()) {
            case "faultinPfn":
              afterFaultin.run();
              break;
            case "mmuInvalidateRetryGfnUnsafe":
              if (++prechecks == 2) {
                afterSecondPrecheck.run();
              }
              break;
            case "gfnToMemslot":
              if (slotsBeingDeleted && result != null) {
                MemorySlot slot = (MemorySlot) result;
                return slot.withFlags(slot.flags() | MemorySlot.KVM_MEMSLOT_INVALID);
              }
              break;
            default:
              break;
          }
          return result;
        });
  }

  private int region(int id, int flags, long gpa, long size, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, size, hva));
  }

  /** One access by vCPU 0's hardware and, if it faults, KVM's handling of the exit. */
  private int access(long gfn, int access) {
    return ArchVms.access(kvm, 0, gfn << 12, access);
  }

  /** An exit as vCPU 0 would report it had it walked the table a moment earlier. */
  private int staleExit(long gfn, int access, boolean present, int permissions) {
    Stage2Walk walk = new Stage2Walk();
    walk.begin(gfn << 12, access);
    walk.faulted(present, permissions, EptWalker.EPT_VIOLATION);
    return kvm.arch().handleGuestFault(0, walk);
  }

  private long leaf(long gfn) {
    return ArchVms.leaf(kvm, gfn);
  }

  /** How many events of {@code tp} the log got from {@code from} on. */
  private long count(Tracepoint tp, int from) {
    return events.subList(from, events.size()).stream().filter(e -> e.tp() == tp).count();
  }

  private void invalidationBegin(long start, long end) {
    kvm.mmuLock().lock();
    try {
      kvm.invalidate().begin();
      kvm.invalidate().rangeAdd(start, end);
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  private void invalidationEnd() {
    kvm.mmuLock().lock();
    try {
      kvm.invalidate().end();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /** Slot 0's dirty bitmap, harvested (without manual protect, its gfns write-protected). */
  private long harvest() {
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    return bitmap[0];
  }

  // ---------------------------------------------------------------- page_fault_can_be_fast

  /** With A/D bits, a not-present exit is never fast: the slow path faults the page in. */
  @Test
  void aNotPresentExitWithAdBitsTakesTheSlowPathEvenWhenTheSpteIsThere() {
    vm("ept4-ad");
    assertEquals(0, access(3, WRITE));
    long mapped = leaf(3);
    int mark = events.size();
    assertEquals(0, staleExit(3, READ, false, 0));
    assertEquals(1, count(Tracepoint.KVM_FAULTIN_PFN, mark), "kvm_mmu_faultin_pfn ran");
    assertEquals(1, count(Tracepoint.KVM_RELEASE_PAGE_DIRTY, mark), "and released the page");
    assertEquals(mapped, leaf(3), "the present leaf allowed the read: spurious, kept");
    assertEquals(1, memory.refcount(Spte.spteToPfn(mapped)));
  }

  /** A present exit is fast only for a write: a read exit goes to the slow path. */
  @Test
  void aPresentReadExitIsNeverFast() {
    for (String configuration : new String[] {"ept4-ad", "ept4-noad"}) {
      events.clear();
      vm(configuration);
      assertEquals(0, access(4, WRITE));
      long mapped = leaf(4);
      int mark = events.size();
      assertEquals(0, staleExit(4, READ, true, READ | EXEC));
      assertEquals(1, count(Tracepoint.KVM_FAULTIN_PFN, mark), configuration);
      assertEquals(mapped, leaf(4), configuration);
    }
  }

  // ---------------------------------------------------------------- fast_page_fault

  /** A present write exit on an SPTE that already allows it is spurious before any faultin. */
  @Test
  void aWriteExitAnotherVcpuAlreadyFixedIsSpuriousInTheFastPath() {
    vm("ept4-ad");
    assertEquals(0, access(5, WRITE));
    long mapped = leaf(5);
    int mark = events.size();
    assertEquals(0, staleExit(5, WRITE, true, READ | EXEC));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark), "fixed without the slow path");
    assertEquals(0, count(Tracepoint.SPTE_CHANGED, mark), "and without a cmpxchg");
    assertEquals(0, count(Tracepoint.MMU_LOCK, mark), "or mmu_lock");
    assertFalse(kvm.rcu().readLockHeld(), "the lockless walk left its RCU read section");
    assertEquals(mapped, leaf(5));
  }

  /**
   * Without A/D bits an aged SPTE is access-tracked; a read, an instruction fetch and a write
   * are each restored by {@code fast_page_fault} with Accessed set again and no faultin, the
   * write also setting Writable on the MMU-writable SPTE.
   */
  @Test
  void theFastPathRestoresAnAccessTrackedSpteForEachAccessWithoutFaultin() {
    for (int access : new int[] {READ, EXEC, WRITE}) {
      events.clear();
      vm("ept4-noad");
      assertEquals(0, access(6, WRITE));
      long mapped = leaf(6);
      assertTrue(Spte.isAccessedSpte(mapped), "make_spte presets Accessed");
      assertTrue(kvm.vmm().clearYoungNotify(HVA + (6L << 12), HVA + (7L << 12)));
      long tracked = leaf(6);
      assertTrue(Spte.isAccessTrackSpte(tracked));
      assertEquals(0, tracked & (Spte.RWX_MASK | Spte.ACCESSED));
      int mark = events.size();
      assertEquals(0, access(6, access), "access " + access);
      assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark), "access " + access);
      long expected = access == WRITE ? mapped : mapped & ~Spte.WRITABLE;
      assertEquals(expected, leaf(6), "access " + access + ": R, X and A back");
    }
  }

  /**
   * Restoring an access-tracked SPTE for a read leaves Writable clear and logs nothing; the
   * later write that sets Writable is what {@code fast_pf_fix_direct_spte} logs.
   */
  @Test
  void onlyTheFastPathsReadOnlyToWritableChangeIsLogged() {
    vm("ept4-noad", FaultInjector.none(), new DirtyLogMode(true, false),
        MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, access(7, WRITE));
    assertEquals(1L << 7, harvest());
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 7}));
    assertFalse(Spte.isWritablePte(leaf(7)), "CLEAR_DIRTY_LOG write-protected it");
    assertTrue(kvm.vmm().clearYoungNotify(HVA + (7L << 12), HVA + (8L << 12)));
    int mark = events.size();
    assertEquals(0, access(7, READ));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark));
    assertFalse(Spte.isWritablePte(leaf(7)));
    assertEquals(0, harvest(), "a read restoring the SPTE dirties nothing");
    assertEquals(0, access(7, WRITE));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark));
    assertTrue(Spte.isWritablePte(leaf(7)));
    assertEquals(1L << 7, harvest(), "mark_page_dirty_in_slot");
  }

  /**
   * A write to a write-protected MMU-writable SPTE in a dirty-logged slot is fixed in the fast
   * path at 4 KiB: only huge leaves are left to the slow path there.
   */
  @Test
  void aDirtyLoggedSmallLeafIsMadeWritableInTheFastPath() {
    vm("ept4-ad");
    assertEquals(0, access(8, WRITE));
    long mapped = leaf(8);
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
    long protectedSpte = leaf(8);
    assertEquals(mapped & ~Spte.WRITABLE, protectedSpte);
    int mark = events.size();
    assertEquals(0, access(8, WRITE));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark), "no slow path");
    assertEquals(protectedSpte | Spte.WRITABLE, leaf(8));
    assertEquals(1L << 8, harvest());
  }

  /**
   * An aged read-only SPTE of the zero page cannot be made writable: restoring it still refuses
   * the write, so the fast path leaves it alone and the slow path breaks COW.
   */
  @Test
  void aWriteToAnAgedReadOnlySpteLeavesTheFastPathForCow() {
    vm("ept4-noad", 9);
    assertEquals(0, access(9, READ));
    long zero = leaf(9);
    assertTrue(memory.isZeroPfn(Spte.spteToPfn(zero)));
    assertFalse(Spte.isMmuWritableSpte(zero));
    assertTrue(kvm.vmm().clearYoungNotify(HVA + (9L << 12), HVA + (10L << 12)));
    int mark = events.size();
    assertEquals(0, access(9, WRITE));
    assertEquals(1, count(Tracepoint.KVM_FAULTIN_PFN, mark), "the slow path asked GUP");
    assertEquals(0, leaf(9), "the COW's invalidation zapped the zero-page SPTE: retry");
    assertEquals(0, access(9, WRITE));
    long cow = leaf(9);
    assertTrue(Spte.isWritablePte(cow));
    assertFalse(memory.isZeroPfn(Spte.spteToPfn(cow)));
  }

  /** A write to the present read-only zero-page SPTE also goes to the slow path, A/D or not. */
  @Test
  void aWriteToAPresentZeroPageSpteIsNotFast() {
    for (String configuration : new String[] {"ept4-ad", "ept4-noad"}) {
      events.clear();
      vm(configuration, 10);
      assertEquals(0, access(10, READ));
      assertTrue(memory.isZeroPfn(Spte.spteToPfn(leaf(10))));
      int mark = events.size();
      assertEquals(0, access(10, WRITE));
      assertEquals(1, count(Tracepoint.KVM_FAULTIN_PFN, mark), configuration);
      assertEquals(0, leaf(10), configuration + ": zapped by the COW, never made writable");
    }
  }

  /**
   * {@code fast_page_fault} retries a lost {@code cmpxchg} four times: the fifth attempt may
   * still win without faultin; five losses leave the fault to the slow path.
   */
  @Test
  void theFastPathRetriesFourLostCmpxchgsThenGivesUp() {
    for (int losses = 4; losses <= 5; losses++) {
      events.clear();
      int[] script = new int[5 + losses + 1];
      for (int i = 5; i < 5 + losses; i++) {
        script[i] = 99;
      }
      vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 50),
          ChoiceStream.replay(script)), DirtyLogMode.DEFAULT, 0);
      assertEquals(0, access(11, WRITE), "four cmpxchgs link the tables and the leaf");
      assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
      assertFalse(Spte.isWritablePte(leaf(11)), "the fifth write-protected it");
      int mark = events.size();
      assertEquals(0, access(11, WRITE));
      assertEquals(losses == 5 ? 1 : 0, count(Tracepoint.KVM_FAULTIN_PFN, mark),
          losses + " losses");
      assertTrue(Spte.isWritablePte(leaf(11)), losses + " losses");
      assertEquals(1L << 11, harvest(), losses + " losses");
    }
  }

  /** A lost {@code cmpxchg} is not a fix: the write-protected SPTE stays so until one wins. */
  @Test
  void aLostFastPathCmpxchgLeavesTheSpteForTheRetry() {
    int[] script = {0, 0, 0, 0, 0, 99, 0};
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 50),
        ChoiceStream.replay(script)), DirtyLogMode.DEFAULT, 0);
    assertEquals(0, access(12, WRITE));
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
    long protectedSpte = leaf(12);
    int mark = events.size();
    assertEquals(0, access(12, WRITE));
    assertEquals(1, count(Tracepoint.SPTE_CHANGED, mark), "only the winning cmpxchg stored");
    assertEquals(1, count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT, mark), "logged once");
    assertEquals(protectedSpte | Spte.WRITABLE, leaf(12));
  }

  // ---------------------------------------------------------------- the slow path

  /** The pfn the last faultin since {@code from} returned. */
  private long faultedInPfn(int from) {
    long pfn = -1;
    for (Event e : events.subList(from, events.size())) {
      if (e.tp() == Tracepoint.KVM_FAULTIN_PFN) {
        pfn = e.b();
      }
    }
    return pfn;
  }

  /**
   * The slow path installs the leaf and releases the page under mmu_lock held for read
   * ({@code kvm_tdp_mmu_page_fault}: map, then {@code kvm_mmu_finish_page_fault}, then unlock).
   */
  @Test
  void theSlowPathMapsAndReleasesThePageUnderTheReadLock() {
    vm("ept4-ad");
    int mark = events.size();
    assertEquals(0, access(13, WRITE));
    List<Tracepoint> order = new ArrayList<>();
    boolean readHeld = false;
    for (Event e : events.subList(mark, events.size())) {
      if (e.tp() == Tracepoint.MMU_LOCK || e.tp() == Tracepoint.MMU_UNLOCK) {
        assertEquals(0, e.a(), "mmu_lock is only ever taken for read");
        readHeld = e.tp() == Tracepoint.MMU_LOCK;
        order.add(e.tp());
      } else if (e.tp() == Tracepoint.SPTE_CHANGED || e.tp() == Tracepoint.KVM_RELEASE_PAGE_DIRTY) {
        assertTrue(readHeld, e.tp() + " outside mmu_lock");
        order.add(e.tp());
      } else if (e.tp() == Tracepoint.KVM_FAULTIN_PFN) {
        assertFalse(readHeld, "faultin before mmu_lock");
        order.add(e.tp());
      }
    }
    assertEquals(List.of(Tracepoint.KVM_FAULTIN_PFN, Tracepoint.MMU_LOCK,
        Tracepoint.SPTE_CHANGED, Tracepoint.SPTE_CHANGED, Tracepoint.SPTE_CHANGED,
        Tracepoint.SPTE_CHANGED, Tracepoint.KVM_RELEASE_PAGE_DIRTY, Tracepoint.MMU_UNLOCK),
        order, "three tables linked, the leaf installed, the page released, unlocked");
    assertFalse(kvm.rcu().readLockHeld(), "kvm_tdp_mmu_map left its RCU read section");
    assertFalse(kvm.mmuLock().isHeld());
    assertTrue(Spte.isWritablePte(leaf(13)));
    assertEquals(1, memory.refcount(Spte.spteToPfn(leaf(13))));
  }

  /** A fault on a gfn being invalidated retries before GUP; other gfns are not held up. */
  @Test
  void aFaultOnAGfnBeingInvalidatedRetriesBeforeFaultin() {
    vm("ept4-ad");
    invalidationBegin(14, 15);
    int mark = events.size();
    assertEquals(0, access(14, WRITE));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark));
    assertEquals(0, count(Tracepoint.MMU_LOCK, mark), "nor mmu_lock");
    assertEquals(0, leaf(14));
    assertEquals(0, access(15, WRITE));
    assertNotEquals(0, leaf(15));
    invalidationEnd();
    assertEquals(0, access(14, WRITE));
    assertNotEquals(0, leaf(14));
  }

  /**
   * An invalidation of the gfn beginning while GUP runs is caught by the second lockless check,
   * before mmu_lock: the page goes back unused, neither dirtied nor mapped.
   */
  @Test
  void anInvalidationBegunDuringFaultinReleasesThePageUnusedBeforeMmuLock() {
    vm("ept4-ad");
    afterFaultin = () -> {
      afterFaultin = () -> {};
      invalidationBegin(16, 17);
    };
    int mark = events.size();
    assertEquals(0, access(16, WRITE));
    long pfn = faultedInPfn(mark);
    assertEquals(0, count(Tracepoint.MMU_INVALIDATE_RETRY, mark), "never reached mmu_lock");
    assertEquals(1, count(Tracepoint.KVM_RELEASE_PAGE_UNUSED, mark));
    assertEquals(0, count(Tracepoint.KVM_RELEASE_PAGE_DIRTY, mark));
    assertEquals(0, count(Tracepoint.FOLIO_MARK_DIRTY, mark));
    assertEquals(1, memory.refcount(pfn), "the faultin reference went back");
    assertEquals(0, leaf(16));
  }

  /**
   * An invalidation that began and ended after the lockless checks moves the sequence:
   * {@code is_page_fault_stale} under mmu_lock retries and the page is released unused.
   */
  @Test
  void anInvalidationCompletedBeforeMmuLockMakesTheFaultStale() {
    vm("ept4-ad");
    afterSecondPrecheck = () -> {
      invalidationBegin(17, 18);
      invalidationEnd();
    };
    int mark = events.size();
    assertEquals(0, access(17, READ));
    long pfn = faultedInPfn(mark);
    assertEquals(1, events.subList(mark, events.size()).stream()
        .filter(e -> e.tp() == Tracepoint.MMU_INVALIDATE_RETRY && e.c() == 1).count(),
        "mmu_invalidate_retry_gfn under mmu_lock said retry");
    assertEquals(0, count(Tracepoint.SPTE_CHANGED, mark), "nothing mapped");
    assertEquals(1, count(Tracepoint.KVM_RELEASE_PAGE_UNUSED, mark));
    assertEquals(0, count(Tracepoint.FOLIO_MARK_DIRTY, mark));
    assertEquals(1, memory.refcount(pfn));
    assertEquals(0, leaf(17));
  }

  /** A lost {@code cmpxchg} in {@code kvm_tdp_mmu_map} retries, releasing the page unused. */
  @Test
  void aLostCmpxchgInTheMapRetriesWithThePageReleasedUnused() {
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 100),
        ChoiceStream.seeded(1)), DirtyLogMode.DEFAULT, 0);
    int mark = events.size();
    assertEquals(0, access(18, WRITE));
    long pfn = faultedInPfn(mark);
    assertEquals(1, count(Tracepoint.KVM_RELEASE_PAGE_UNUSED, mark));
    assertEquals(0, count(Tracepoint.KVM_RELEASE_PAGE_DIRTY, mark));
    assertEquals(0, count(Tracepoint.FOLIO_MARK_DIRTY, mark));
    assertEquals(1, memory.refcount(pfn));
    assertEquals(0, leaf(18));
  }

  /** {@code mmu_topup_memory_caches} fails before faultin: -ENOMEM with no page taken. */
  @Test
  void aFailedCacheTopupExitsWithEnomemBeforeFaultin() {
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 100, 0),
        ChoiceStream.seeded(1)), DirtyLogMode.DEFAULT, 0);
    int mark = events.size();
    assertEquals(Errno.ENOMEM.negative(), access(32, WRITE));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark));
    assertEquals(0, count(Tracepoint.MMU_LOCK, mark));
    assertEquals(0, leaf(32));
  }

  /**
   * {@code make_spte}'s memory type from {@code vmx_get_mt_mask}: write-back for RAM,
   * uncachable for a pfn {@code kvm_is_mmio_pfn} finds to be host MMIO.
   */
  @Test
  void ramMapsWriteBackAndAHostMmioPfnUncachable() {
    vm("ept4-ad");
    assertEquals(0, access(33, READ));
    assertEquals((long) Spte.MEMTYPE_WB, (leaf(33) & Spte.MEMTYPE_MASK) >> Spte.MEMTYPE_SHIFT);
    long hva = HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmapPfn(hva, BYTES, RW, memory.ioPfnBase()));
    assertEquals(0, region(1, 0, 1L << 30, BYTES, hva));
    long gfn = (1L << 30) >> 12;
    assertEquals(0, access(gfn + 2, READ));
    long mmio = leaf(gfn + 2);
    assertEquals(memory.ioPfnBase() + 2, Spte.spteToPfn(mmio));
    assertEquals((long) Spte.MEMTYPE_UC, (mmio & Spte.MEMTYPE_MASK) >> Spte.MEMTYPE_SHIFT);
  }

  /** A gfn whose memslot is being deleted or moved retries without faultin. */
  @Test
  void aFaultInASlotBeingDeletedRetriesWithoutFaultin() {
    vm("ept4-ad");
    slotsBeingDeleted = true;
    int mark = events.size();
    assertEquals(0, access(19, WRITE));
    assertEquals(0, count(Tracepoint.KVM_FAULTIN_PFN, mark));
    assertEquals(0, leaf(19));
    slotsBeingDeleted = false;
    assertEquals(0, access(19, WRITE));
    assertNotEquals(0, leaf(19));
  }

  // ---------------------------------------------------------------- dirty logging in the map

  /**
   * A read racing a harvest that write-protected the leaf finds it allowing the read and keeps
   * it: {@code tdp_mmu_map_handle_target_level} returns spurious before {@code make_spte}, so
   * nothing is logged and the leaf stays write-protected.
   */
  @Test
  void aReadKeepingAWriteProtectedLeafLogsNothing() {
    vm("ept4-ad", FaultInjector.none(), DirtyLogMode.DEFAULT, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, access(20, WRITE));
    assertEquals(1L << 20, harvest(), "GET_DIRTY_LOG harvests and write-protects");
    long protectedSpte = leaf(20);
    assertFalse(Spte.isWritablePte(protectedSpte));
    int mark = events.size();
    assertEquals(0, staleExit(20, READ, false, 0));
    assertEquals(1, count(Tracepoint.KVM_FAULTIN_PFN, mark), "the slow path ran");
    assertEquals(protectedSpte, leaf(20));
    assertEquals(0, harvest());
  }

  /** {@code make_spte} logs only a writable SPTE: a read of the zero page logs nothing. */
  @Test
  void aReadOnlyMappingInALoggedSlotLogsNothing() {
    vm("ept4-ad", FaultInjector.none(), DirtyLogMode.DEFAULT, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES,
        21);
    assertEquals(0, access(21, READ));
    assertFalse(Spte.isWritablePte(leaf(21)));
    assertEquals(0, harvest());
    assertEquals(0, access(22, READ));
    assertTrue(Spte.isWritablePte(leaf(22)), "a host-writable page maps writable on a read");
    assertEquals(1L << 22, harvest());
  }

  // ---------------------------------------------------------------- memslot hooks

  /**
   * {@code kvm_mmu_slot_apply_flags} does nothing more for a read-only slot: enabling its
   * dirty logging takes no mmu_lock, changes no SPTE and flushes nothing.
   */
  @Test
  void enablingDirtyLoggingOnAReadOnlySlotFlushesNothing() {
    vm("ept4-ad");
    long hva = HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmap(hva, BYTES, RW, VmaKind.ANON));
    assertEquals(0, kvm.vmm().userWrite(hva));
    assertEquals(0, region(1, MemorySlot.KVM_MEM_READONLY, 1L << 30, BYTES, hva));
    long gfn = (1L << 30) >> 12;
    assertEquals(0, access(gfn, READ));
    long mapped = leaf(gfn);
    long flushes = kvm.remoteTlbFlushes();
    int mark = events.size();
    assertEquals(0, region(1, MemorySlot.KVM_MEM_READONLY | MemorySlot.KVM_MEM_LOG_DIRTY_PAGES,
        1L << 30, BYTES, hva));
    assertEquals(flushes, kvm.remoteTlbFlushes());
    assertEquals(0, count(Tracepoint.SPTE_CHANGED, mark));
    assertEquals(mapped, leaf(gfn));
  }

  /**
   * Enabling dirty logging write-protects under mmu_lock held for read
   * ({@code kvm_mmu_slot_remove_write_access}) and flushes after unlocking.
   */
  @Test
  void enablingDirtyLoggingWriteProtectsUnderTheReadLockThenFlushes() {
    vm("ept4-ad");
    assertEquals(0, access(23, WRITE));
    assertEquals(0, access(24, WRITE));
    int mark = events.size();
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
    List<String> order = new ArrayList<>();
    for (Event e : events.subList(mark, events.size())) {
      switch (e.tp()) {
        case MMU_LOCK, MMU_UNLOCK -> order.add(e.tp() + " " + e.a());
        case SPTE_CHANGED -> order.add(e.tp() + " " + e.a());
        case FLUSH_REMOTE_TLBS -> order.add(e.tp().toString());
        default -> { }
      }
    }
    assertEquals(List.of("MMU_LOCK 0", "SPTE_CHANGED 23", "SPTE_CHANGED 24", "MMU_UNLOCK 0",
        "FLUSH_REMOTE_TLBS"), order);
    assertFalse(Spte.isWritablePte(leaf(23)));
    assertFalse(Spte.isWritablePte(leaf(24)));
  }

  /** {@code kvm_arch_prepare_memory_region} refuses a MOVE past {@code kvm_mmu_max_gfn} too. */
  @Test
  void aMovePastTheLastGfnIsRefused() {
    vm("ept4-ad");
    long hva = HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmap(hva, BYTES, RW, VmaKind.ANON));
    assertEquals(0, region(1, 0, 1L << 30, BYTES, hva));
    long top = 1L << 48;
    assertEquals(Errno.EINVAL.negative(), region(1, 0, top - BYTES + 0x1000, BYTES, hva));
    assertEquals(1, kvm.gfnToMemslot(0, (1L << 30) >> 12).id(), "the slot stayed");
    assertEquals(0, region(1, 0, top - BYTES, BYTES, hva), "its last page at the last gfn");
    assertEquals(1, kvm.gfnToMemslot(0, (top >> 12) - 1).id());
  }

  /**
   * Deleting a memslot zaps its leaves and flushes its range once, and only if a leaf was
   * there ({@code kvm_arch_flush_shadow_memslot}).
   */
  @Test
  void deletingASlotFlushesOnceOnlyIfALeafWasZapped() {
    vm("ept4-ad");
    long hva = HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmap(hva, BYTES, RW, VmaKind.ANON));
    assertEquals(0, region(1, 0, 1L << 30, BYTES, hva));
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, region(1, 0, 1L << 30, 0, hva), "delete the empty slot");
    assertEquals(flushes, kvm.remoteTlbFlushes(), "nothing zapped, nothing flushed");
    assertEquals(0, access(25, WRITE));
    assertEquals(0, access(26, READ));
    int mark = events.size();
    assertEquals(0, region(0, 0, 0, 0, HVA));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes());
    assertEquals(2, count(Tracepoint.SPTE_CHANGED, mark));
    assertEquals(0, leaf(25));
    assertEquals(0, leaf(26));
  }

  /**
   * {@code kvm_tdp_mmu_test_age_gfn} and {@code kvm_tdp_mmu_age_gfn_range} report a leaf young
   * until aging clears its Accessed bit, and old after.
   */
  @Test
  void agingReportsALeafYoungOnlyUntilItIsAged() {
    vm("ept4-ad");
    assertEquals(0, access(34, WRITE));
    GfnRange range = new GfnRange(kvm.gfnToMemslot(0, 34), 34, 35, false);
    kvm.mmuLock().lock();
    try {
      assertTrue(kvm.arch().testAgeGfn(range));
      assertTrue(kvm.arch().ageGfn(range));
      assertFalse(Spte.isAccessedSpte(leaf(34)));
      assertFalse(kvm.arch().testAgeGfn(range));
      assertFalse(kvm.arch().ageGfn(range), "nothing young is left to age");
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_unmap_gfn_range} reports whether it zapped a leaf, and the notifier flushes only
   * then: unmapping host memory KVM never mapped flushes nothing.
   */
  @Test
  void aHostUnmapFlushesOnlyWhenALeafWasZapped() {
    vm("ept4-ad");
    assertEquals(0, access(35, WRITE));
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.vmm().madviseDontneed(HVA + (36L << 12), 4096));
    assertEquals(flushes, kvm.remoteTlbFlushes(), "gfn 36 had no leaf");
    assertEquals(0, kvm.vmm().madviseDontneed(HVA + (35L << 12), 4096));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes());
    assertEquals(0, leaf(35));
  }

  /**
   * The mm's exit zaps every leaf with no flush ({@code kvm_mmu_notifier_release} →
   * {@code kvm_arch_flush_shadow_all}): no vCPU can enter the guest again.
   */
  @Test
  void theMmsExitZapsEverythingAndFlushesNothing() {
    vm("ept4-ad");
    assertEquals(0, access(27, WRITE));
    assertEquals(0, access(28, READ));
    long flushes = kvm.remoteTlbFlushes();
    int mark = events.size();
    kvm.vmm().exitMmap();
    assertEquals(flushes, kvm.remoteTlbFlushes());
    boolean writeHeld = false;
    int zaps = 0;
    for (Event e : events.subList(mark, events.size())) {
      if (e.tp() == Tracepoint.MMU_LOCK || e.tp() == Tracepoint.MMU_UNLOCK) {
        writeHeld = e.tp() == Tracepoint.MMU_LOCK && e.a() == 1;
      } else if (e.tp() == Tracepoint.SPTE_CHANGED && e.c() == Spte.SHADOW_NONPRESENT_VALUE) {
        assertTrue(writeHeld, "kvm_tdp_mmu_zap_all zaps under the write lock");
        zaps++;
      }
    }
    assertTrue(zaps > 0, "the tables went under the write lock");
    assertFalse(kvm.mmuLock().isHeld(), "and drops it");
    assertEquals(0, leaf(27));
    assertEquals(0, leaf(28));
  }

  // ---------------------------------------------------------------- lockdep

  /** {@code tdp_mmu_zap_leafs} asserts mmu_lock held for write: the read lock is not enough. */
  @Test
  void unmappingUnderTheReadLockIsALockdepSplat() {
    vm("ept4-ad");
    assertEquals(0, access(29, WRITE));
    MemorySlot slot = kvm.gfnToMemslot(0, 29);
    kvm.mmuLock().readLock();
    try {
      assertThrows(IllegalStateException.class,
          () -> kvm.arch().unmapGfnRange(new GfnRange(slot, 29, 30, false)));
    } finally {
      kvm.mmuLock().readUnlock();
    }
    assertNotEquals(0, leaf(29));
  }

  /**
   * {@code kvm_tdp_mmu_clear_dirty_pt_masked} walks the roots with
   * {@code for_each_valid_tdp_mmu_root}, which asserts mmu_lock held for write.
   */
  @Test
  void reProtectingADirtyMaskUnderTheReadLockIsALockdepSplat() {
    vm("ept4-ad", FaultInjector.none(), DirtyLogMode.DEFAULT, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, access(30, WRITE));
    MemorySlot slot = kvm.gfnToMemslot(0, 30);
    kvm.mmuLock().readLock();
    try {
      assertThrows(IllegalStateException.class,
          () -> kvm.arch().enableLogDirtyPtMasked(slot, 0, 1L << 30));
    } finally {
      kvm.mmuLock().readUnlock();
    }
    assertTrue(Spte.isWritablePte(leaf(30)));
  }
}

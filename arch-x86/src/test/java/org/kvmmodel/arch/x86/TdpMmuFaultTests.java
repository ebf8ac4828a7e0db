package org.kvmmodel.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RetPf;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.FaultInjectionSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * The EPT walker and the TDP MMU page fault on a real VM: core's KVM services over a host
 * memory model, with the fault path's calls into KVM recorded.
 */
class TdpMmuFaultTests {

  private static final long MB = 1 << 20;
  private static final long ANON = 0x7f0000000000L;
  private static final long FILE = ANON + 64 * MB;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;
  private static final long FILE_GFN = 64 * MB >>> 12;
  private static final int READ = GuestAccess.READ;
  private static final int WRITE = GuestAccess.WRITE;
  private static final int EXEC = GuestAccess.EXEC;
  private static final int READ_MODIFY_WRITE = GuestAccess.READ_MODIFY_WRITE;

  /** The test's own probe: never yields, flushes nothing. */
  private static final class NoYield implements WalkControl {
    @Override public boolean shouldYield() { return false; }
    @Override public void yieldLock() {}
    @Override public void flushTlbs() {}
    @Override public void flushTlbRange(long gfn, long pages) {}
  }

  private final X86Plugin plugin = new X86Plugin();
  private final List<String> dirtied = Collections.synchronizedList(new ArrayList<>());
  private final List<Integer> foll = Collections.synchronizedList(new ArrayList<>());
  private final List<String> releases = Collections.synchronizedList(new ArrayList<>());
  private final Stage2Walk walk = new Stage2Walk();
  private HostMemory memory;
  private MmStruct vmm;
  private KvmInstance kvm;
  private TdpMmu mmu;
  private Stage2Walker walker;
  private PageTableCursor probe;
  private Runnable afterFaultin = () -> {};
  private Runnable afterSecondPrecheck = () -> {};
  private int prechecks;
  private int lockedChecks;
  private boolean slotsBeingDeleted;

  /** An event log that records each folio KVM dirties, as the release path names it. */
  private EventLog dirtyingLog() {
    EventLog log = new EventLog(256);
    log.addListener(
        (seq, tp, actor, a, b, c) -> {
          if (tp == Tracepoint.FOLIO_MARK_DIRTY) {
            dirtied.add("kvm_release_page_dirty " + a);
          }
        });
    return log;
  }

  private void vm(String configuration, FaultInjector inject) {
    memory = new HostMemory(16384, 0, 1024);
    vmm = new MmStruct(memory);
    kvm =
        KvmInstance.create(
            new KvmInstance.Spec(
                KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
                new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
                DirtyLogMode.DEFAULT, true, false),
            vmm, FreeScheduler.INSTANCE, inject,
            dirtyingLog(),
            k -> new TdpMmu(
                recording(k),
                EptPageTableFormat.forConfiguration(plugin.configuration(configuration))));
    mmu = (TdpMmu) kvm.arch();
    walker = mmu.walker();
    probe = mmu.root().newCursor(new NoYield());
    assertEquals(ANON, vmm.mmap(ANON, 4 * MB, RW, VmaKind.ANON));
    HostFile file = memory.createFile(256);
    assertEquals(FILE, vmm.mmapFile(FILE, MB, RW, file, 0));
    assertEquals(0, region(0, 0, 0, 4 * MB, ANON));
    assertEquals(0, region(1, 0, 64 * MB, MB, FILE));
  }

  private void vm(String configuration) {
    vm(configuration, FaultInjector.none());
  }

  private int region(int id, int flags, long gpa, long size, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, size, hva));
  }

  /**
   * Core's KVM services as the MMU sees them, recording faultin flags and page releases, with
   * hooks after faultin and after the second lockless retry pre-check, and memslots that can
   * be made to look like the INVALID copy of a slot being deleted.
   */
  private Kvm recording(Kvm real) {
    return (Kvm) Proxy.newProxyInstance(
        Kvm.class.getClassLoader(),
        new Class<?>[] {Kvm.class},
        (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          switch (method.getName()) {
            case "faultinPfn":
              foll.add((Integer) args[2]);
              afterFaultin.run();
              break;
            case "releaseFaultinPage":
              releases.add(args[0] + " unused=" + args[1] + " dirty=" + args[2]);
              break;
            case "gfnToMemslot":
              if (slotsBeingDeleted && result != null) {
                MemorySlot slot = (MemorySlot) result;
                return slot.withFlags(slot.flags() | MemorySlot.KVM_MEMSLOT_INVALID);
              }
              break;
            case "mmuInvalidateRetryGfn":
              lockedChecks++;
              break;
            case "mmuInvalidateRetryGfnUnsafe":
              if (++prechecks == 2) {
                afterSecondPrecheck.run();
              }
              break;
            default:
              break;
          }
          return result;
        });
  }

  /** One access by the vCPU's hardware: walk, and on a fault let KVM handle it. */
  private Stage2Walk access(long gfn, int accessBits) {
    walk.begin((gfn << 12) | 0x123, accessBits);
    walker.walk(walk);
    return walk;
  }

  /** An access that faults, then KVM's handling of it on vCPU 0; returns its return value. */
  private int fault(long gfn, int accessBits) {
    Stage2Walk w = access(gfn, accessBits);
    assertFalse(w.translated(), "expected a fault at gfn " + gfn);
    return mmu.handleGuestFault(0, w);
  }

  /** The leaf SPTE mapping {@code gfn}, or the non-present value. */
  private long spte(long gfn) {
    return probe.walk(gfn) ? probe.entry() : Spte.SHADOW_NONPRESENT_VALUE;
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

  private boolean dirtyLogged(long gfn) {
    return kvm.memslots().active(0).byId(0).isDirtyLogged(gfn);
  }

  // ---------------------------------------------------------------- the walker

  @Test
  void walkerSetsAccessedOnAnyAccessAndDirtyOnAWriteWithAdBits() {
    vm("ept4-ad");
    long leaf = mmu.format().encoder().makeSpte(1, 0x4321, Spte.ACC_ALL, false, true, 0x70);
    long clean = leaf & ~(Spte.ACCESSED | Spte.DIRTY);
    assertEquals(UpdateStatus.CHANGED, probe.map(0x20, 1, clean));

    Stage2Walk w = access(0x20, READ);
    assertTrue(w.translated());
    assertEquals((0x4321L << 12) | 0x123, w.hpa());
    assertEquals(1, w.level());
    assertEquals(READ | WRITE | EXEC, w.permissions());
    assertEquals(clean | Spte.ACCESSED, spte(0x20), "a read sets A only");

    assertTrue(access(0x20, WRITE).translated());
    assertEquals(clean | Spte.ACCESSED | Spte.DIRTY, spte(0x20), "a write sets D");
  }

  @Test
  void walkerSetsNothingWithoutAdBits() {
    vm("ept4-noad");
    long leaf = mmu.format().encoder().makeSpte(1, 0x4321, Spte.ACC_ALL, false, true, 0x70);
    long clean = leaf & ~(Spte.ACCESSED | Spte.DIRTY);
    assertEquals(UpdateStatus.CHANGED, probe.map(0x20, 1, clean));
    assertTrue(access(0x20, WRITE).translated());
    assertEquals(clean, spte(0x20));
  }

  @Test
  void walkerReportsEachFaultKind() {
    vm("ept4-ad");
    Stage2Walk w = access(0x30, READ);
    assertFalse(w.translated());
    assertFalse(w.entryPresent(), "nothing mapped");
    assertEquals(EptWalker.EPT_VIOLATION, w.faultKind());

    long readExec =
        mmu.format().encoder().makeSpte(1, 0x500, Spte.ACC_USER | Spte.ACC_EXEC, false, true, 0x70);
    assertEquals(UpdateStatus.CHANGED, probe.map(0x31, 1, readExec));
    w = access(0x31, WRITE);
    assertFalse(w.translated());
    assertTrue(w.entryPresent(), "a present leaf refused the write");
    assertEquals(READ | EXEC, w.permissions());
    assertEquals(EptWalker.EPT_VIOLATION, w.faultKind());
    assertTrue(access(0x31, EXEC).translated());

    long readWrite =
        mmu.format().encoder().makeSpte(1, 0x501, Spte.ACC_USER | Spte.ACC_WRITE, false, true, 0x70);
    assertEquals(UpdateStatus.CHANGED, probe.map(0x32, 1, readWrite));
    w = access(0x32, EXEC);
    assertTrue(w.entryPresent());
    assertEquals(READ | WRITE, w.permissions());
    assertEquals(readWrite, spte(0x32), "a refused access sets no bits");

    long mmio = mmu.format().encoder().makeMmioSpte(0x33, 5);
    assertEquals(UpdateStatus.CHANGED, probe.map(0x33, 1, mmio));
    w = access(0x33, READ);
    assertFalse(w.translated());
    assertFalse(w.entryPresent());
    assertEquals(EptWalker.EPT_MISCONFIG, w.faultKind());
    assertEquals(Errno.EFAULT.negative(), mmu.handleGuestFault(0, w), "no MMIO emulation");
  }

  // ---------------------------------------------------------------- the slow path

  @Test
  void writeFaultInstallsAWritableSpteAndDirtiesTheFolioOnceThroughRelease() {
    vm("ept4-ad");
    assertEquals(0, fault(5, WRITE));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertEquals(List.of(Foll.WRITE | Foll.NOWAIT), foll);
    long e = spte(5);
    assertTrue(Spte.isWritablePte(e));
    assertTrue(Spte.isMmuWritableSpte(e));
    assertTrue(Spte.isHostWritable(e));
    assertTrue(Spte.isAccessedSpte(e) && (e & Spte.DIRTY) != 0, "make_spte presets A and D");
    long pfn = Spte.spteToPfn(e);
    assertEquals(List.of(pfn + " unused=false dirty=true"), releases);
    assertEquals(List.of("kvm_release_page_dirty " + pfn), dirtied);
    assertTrue(memory.isDirty(pfn));
    assertEquals(1, memory.refcount(pfn), "only the host PTE holds the folio");

    Stage2Walk w = access(5, WRITE);
    assertTrue(w.translated());
    assertEquals((pfn << 12) | 0x123, w.hpa());
    assertEquals(1, dirtied.size(), "a translated access dirties nothing");
  }

  @Test
  void readFaultOfAnUntouchedAnonPageMapsTheZeroPageReadOnly() {
    vm("ept4-ad");
    assertEquals(0, fault(6, READ));
    assertEquals(List.of(Foll.NOWAIT), foll);
    long e = spte(6);
    assertEquals(memory.zeroPfn(), Spte.spteToPfn(e));
    assertFalse(Spte.isWritablePte(e));
    assertFalse(Spte.isHostWritable(e));
    assertTrue(dirtied.isEmpty());
    assertTrue(access(6, READ).translated());

    assertEquals(0, fault(6, WRITE), "not MMU-writable: the fast path gives up, the slow path COWs");
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0), "the COW invalidated the gfn during GUP");
    assertFalse(Spte.isShadowPresentPte(spte(6)), "the notifier zapped the zero-page SPTE");
    assertTrue(releases.get(1).endsWith(" unused=true dirty=true"), releases.get(1));
    assertTrue(dirtied.isEmpty());
    assertEquals(0, fault(6, WRITE), "the guest re-executes the write");
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    long w = spte(6);
    assertTrue(Spte.isWritablePte(w));
    long pfn = Spte.spteToPfn(w);
    assertFalse(memory.isZeroPfn(pfn));
    assertEquals(List.of("kvm_release_page_dirty " + pfn), dirtied);
    assertEquals(1, memory.refcount(pfn));
  }

  @Test
  void readFaultOfAHostWritablePageInstallsAWritableSpteAndDirtiesTheFolio() {
    vm("ept4-ad");
    assertEquals(0, vmm.userWrite(ANON + 7 * 4096));
    assertEquals(0, fault(7, READ));
    assertEquals(List.of(Foll.NOWAIT), foll, "a read fault does not ask for FOLL_WRITE");
    long e = spte(7);
    assertTrue(Spte.isWritablePte(e), "map_writable makes the SPTE writable on a read fault");
    long pfn = Spte.spteToPfn(e);
    assertEquals(List.of("kvm_release_page_dirty " + pfn), dirtied, "dirty = map_writable");
    assertEquals(1, memory.refcount(pfn));
  }

  @Test
  void aFaultDuringAnInvalidationOfItsGfnRetriesBeforeGup() {
    vm("ept4-ad");
    invalidationBegin(8, 9);
    assertEquals(0, fault(8, WRITE));
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty(), "the lockless pre-check retries before GUP");
    assertFalse(Spte.isShadowPresentPte(spte(8)));
    assertEquals(0, fault(9, WRITE), "a gfn outside the range is not held up");
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    invalidationEnd();
    assertEquals(0, fault(8, WRITE));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
  }

  @Test
  void anInvalidationStartingDuringGupReleasesThePageUnused() {
    vm("ept4-ad");
    assertEquals(0, vmm.userWrite(ANON + 8 * 4096));
    afterFaultin = () -> invalidationBegin(8, 9);
    assertEquals(0, fault(8, WRITE));
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0));
    assertEquals(0, lockedChecks, "the second lockless pre-check caught it before mmu_lock");
    assertEquals(1, releases.size());
    assertTrue(releases.get(0).endsWith(" unused=true dirty=true"), releases.get(0));
    long pfn = Long.parseLong(releases.get(0).split(" ")[0]);
    assertEquals(1, memory.refcount(pfn), "the reference went back");
    assertFalse(memory.isDirty(pfn), "unused releases dirty nothing");
    assertTrue(dirtied.isEmpty());
    assertFalse(Spte.isShadowPresentPte(spte(8)));
  }

  @Test
  void anInvalidationCompletedBeforeMmuLockMakesTheFaultStale() {
    vm("ept4-ad");
    assertEquals(0, vmm.userWrite(ANON + 8 * 4096));
    afterSecondPrecheck = () -> {
      invalidationBegin(8, 9);
      invalidationEnd();
    };
    assertEquals(0, fault(8, READ));
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0), "the sequence moved: is_page_fault_stale");
    assertEquals(1, lockedChecks);
    assertEquals(1, releases.size());
    assertTrue(releases.get(0).endsWith(" unused=true dirty=true"), releases.get(0));
    assertTrue(dirtied.isEmpty());
    assertFalse(Spte.isShadowPresentPte(spte(8)));
  }

  @Test
  void anInjectedCmpxchgLossRetriesWithThePageReleasedUnused() {
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 100), ChoiceStream.seeded(1)));
    assertEquals(0, fault(12, WRITE));
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0));
    assertEquals(1, releases.size());
    assertTrue(releases.get(0).endsWith(" unused=true dirty=true"), releases.get(0));
    long pfn = Long.parseLong(releases.get(0).split(" ")[0]);
    assertEquals(1, memory.refcount(pfn));
    assertTrue(dirtied.isEmpty());
    assertFalse(Spte.isShadowPresentPte(spte(12)));
  }

  @Test
  void aGfnOutsideEverySlotIsEmulatedAndExitsWithKvmExitMmio() {
    vm("ept4-ad");
    long gfn = 512 * MB >>> 12;
    assertEquals(KvmExit.MMIO, fault(gfn, READ));
    assertEquals(RetPf.EMULATE, mmu.lastOutcome(0));
    assertEquals(KvmExit.MMIO, fault(gfn, READ_MODIFY_WRITE));
    assertTrue(foll.isEmpty(), "nothing is faulted in");
    assertEquals(Spte.SHADOW_NONPRESENT_VALUE, spte(gfn), "no MMIO SPTE is cached");
    assertEquals(KvmExit.MMIO, fault(gfn, WRITE), "so the next access faults the same way");
  }

  @Test
  void aWriteToAReadOnlySlotIsEmulatedAndExitsWithKvmExitMmio() {
    vm("ept4-ad");
    assertEquals(0, region(2, MemorySlot.KVM_MEM_READONLY, 128 * MB, MB, ANON + 2 * MB));
    long gfn = 128 * MB >>> 12;
    assertEquals(KvmExit.MMIO, fault(gfn, WRITE), "KVM_PFN_ERR_RO_FAULT");
    assertEquals(RetPf.EMULATE, mmu.lastOutcome(0));
    assertEquals(List.of(Foll.WRITE | Foll.NOWAIT), foll);
    assertTrue(releases.isEmpty(), "no page was taken");
    assertEquals(Spte.SHADOW_NONPRESENT_VALUE, spte(gfn), "nothing is cached for the gfn");
    assertEquals(0, fault(gfn, READ));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertFalse(Spte.isWritablePte(spte(gfn)), "a read-only slot never maps writable");
    assertEquals(KvmExit.MMIO, fault(gfn, READ_MODIFY_WRITE),
        "a locked read-modify-write on the read-only leaf is emulated too");
    assertEquals(0, fault(gfn + 1, EXEC), "an instruction fetch maps like a read");
  }

  @Test
  void aPoisonedPageIsAnEhwpoisonExit() {
    vm("ept4-ad");
    assertEquals(0, fault(13, WRITE));
    long pfn = Spte.spteToPfn(spte(13));
    assertEquals(0, memory.memoryFailure(pfn));
    assertFalse(Spte.isShadowPresentPte(spte(13)), "the notifier zapped the SPTE");
    assertEquals(Errno.EHWPOISON.negative(), fault(13, READ));
  }

  @Test
  void aFilePageThatNeedsIoIsFaultedInAgainWaitingInterruptibly() {
    vm("ept4-ad");
    long gfn = FILE_GFN + 3;
    assertEquals(0, fault(gfn, READ));
    assertEquals(List.of(Foll.NOWAIT, Foll.INTERRUPTIBLE), foll);
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertTrue(access(gfn, READ).translated());
    foll.clear();
    assertEquals(0, fault(gfn + 1, READ));
    assertEquals(2, foll.size(), "each page not yet read needs the second call");
  }

  @Test
  void eachVcpuHasItsOwnFaultState() {
    vm("ept4-ad");
    walk.begin(14L << 12, WRITE);
    walker.walk(walk);
    assertEquals(0, mmu.handleGuestFault(5, walk));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(5));
    assertEquals(null, mmu.lastOutcome(0), "vCPU 0 has not faulted");
    Stage2Walker second = mmu.walker();
    Stage2Walk other = new Stage2Walk();
    other.begin(14L << 12, WRITE);
    second.walk(other);
    assertTrue(other.translated(), "a second walker sees the same table");
  }

  // ---------------------------------------------------------------- the fast path

  @Test
  void dirtyLoggingWriteProtectsAndTheFastPathRestoresWritableLoggingOnly() {
    vm("ept4-ad");
    assertEquals(0, fault(9, WRITE));
    long pfn = Spte.spteToPfn(spte(9));
    assertEquals(1, dirtied.size());
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, ANON));
    long wp = spte(9);
    assertFalse(Spte.isWritablePte(wp), "enabling logging write-protects");
    assertTrue(Spte.isMmuWritableSpte(wp));
    assertFalse(dirtyLogged(9));

    Stage2Walk w = access(9, WRITE);
    assertTrue(w.entryPresent());
    assertEquals(READ | EXEC, w.permissions());
    foll.clear();
    assertEquals(0, mmu.handleGuestFault(0, w));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty(), "the fast path faults nothing in");
    assertEquals(wp | Spte.WRITABLE, spte(9), "only Writable changed");
    assertTrue(dirtyLogged(9), "mark_page_dirty_in_slot");
    assertEquals(1, dirtied.size(), "the fast path never dirties the folio");
    assertEquals(1, memory.refcount(pfn));
    assertTrue(access(9, WRITE).translated());

    Stage2Walk stale = new Stage2Walk();
    stale.begin(9L << 12, WRITE);
    stale.faulted(true, READ | EXEC, EptWalker.EPT_VIOLATION);
    assertEquals(0, mmu.handleGuestFault(0, stale), "an exit another vCPU already fixed");
    assertEquals(RetPf.SPURIOUS, mmu.lastOutcome(0));

    assertEquals(0, vmm.userWrite(ANON + 10 * 4096));
    assertEquals(0, fault(10, READ));
    assertTrue(Spte.isWritablePte(spte(10)));
    assertTrue(dirtyLogged(10), "make_spte logs a writable SPTE even for a read fault");
  }

  @Test
  void withoutAdBitsAnAgedPageIsAccessTrackedAndTheFastPathRestoresIt() {
    vm("ept4-noad");
    assertEquals(0, fault(11, WRITE));
    long mapped = spte(11);
    assertFalse(Spte.spteAdEnabled(mapped));
    assertEquals(1, dirtied.size());
    MemorySlot slot = kvm.gfnToMemslot(0, 11);
    assertTrue(mmu.ageGfn(new GfnRange(slot, 11, 12, false)));
    long tracked = spte(11);
    assertTrue(Spte.isAccessTrackSpte(tracked));

    Stage2Walk w = access(11, READ);
    assertFalse(w.entryPresent(), "RWX clear: not present to the hardware");
    foll.clear();
    assertEquals(0, mmu.handleGuestFault(0, w));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty(), "fixed without mmu_lock or faultin");
    long restored = spte(11);
    assertEquals(mapped & ~Spte.WRITABLE, restored, "R and X back, A set, W left for a write");
    assertTrue(mmu.testAgeGfn(new GfnRange(slot, 11, 12, false)), "young again");

    w = access(11, WRITE);
    assertTrue(w.entryPresent());
    assertEquals(0, mmu.handleGuestFault(0, w));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertEquals(mapped, spte(11), "MMU-writable: Writable restored too");
    assertEquals(1, dirtied.size(), "no folio touched by the fast path");
    assertTrue(foll.isEmpty());
  }

  @Test
  void theFastPathRetriesALostCmpxchgAndThenLeavesItToTheSlowPath() {
    int[] wins = {0, 0, 0, 0, 0};
    int[] script = new int[wins.length + 5];
    Arrays.fill(script, wins.length, script.length, 99);
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 50), ChoiceStream.replay(script)));
    assertEquals(0, fault(15, WRITE), "four cmpxchgs link tables and install the leaf");
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, ANON));
    assertFalse(Spte.isWritablePte(spte(15)), "the fifth write-protects it");
    foll.clear();
    assertEquals(0, fault(15, WRITE));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertEquals(List.of(Foll.WRITE | Foll.NOWAIT), foll, "five lost cmpxchgs: the slow path");
    assertTrue(Spte.isWritablePte(spte(15)));
    assertTrue(dirtyLogged(15), "make_spte logged it");
    assertEquals(2, dirtied.size(), "the slow path's release dirtied the folio again");
  }

  @Test
  void theFastPathWinsOnItsLastRetry() {
    int[] script = {0, 0, 0, 0, 0, 99, 99, 99, 99, 0};
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 0, 50), ChoiceStream.replay(script)));
    assertEquals(0, fault(16, WRITE));
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, ANON));
    foll.clear();
    assertEquals(0, fault(16, WRITE));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty(), "fixed by the fifth cmpxchg without faultin");
    assertTrue(Spte.isWritablePte(spte(16)));
    assertTrue(dirtyLogged(16));
    assertEquals(1, dirtied.size());
  }

  @Test
  void concurrentVcpusFaultingTheSamePagesLeaveBalancedReferences() throws Exception {
    vm("ept4-ad");
    int vcpus = 4;
    int pages = 64;
    ExecutorService pool = Executors.newFixedThreadPool(vcpus);
    try {
      List<Future<Integer>> runs = new ArrayList<>();
      for (int id = 0; id < vcpus; id++) {
        int vcpu = id;
        runs.add(pool.submit(() -> {
          Stage2Walker own = mmu.walker();
          Stage2Walk w = new Stage2Walk();
          int faults = 0;
          for (int i = 0; i < pages; i++) {
            long gfn = 0x100 + (i + vcpu * 7) % pages;
            int accessBits = (i + vcpu) % 2 == 0 ? WRITE : READ;
            for (int attempt = 0; ; attempt++) {
              assertTrue(attempt < 100, "gfn " + gfn + " never translated");
              w.begin(gfn << 12, accessBits);
              own.walk(w);
              if (w.translated()) {
                break;
              }
              assertEquals(0, mmu.handleGuestFault(vcpu, w));
              faults++;
            }
          }
          return faults;
        }));
      }
      int faults = 0;
      for (Future<Integer> run : runs) {
        faults += run.get(60, TimeUnit.SECONDS);
      }
      assertTrue(faults >= pages, "every page faulted at least once");
    } finally {
      pool.shutdownNow();
    }
    for (long gfn = 0x100; gfn < 0x100 + pages; gfn++) {
      long e = spte(gfn);
      assertTrue(Spte.isShadowPresentPte(e), "gfn " + gfn);
      long pfn = Spte.spteToPfn(e);
      if (!memory.isZeroPfn(pfn)) {
        assertEquals(1, memory.refcount(pfn), "gfn " + gfn + ": every faultin reference was put");
      }
    }
    assertEquals(0, kvm.invalidate().inProgress());
  }

  @Test
  void aSlotBeingDeletedRetriesWithoutFaultin() {
    vm("ept4-ad");
    slotsBeingDeleted = true;
    assertEquals(0, fault(17, WRITE));
    assertEquals(RetPf.RETRY, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty());
    assertFalse(Spte.isShadowPresentPte(spte(17)));
    slotsBeingDeleted = false;
    assertEquals(0, fault(17, WRITE));
    assertEquals(RetPf.FIXED, mmu.lastOutcome(0));
  }

  @Test
  void aFailedCacheTopupIsReturnedBeforeFaultin() {
    vm("ept4-ad", new FaultInjector(new FaultInjectionSettings(0, 0, 100, 0), ChoiceStream.seeded(3)));
    assertEquals(Errno.ENOMEM.negative(), fault(18, WRITE));
    assertEquals(null, mmu.lastOutcome(0));
    assertTrue(foll.isEmpty(), "mmu_topup_memory_caches runs before kvm_mmu_faultin_pfn");
    assertTrue(releases.isEmpty());
    assertFalse(Spte.isShadowPresentPte(spte(18)));
  }

  @Test
  void aStaleNotPresentExitForAMappedPageIsSpuriousInTheSlowPath() {
    vm("ept4-ad");
    assertEquals(0, fault(19, WRITE));
    long mapped = spte(19);
    long pfn = Spte.spteToPfn(mapped);
    Stage2Walk stale = new Stage2Walk();
    stale.begin(19L << 12, READ);
    stale.faulted(false, 0, EptWalker.EPT_VIOLATION);
    assertEquals(0, mmu.handleGuestFault(1, stale), "another vCPU installed it meanwhile");
    assertEquals(RetPf.SPURIOUS, mmu.lastOutcome(1), "make_spte built the SPTE already there");
    assertEquals(mapped, spte(19));
    assertEquals(pfn + " unused=false dirty=true", releases.get(1), "a used page: released dirty");
    assertEquals(1, memory.refcount(pfn));
  }

  // ---------------------------------------------------------------- memslot and VM zaps

  @Test
  void zappingAMemslotFlushesItsRangeOnceAndOnlyIfALeafWasZapped() {
    vm("ept4-ad");
    assertEquals(0, fault(5, WRITE));
    assertEquals(0, fault(6, READ));
    long flushes = kvm.remoteTlbFlushes();
    mmu.flushShadowMemslot(kvm.gfnToMemslot(0, (64 * MB) >> 12));
    assertEquals(flushes, kvm.remoteTlbFlushes(), "nothing of the file slot was mapped");
    mmu.flushShadowMemslot(kvm.gfnToMemslot(0, 5));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes(),
        "kvm_unmap_gfn_range's batched zaps, then one kvm_flush_remote_tlbs_memslot");
    assertFalse(Spte.isShadowPresentPte(spte(5)));
    assertFalse(Spte.isShadowPresentPte(spte(6)));
  }

  @Test
  void zappingEverythingFlushesNothingSinceNoVcpuCanRunAgain() {
    vm("ept4-ad");
    assertEquals(0, fault(5, WRITE));
    assertEquals(0, fault((64 * MB >> 12) + 1, READ));
    long flushes = kvm.remoteTlbFlushes();
    mmu.flushShadowAll();
    assertEquals(flushes, kvm.remoteTlbFlushes(), "kvm_tdp_mmu_zap_all flushes nothing");
    assertFalse(Spte.isShadowPresentPte(spte(5)));
    assertFalse(Spte.isShadowPresentPte(spte((64 * MB >> 12) + 1)));
  }
}

package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_READONLY;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.argThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.FaultInjectionSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/** kvm_follow_pfn, faultin and the release API on a real host memory model. */
class FollowPfnTests {

  private static final long MB = 1 << 20;
  private static final long ANON = 0x7f0000000000L;
  private static final long RO = ANON + 64 * MB;
  private static final long IO = ANON + 128 * MB;
  private static final long FILE = ANON + 192 * MB;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  private final HostMemory memory = new HostMemory(16384, 0, 1024);
  private final MmStruct vmm = new MmStruct(memory);
  private final ArchMmu arch = mock(ArchMmu.class);
  private final List<String> dirtied = new ArrayList<>();
  private final EventLog log = new EventLog(256);

  {
    log.addListener(
        (seq, tp, actor, a, b, c) -> {
          if (tp == Tracepoint.FOLIO_MARK_DIRTY) {
            dirtied.add((b == 1 ? "locked " : "unlocked ") + a);
          }
        });
  }
  private KvmInstance kvm;
  private HostFile file;
  private final FaultinResult out = new FaultinResult();

  private KvmInstance vm(FaultInjector inject) {
    return KvmInstance.create(
        new KvmInstance.Spec(
            KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
            new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            DirtyLogMode.DEFAULT, true, false),
        vmm, FreeScheduler.INSTANCE, inject, log, k -> arch);
  }

  private int slot(int id, int flags, long gpa, long size, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, size, hva));
  }

  @BeforeEach
  void setUp() {
    when(arch.prepareMemoryRegion(any(), any(), any())).thenReturn(0);
    kvm = vm(FaultInjector.none());
    assertEquals(ANON, vmm.mmap(ANON, 4 * MB, RW, VmaKind.ANON));
    assertEquals(RO, vmm.mmap(RO, MB, Vma.VM_READ, VmaKind.ANON));
    assertEquals(IO, vmm.mmapPfn(IO, MB, Vma.VM_READ, memory.ioPfnBase()));
    file = memory.createFile(256);
    assertEquals(FILE, vmm.mmapFile(FILE, MB, RW, file, 0));
    assertEquals(0, slot(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, ANON));
    assertEquals(0, slot(1, 0, 64 * MB, MB, RO));
    assertEquals(0, slot(2, 0, 128 * MB, MB, IO));
    assertEquals(0, slot(3, KVM_MEM_READONLY, 192 * MB, MB, FILE));
    assertEquals(0, slot(4, 0, 256 * MB, MB, FILE));
  }

  private MemorySlot slotOf(long gfn) {
    return kvm.gfnToMemslot(0, gfn);
  }

  private long faultin(long gfn, boolean write) {
    return kvm.faultinPfn(slotOf(gfn), gfn, write ? Foll.WRITE : 0, out);
  }

  private void releaseUnderLock(long page, boolean unused, boolean dirty) {
    kvm.mmuLock().readLock();
    try {
      kvm.releaseFaultinPage(page, unused, dirty);
    } finally {
      kvm.mmuLock().readUnlock();
    }
  }

  @Test
  void writeFaultGetsAReferencedWritablePageAndReleaseDirtyMarksTheFolio() {
    long pfn = faultin(5, true);
    assertFalse(KvmPfn.isErrorOrNoslot(pfn), KvmPfn.describe(pfn));
    assertTrue(out.writable());
    assertEquals(pfn, out.refcountedPage());
    int refs = memory.refcount(pfn);
    releaseUnderLock(pfn, false, true);
    assertEquals(refs - 1, memory.refcount(pfn));
    assertTrue(memory.isDirty(pfn));
    assertTrue(memory.isReferenced(pfn));
    assertEquals(List.of("locked " + pfn), dirtied);
  }

  @Test
  void readFaultOfAnUntouchedAnonPageGetsTheZeroPageReadOnly() {
    long pfn = faultin(6, false);
    assertEquals(memory.zeroPfn(), pfn);
    assertFalse(out.writable(), "the opportunistic writable fast GUP fails on the zero page");
    releaseUnderLock(out.refcountedPage(), false, out.writable());
    assertTrue(dirtied.isEmpty());
  }

  @Test
  void readFaultOfAHostWritablePageComesBackWritable() {
    assertEquals(0, vmm.userWrite(ANON + 7 * 4096));
    long pfn = faultin(7, false);
    assertTrue(out.writable(), "__kvm_faultin_pfn always asks for map_writable");
    releaseUnderLock(out.refcountedPage(), false, out.writable());
    assertEquals(List.of("locked " + pfn), dirtied, "dirty = map_writable (seed 003)");
  }

  @Test
  void readOnlyMemory() {
    assertEquals(KvmPfn.ERR_FAULT, faultin(64 * MB / 4096, true), "a read-only VMA refuses writes");
    long gfn = 192 * MB / 4096;
    assertEquals(KvmPfn.ERR_RO_FAULT, faultin(gfn, true), "write to a read-only slot");
    assertEquals(0, vmm.userWrite(FILE));
    long pfn = faultin(gfn, false);
    assertFalse(out.writable(), "a read-only slot never maps writable");
    assertEquals(pfn, faultin(256 * MB / 4096, false), "the same page through a writable slot");
    assertTrue(out.writable());
  }

  @Test
  void pfnmapIsResolvedWithoutAReference() {
    long gfn = 128 * MB / 4096 + 3;
    long pfn = faultin(gfn, false);
    assertEquals(memory.ioPfnBase() + 3, pfn);
    assertEquals(KvmPfn.NO_PAGE, out.refcountedPage());
    assertFalse(memory.pfnValid(pfn));
    assertFalse(out.writable(), "a read-only PFN mapping");
    assertEquals(KvmPfn.ERR_RO_FAULT, faultin(gfn, true));
    releaseUnderLock(out.refcountedPage(), false, true);
    assertTrue(dirtied.isEmpty(), "release of NULL is a no-op");
    KvmHostMap map = new KvmHostMap();
    assertEquals(Errno.EINVAL.negative(), kvm.vcpuMap(gfn, false, map), "remapped memory cannot be pinned");
    assertFalse(map.mapped());
  }

  @Test
  void noSlotAndInvalidSlot() {
    assertEquals(KvmPfn.NOSLOT, kvm.faultinPfn(null, 1 << 30, 0, out));
    MemorySlot s = slotOf(0);
    assertEquals(KvmPfn.NOSLOT, kvm.faultinPfn(s.withFlags(s.flags() | MemorySlot.KVM_MEMSLOT_INVALID), 0, 0, out));
  }

  @Test
  void hwpoisonedPage() {
    assertEquals(0, vmm.userWrite(ANON + 9 * 4096));
    long pfn = faultin(9, true);
    releaseUnderLock(pfn, false, true);
    assertEquals(0, memory.memoryFailure(pfn));
    assertEquals(KvmPfn.ERR_HWPOISON, faultin(9, false));
  }

  @Test
  void nowaitOnAFilePageThatNeedsIo() {
    long gfn = 256 * MB / 4096 + 10;
    assertEquals(KvmPfn.ERR_NEEDS_IO, kvm.faultinPfn(slotOf(gfn), gfn, Foll.NOWAIT, out));
    long pfn = kvm.faultinPfn(slotOf(gfn), gfn, 0, out);
    assertFalse(KvmPfn.isErrorOrNoslot(pfn), "without NOWAIT the read is done");
  }

  @Test
  void releaseOfAUsedPageWithoutMmuLockIsRefused() {
    long pfn = faultin(11, true);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> kvm.releaseFaultinPage(pfn, false, true));
    assertEquals(
        "kvm_release_faultin_page: mmu_lock not held for a used page (unused=false)", e.getMessage());
    assertFalse(memory.isDirty(pfn));
    int refs = memory.refcount(pfn);
    kvm.releaseFaultinPage(pfn, true, true);
    assertEquals(refs - 1, memory.refcount(pfn), "an unused release needs no lock");
    assertFalse(memory.isDirty(pfn), "unused never dirties");
  }

  @Test
  void vcpuMapPinsAndAWritableUnmapDirtiesLogAndFolio() {
    KvmHostMap map = new KvmHostMap();
    assertEquals(0, kvm.vcpuMap(12, true, map));
    long page = map.pinnedPage();
    assertEquals(1, memory.pincount(page));
    kvm.vcpuUnmap(map);
    assertEquals(0, memory.pincount(page));
    assertTrue(memory.isDirty(page));
    assertTrue(kvm.memslots().active(0).byId(0).isDirtyLogged(12));
    assertEquals(List.of("unlocked " + page), dirtied, "a pinned page is dirtied at unmap");
    assertFalse(map.mapped());
  }

  @Test
  void gfnToPageReturnsAReferencedPage() {
    long page = kvm.gfnToPage(13, true);
    int refs = memory.refcount(page);
    kvm.releasePageClean(page);
    assertEquals(refs - 1, memory.refcount(page));
    assertEquals(KvmPfn.NO_PAGE, kvm.gfnToPage(128 * MB / 4096, false), "PFNMAP has no page");
  }

  @Test
  void injectedGupErrors() {
    kvm = vm(new FaultInjector(new FaultInjectionSettings(100, 0, 0, 0), ChoiceStream.seeded(1)));
    assertEquals(0, slot(0, 0, 0, 4 * MB, ANON));
    assertEquals(KvmPfn.ERR_FAULT, faultin(20, false), "read: no fast GUP, slow GUP fails");
    kvm = vm(new FaultInjector(new FaultInjectionSettings(0, 100, 0, 0), ChoiceStream.seeded(1)));
    assertEquals(0, slot(0, 0, 0, 4 * MB, ANON));
    assertEquals(KvmPfn.ERR_HWPOISON, faultin(21, false));
  }

  @Test
  void munmapInvalidatesTheSlotsGfnsThroughTheArch() {
    assertEquals(0, vmm.userWrite(ANON + 30 * 4096));
    assertEquals(0, vmm.munmap(ANON + 30 * 4096, 2 * 4096));
    verify(arch).unmapGfnRange(argThat(r -> r.slot().id() == 0 && r.start() == 30 && r.end() == 32));
    assertEquals(1, kvm.invalidate().seq());
    assertEquals(0, kvm.invalidate().inProgress());
    assertEquals(0, kvm.mnActive().count());
  }

  @Test
  void writebackOfAFilePageKvmDirtiedInvalidatesItFirst() {
    long gfn = 256 * MB / 4096 + 40;
    long pfn = faultin(gfn, true);
    releaseUnderLock(pfn, false, true);
    assertTrue(memory.writeback(file, 40), "KVM dirtied it, so writeback has work");
    verify(arch).unmapGfnRange(argThat(r -> r.start() == gfn && r.end() == gfn + 1));
    assertFalse(memory.isDirty(pfn));
    assertTrue(memory.isWriteback(pfn));
  }
}

package org.kvmmodel.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.api.pt.EntryRaceHook;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.api.pt.SimpleTableMemory;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;

/** The TDP MMU's notifier, memslot and dirty-log hooks, judged from the EPT table itself. */
class TdpMmuTests {

  /** A plain rwlock standing in for core's mmu_lock. */
  private static final class TestLock implements MmuLock {
    final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();

    @Override public MmuLockKind kind() { return MmuLockKind.RWLOCK; }
    @Override public void lock() { rw.writeLock().lock(); }
    @Override public void unlock() { rw.writeLock().unlock(); }
    @Override public void readLock() { rw.readLock().lock(); }
    @Override public void readUnlock() { rw.readLock().unlock(); }
    @Override public boolean isHeld() { return rw.getReadHoldCount() > 0 || rw.isWriteLockedByCurrentThread(); }
    @Override public boolean isHeldExclusive() { return rw.isWriteLockedByCurrentThread(); }
    @Override public boolean needResched() { return rw.hasQueuedThreads(); }
    @Override public void reschedule() {
      if (isHeldExclusive()) {
        unlock();
        lock();
      } else {
        readUnlock();
        readLock();
      }
    }
  }

  /** Walk control of the test's own probe: never yields, flushes nothing. */
  private static final class NoYield implements WalkControl {
    @Override public boolean shouldYield() { return false; }
    @Override public void yieldLock() {}
    @Override public void flushTlbs() {}
    @Override public void flushTlbRange(long gfn, long pages) {}
  }

  private final Kvm kvm = mock(Kvm.class);
  private final TestLock lock = new TestLock();
  private final X86Plugin plugin = new X86Plugin();
  private TdpMmu mmu;
  private PageTableCursor probe;
  private final MemorySlot slot = new MemorySlot(0, 0, 0x100, 64, 0x7f0000000000L, 0, 12);

  @BeforeEach
  void setUp() {
    when(kvm.mmuLock()).thenReturn(lock);
    when(kvm.pageShift()).thenReturn(12);
    SimpleTableMemory memory = new SimpleTableMemory(1L << 44, 1 << 16);
    when(kvm.pageTables())
        .thenReturn(new PageTableEnvironment(memory, memory, null, EntryRaceHook.NONE));
    mmu = (TdpMmu) plugin.createMmu(kvm, plugin.configuration("ept4-ad"));
    probe = mmu.root().newCursor(new NoYield());
  }

  private void mapWritable(long gfn) {
    long spte = mmu.format().encoder().makeSpte(1, 0x5000 + gfn, Spte.ACC_ALL, false, true, 0x30);
    assertEquals(UpdateStatus.CHANGED, probe.map(gfn, 1, spte));
  }

  /** The leaf SPTE mapping {@code gfn}, or the non-present value. */
  private long spte(long gfn) {
    return probe.walk(gfn) ? probe.entry() : Spte.SHADOW_NONPRESENT_VALUE;
  }

  /** Under the write lock the zaps are plain stores; the one flush is the caller's. */
  @Test
  void unmapZapsTheRangeAndAsksForAFlush() {
    for (long gfn = 0x100; gfn < 0x108; gfn++) {
      mapWritable(gfn);
    }
    lock.lock();
    try {
      assertTrue(mmu.unmapGfnRange(new GfnRange(slot, 0x102, 0x104, true)));
      verify(kvm, never()).flushRemoteTlbsRange(anyLong(), anyLong());
      verify(kvm, never()).flushRemoteTlbs();
      assertFalse(mmu.unmapGfnRange(new GfnRange(slot, 0x120, 0x130, true)), "nothing mapped there");
    } finally {
      lock.unlock();
    }
    assertFalse(Spte.isShadowPresentPte(spte(0x102)));
    assertFalse(Spte.isShadowPresentPte(spte(0x103)));
    assertTrue(Spte.isShadowPresentPte(spte(0x101)));
    assertTrue(Spte.isShadowPresentPte(spte(0x104)));
  }

  @Test
  void unmapRequiresTheWriteLock() {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> mmu.unmapGfnRange(new GfnRange(slot, 0x100, 0x101, true)));
    assertEquals("kvm_unmap_gfn_range requires mmu_lock held for write", e.getMessage());
  }

  @Test
  void agingClearsTheAccessedBitAndTestingChangesNothing() {
    mapWritable(0x110);
    GfnRange r = new GfnRange(slot, 0x110, 0x111, false);
    assertTrue(mmu.testAgeGfn(r));
    assertTrue(Spte.isAccessedSpte(spte(0x110)), "test_young only reads");
    assertTrue(mmu.ageGfn(r));
    assertFalse(Spte.isAccessedSpte(spte(0x110)));
    assertFalse(mmu.testAgeGfn(r));
    assertFalse(mmu.ageGfn(r));
  }

  @Test
  void enablingDirtyLoggingWriteProtectsTheSlotButKeepsMmuWritable() {
    mapWritable(0x120);
    MemorySlot logged = slot.withFlags(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    mmu.commitMemoryRegion(slot, logged, MemoryChange.FLAGS_ONLY);
    long e = spte(0x120);
    assertFalse(Spte.isWritablePte(e));
    assertTrue(Spte.isMmuWritableSpte(e), "the fast path may restore Writable");
    verify(kvm).flushRemoteTlbsRange(0x100, 64);
  }

  @Test
  void initiallySetBitmapsWriteProtectNothing() {
    when(kvm.dirtyLogManualProtectAndInitSet()).thenReturn(true);
    mapWritable(0x121);
    mmu.commitMemoryRegion(slot, slot.withFlags(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES), MemoryChange.FLAGS_ONLY);
    assertTrue(Spte.isWritablePte(spte(0x121)));
    verify(kvm, never()).flushRemoteTlbsRange(0x100, 64);
  }

  @Test
  void maskedReprotectTouchesExactlyTheMaskedGfns() {
    for (long gfn = 0x100; gfn < 0x140; gfn++) {
      mapWritable(gfn);
    }
    lock.lock();
    try {
      mmu.enableLogDirtyPtMasked(slot, 0, (1L << 3) | (1L << 40));
    } finally {
      lock.unlock();
    }
    for (long gfn = 0x100; gfn < 0x140; gfn++) {
      boolean masked = gfn == 0x103 || gfn == 0x128;
      assertEquals(!masked, Spte.isWritablePte(spte(gfn)), "gfn 0x" + Long.toHexString(gfn));
    }
  }

  @Test
  void slotsBeyondTheMaxGfnAreRefused() {
    MemorySlot huge = new MemorySlot(0, 1, (1L << 36) - 4, 8, 0x7f0000000000L, 0, 12);
    assertEquals(Errno.EINVAL.negative(), mmu.prepareMemoryRegion(null, huge, MemoryChange.CREATE));
    assertEquals(0, mmu.prepareMemoryRegion(null, slot, MemoryChange.CREATE));
  }

  @Test
  void flushShadowMemslotZapsOnlyThatSlot() {
    mapWritable(0x100);
    mapWritable(0x200);
    mmu.flushShadowMemslot(slot);
    assertFalse(Spte.isShadowPresentPte(spte(0x100)));
    assertTrue(Spte.isShadowPresentPte(spte(0x200)));
    mmu.flushShadowAll();
    assertFalse(Spte.isShadowPresentPte(spte(0x200)));
  }
}

package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.core.sched.Srcu;
import org.kvmmodel.core.trace.EventLog;
import org.mockito.ArgumentCaptor;

class KvmMmuNotifierTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  private final MemslotFixture f = new MemslotFixture();

  @BeforeEach
  void twoSlots() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertEquals(0, f.set(1, 0, 4 * MB, 2 * MB, HVA + 2 * MB));
  }

  @Test
  void startBeginsInvalidationAddsEachSlotsRangeAndUnmapsUnderTheWriteLock() {
    List<String> seen = new ArrayList<>();
    when(f.arch.unmapGfnRange(any()))
        .thenAnswer(
            inv -> {
              GfnRange r = inv.getArgument(0);
              seen.add(r.slot().id() + ":" + r.start() + "-" + r.end()
                  + " held=" + f.lock.isHeldExclusive()
                  + " inProgress=" + f.invalidate.inProgress());
              return r.slot().id() == 1;
            });
    long seq = f.invalidate.seq();
    // The last page of slot 0 and the first two of slot 1.
    f.notifier.invalidateRangeStart(HVA + 2 * MB - 4096, HVA + 2 * MB + 8192, true);
    assertEquals(List.of("0:511-512 held=true inProgress=1", "1:1024-1026 held=true inProgress=1"), seen);
    assertEquals(511, f.invalidate.rangeStart());
    assertEquals(1026, f.invalidate.rangeEnd());
    assertEquals(1, f.flushes, "a handler asked for a flush");
    assertFalse(f.lock.isHeld());
    assertEquals(1, f.mnActive.count());
    assertEquals(seq, f.invalidate.seq(), "the sequence moves at end, not start");

    f.notifier.invalidateRangeEnd(HVA + 2 * MB - 4096, HVA + 2 * MB + 8192, true);
    assertEquals(0, f.invalidate.inProgress());
    assertEquals(seq + 1, f.invalidate.seq());
    assertEquals(0, f.mnActive.count());
  }

  @Test
  void noFlushWhenNoHandlerAsks() {
    f.notifier.invalidateRangeStart(HVA, HVA + 4096, true);
    assertEquals(0, f.flushes);
    f.notifier.invalidateRangeEnd(HVA, HVA + 4096, true);
  }

  @Test
  void aRangeOutsideEveryMemslotNeverTakesMmuLock() {
    long acquisitions = f.lock.acquisitions();
    f.notifier.invalidateRangeStart(HVA + 64 * MB, HVA + 65 * MB, true);
    assertEquals(0, f.invalidate.inProgress(), "no slot, so invalidate_begin never ran");
    assertEquals(1, f.mnActive.count(), "the active count is taken regardless");
    f.notifier.invalidateRangeEnd(HVA + 64 * MB, HVA + 65 * MB, true);
    assertEquals(acquisitions, f.lock.acquisitions());
    verify(f.arch, never()).unmapGfnRange(any());
    assertEquals(0, f.mnActive.count());
  }

  @Test
  void pfnCachesAreInvalidatedBeforeMmuLockIsTaken() {
    List<String> order = new ArrayList<>();
    KvmMmuNotifier notifier =
        new KvmMmuNotifier(
            f.memslots, f.lock, f.invalidate, f.mnActive, f.arch, () -> {}, false,
            (s, e) -> order.add("gpc held=" + f.lock.isHeld()), new EventLog(16));
    doAnswer(inv -> order.add("unmap held=" + f.lock.isHeld()) == false)
        .when(f.arch).unmapGfnRange(any());
    notifier.invalidateRangeStart(HVA, HVA + 4096, true);
    assertEquals(List.of("gpc held=false", "unmap held=true"), order);
  }

  @Test
  void clearFlushYoungFlushesUnlessTheArchElidesIt() {
    when(f.arch.ageGfn(any())).thenReturn(true);
    assertTrue(f.notifier.clearFlushYoung(HVA, HVA + 4096));
    assertEquals(1, f.flushes);
    assertTrue(f.notifier.clearYoung(HVA, HVA + 4096));
    assertEquals(1, f.flushes, "clear_young never flushes");

    int[] flushes = new int[1];
    KvmMmuNotifier eliding =
        new KvmMmuNotifier(
            f.memslots, f.lock, f.invalidate, f.mnActive, f.arch, () -> flushes[0]++, true,
            (s, e) -> {}, new EventLog(16));
    assertTrue(eliding.clearFlushYoung(HVA, HVA + 4096));
    assertEquals(0, flushes[0]);
  }

  @Test
  void testYoungLooksAtOnePage() {
    ArgumentCaptor<GfnRange> range = ArgumentCaptor.forClass(GfnRange.class);
    when(f.arch.testAgeGfn(range.capture())).thenReturn(false);
    assertFalse(f.notifier.testYoung(HVA + 2 * MB + 4096 * 3 + 17));
    assertEquals(1027, range.getValue().start());
    assertEquals(1028, range.getValue().end());
    assertFalse(range.getValue().mayBlock());
  }

  @Test
  void releaseFlushesEverythingUnderSrcu() {
    doAnswer(inv -> {
          assertTrue(f.srcu.readLockHeld());
          return null;
        })
        .when(f.arch).flushShadowAll();
    f.notifier.release();
    verify(f.arch, times(1)).flushShadowAll();
    assertFalse(f.srcu.readLockHeld());
  }
}

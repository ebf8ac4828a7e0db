package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;

import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;

class DirtyLogTests {

  private static final long HVA = 0x7f0000000000L;

  private static MemorySlot logged(MemslotFixture f, long pages) {
    assertEquals(0, f.set(3, KVM_MEM_LOG_DIRTY_PAGES, 0x100000, pages * 4096, HVA));
    return f.memslots.gfnToMemslot(0, 0x100);
  }

  @Test
  void markingSetsTheBitOnlyForLoggedSlots() {
    MemslotFixture f = new MemslotFixture();
    MemorySlot s = logged(f, 200);
    f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 130);
    assertTrue(f.memslots.active(0).byId(3).isDirtyLogged(0x100 + 130));
    assertEquals(0, f.set(4, 0, 0x0, 4096, HVA + (1 << 30)));
    MemorySlot plain = f.memslots.gfnToMemslot(0, 0);
    f.dirtyLog.markPageDirtyInSlot(plain, 0);
    assertFalse(f.memslots.active(0).byId(4).isDirtyLogged(0));
  }

  @Test
  void getHarvestsAndReprotectsEachNonZeroWordUnderMmuLock() {
    MemslotFixture f = new MemslotFixture();
    MemorySlot s = logged(f, 200);
    f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 1);
    f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 129);
    doAnswer(inv -> {
          assertTrue(f.lock.isHeldExclusive(), "enable_log_dirty_pt_masked runs under mmu_lock");
          return null;
        })
        .when(f.arch).enableLogDirtyPtMasked(any(), anyLong(), anyLong());
    long[] out = new long[4];
    assertEquals(0, f.dirtyLog.getDirtyLog(3, out));
    assertArrayEquals(new long[] {1L << 1, 0, 1L << 1, 0}, out);
    verify(f.arch).enableLogDirtyPtMasked(s, 0, 1L << 1);
    verify(f.arch).enableLogDirtyPtMasked(s, 128, 1L << 1);
    verify(f.arch, never()).enableLogDirtyPtMasked(eq(s), eq(64L), anyLong());
    assertEquals(1, f.flushes);
    assertEquals(0, f.dirtyLog.getDirtyLog(3, out));
    assertArrayEquals(new long[4], out, "harvested bits are gone");
    assertEquals(1, f.flushes, "nothing harvested, no flush");
  }

  @Test
  void manualProtectGetOnlyCopiesAndClearReprotectsWhatWasReallySet() {
    MemslotFixture f =
        new MemslotFixture(
            new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            new DirtyLogMode(true, false));
    MemorySlot s = logged(f, 128);
    f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 5);
    long[] out = new long[2];
    assertEquals(0, f.dirtyLog.getDirtyLog(3, out));
    assertEquals(1L << 5, out[0]);
    verify(f.arch, never()).enableLogDirtyPtMasked(any(), anyLong(), anyLong());
    assertEquals(0, f.dirtyLog.clearDirtyLog(3, 0, 128, new long[] {(1L << 5) | (1L << 6), 0}));
    verify(f.arch).enableLogDirtyPtMasked(s, 0, 1L << 5);
    assertFalse(f.memslots.active(0).byId(3).isDirtyLogged(0x100 + 5));
    assertEquals(1, f.flushes);
  }

  @Test
  void badArgumentsGetKvmsErrno() {
    MemslotFixture f = new MemslotFixture();
    logged(f, 200);
    assertEquals(0, f.set(4, 0, 0x0, 4096, HVA + (1 << 30)));
    long[] out = new long[4];
    assertEquals(Errno.ENOENT.negative(), f.dirtyLog.getDirtyLog(4, out), "no bitmap");
    assertEquals(Errno.ENOENT.negative(), f.dirtyLog.getDirtyLog(7, out), "no slot");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.getDirtyLog((2 << 16) | 3, out), "bad as_id");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.getDirtyLog(40000, out), "bad slot id");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.clearDirtyLog(3, 1, 64, out), "first_page & 63");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.clearDirtyLog(3, 0, 65, out), "num_pages & 63");
    assertEquals(0, f.dirtyLog.clearDirtyLog(3, 192, 8, out), "a short tail reaching the end is fine");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.clearDirtyLog(3, 192, 9, out), "past the end");
  }

  @Test
  void theManualProtectCapabilityAcceptsKvmsOptionsOnlyAndRulesTheNextBitmap() {
    MemslotFixture f = new MemslotFixture();
    long initSet = DirtyLogMode.INITIALLY_SET;
    long manual = DirtyLogMode.MANUAL_PROTECT_ENABLE;
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.enableManualProtect(initSet),
        "initially-set needs manual protect");
    assertEquals(Errno.EINVAL.negative(), f.dirtyLog.enableManualProtect(manual | 4));
    assertEquals(DirtyLogMode.DEFAULT, f.dirtyLog.mode(), "a refused argument changes nothing");
    assertEquals(0, f.dirtyLog.enableManualProtect(manual | initSet));
    assertEquals(new DirtyLogMode(true, true), f.dirtyLog.mode());
    MemorySlot s = logged(f, 100);
    assertTrue(f.memslots.active(0).byId(3).isDirtyLogged(s.baseGfn() + 99),
        "a bitmap made after the capability starts all set");
    assertEquals(0, f.dirtyLog.enableManualProtect(0));
    assertEquals(DirtyLogMode.DEFAULT, f.dirtyLog.mode());
  }

  // ---------------------------------------------------------------- windows schedules can open

  /**
   * Whether some schedule of a VMM thread's {@code ioctl} on a 128-page logged slot, against a
   * vCPU marking the {@code marked} gfns in turn without mmu_lock (x86's fast path does), opens
   * the window the probe looks for. The slot is set up with {@code setUp} before the vCPU may
   * mark.
   */
  private static boolean someSchedule(DirtyLogMode mode,
      BiConsumer<MemslotFixture, MemorySlot> setUp, WindowProbe ioctl, long... marked) {
    for (long seed = 0; seed < 64; seed++) {
      DeterministicScheduler scheduler = new DeterministicScheduler(
          ChoiceStream.seeded(seed), SchedulePolicy.RANDOM, 2, 64, 10_000);
      MemslotFixture f = new MemslotFixture(
          new MemslotLimits(2, 3, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL), mode, scheduler);
      MemorySlot[] slot = new MemorySlot[1];
      boolean[] opened = new boolean[1];
      scheduler.spawn("vmm", () -> {
        slot[0] = logged(f, 128);
        setUp.accept(f, slot[0]);
        opened[0] = ioctl.opened(f, slot[0]);
      });
      scheduler.spawn("vcpu", () -> {
        while (slot[0] == null) {
          scheduler.spinPoint("slot not yet created");
        }
        for (long gfn : marked) {
          f.dirtyLog.markPageDirtyInSlot(slot[0], gfn);
        }
      });
      assertTrue(scheduler.run().passed(), "seed " + seed);
      if (opened[0]) {
        return true;
      }
    }
    return false;
  }

  /** One dirty-log ioctl, and whether the window it was run for was opened in that run. */
  @FunctionalInterface
  private interface WindowProbe {
    boolean opened(MemslotFixture f, MemorySlot slot);
  }

  @Test
  void aMarkCanLandBetweenAHarvestsExchangeOfAWordAndTheReprotectionOfItsGfns() {
    boolean opened = someSchedule(DirtyLogMode.DEFAULT,
        (f, s) -> f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 1), (f, s) -> {
          boolean[] seen = new boolean[1];
          doAnswer(inv -> {
                seen[0] = f.memslots.active(0).byId(3).isDirtyLogged(0x100 + 2);
                return null;
              })
              .when(f.arch).enableLogDirtyPtMasked(any(), anyLong(), anyLong());
          long[] out = new long[2];
          assertEquals(0, f.dirtyLog.getDirtyLog(3, out));
          return seen[0] && out[0] == 1L << 1;
        }, 0x100 + 2);
    assertTrue(opened, "no schedule marked the word after its xchg and before its re-protection");
  }

  @Test
  void aMarkCanLandBetweenTheWordCopiesOfAManualProtectGet() {
    boolean opened = someSchedule(new DirtyLogMode(true, false),
        (f, s) -> { }, (f, s) -> {
          long[] out = new long[2];
          assertEquals(0, f.dirtyLog.getDirtyLog(3, out));
          return out[0] == 0 && out[1] == 1L << 1;
        }, 0x100 + 1, 0x100 + 65);
    assertTrue(opened, "no schedule copied word 0 before the vCPU's first mark and word 1 after"
        + " its second");
  }

  @Test
  void aMarkCanLandBetweenAClearOfAWordAndTheReprotectionOfItsGfns() {
    boolean opened = someSchedule(new DirtyLogMode(true, false),
        (f, s) -> f.dirtyLog.markPageDirtyInSlot(s, 0x100 + 1), (f, s) -> {
          boolean[] seen = new boolean[1];
          doAnswer(inv -> {
                seen[0] = f.memslots.active(0).byId(3).isDirtyLogged(0x100 + 1);
                return null;
              })
              .when(f.arch).enableLogDirtyPtMasked(any(), anyLong(), anyLong());
          assertEquals(0, f.dirtyLog.clearDirtyLog(3, 0, 128, new long[] {1L << 1, 0}));
          return seen[0];
        }, 0x100 + 1);
    assertTrue(opened, "no schedule marked the cleared gfn again after its fetch_andnot and"
        + " before its re-protection");
  }
}

package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_GUEST_MEMFD;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_READONLY;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.argThat;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.ArgumentMatchers.isNull;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.mockito.InOrder;

class SetMemoryRegionTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  private final MemslotFixture f = new MemslotFixture();

  private MemslotSet slots() {
    return f.memslots.active(0);
  }

  @Test
  void createPublishesTheSlotAndCommits() {
    assertEquals(0, f.set(1, 0, 0x100000, 2 * MB, HVA));
    MemorySlot s = f.memslots.gfnToMemslot(0, 0x100);
    assertNotNull(s);
    assertEquals(0x100, s.baseGfn());
    assertEquals(512, s.npages());
    assertEquals(HVA + 5 * 4096, s.gfnToHva(0x105));
    assertNull(f.memslots.gfnToMemslot(0, 0x100 + 512));
    verify(f.arch).prepareMemoryRegion(isNull(), eq(s), eq(MemoryChange.CREATE));
    verify(f.arch).commitMemoryRegion(isNull(), eq(s), eq(MemoryChange.CREATE));
    verify(f.arch, never()).flushShadowMemslot(any());
    assertEquals(512, f.setMemoryRegion.nrMemslotPages());
  }

  @Test
  void generationsAreUniqueAcrossAddressSpaces() {
    assertEquals(0, f.set(0, 1, 0, 0, MB, HVA));
    assertEquals(0, f.set(1, 1, 0, 0, MB, HVA));
    assertEquals(0, f.set(0, 2, 0, MB, MB, HVA + MB));
    assertEquals(java.util.List.of(2L, 3L, 4L), f.generations);
    assertEquals(4L, slots().generation());
    assertEquals(0, slots().generation() & MemslotSet.GEN_UPDATE_IN_PROGRESS);
  }

  /** Each bad input of __kvm_set_memory_region and the errno KVM returns for it. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "unknown flag,               0, 8,    0x0,      0x200000, 0x7f0000000000, EINVAL",
    "guest_memfd unsupported,    0, 4,    0x0,      0x200000, 0x7f0000000000, EINVAL",
    "size not page aligned,      0, 0,    0x0,      0x200800, 0x7f0000000000, EINVAL",
    "gpa not page aligned,       0, 0,    0x800,    0x200000, 0x7f0000000000, EINVAL",
    "hva not page aligned,       0, 0,    0x0,      0x200000, 0x7f0000000010, EINVAL",
    "hva beyond user space,      0, 0,    0x0,      0x200000, 0x7ffffffff000, EINVAL",
    "slot id beyond user slots,  32764, 0, 0x0,     0x200000, 0x7f0000000000, EINVAL",
    "delete of a missing slot,   5, 0,    0x0,      0x0,      0x7f0000000000, EINVAL",
    "gpa wraps,                  0, 0,    -4096, 0x2000, 0x7f0000000000, EINVAL",
    "too many pages,             0, 0,    0x0,      0x80000000000, 0x10000, EINVAL",
  })
  void badInputGetsKvmsErrnoAndChangesNothing(
      String what, int id, int flags, long gpa, long size, long hva, Errno errno) {
    assertEquals(0, f.set(9, 0, 0x40000000, MB, HVA + 64 * MB));
    long gen = slots().generation();
    MemslotSet before = slots();
    assertEquals(errno.negative(), f.set(id, flags, gpa, size, hva), what);
    assertSame(before, slots(), "the memslot set is untouched");
    assertEquals(gen, slots().generation());
  }

  @Test
  void badAddressSpaceIsEinval() {
    assertEquals(Errno.EINVAL.negative(), f.set(2, 0, 0, 0, MB, HVA));
  }

  @Test
  void overlappingCreateIsEexist() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertEquals(Errno.EEXIST.negative(), f.set(1, 0, MB, 2 * MB, HVA + 8 * MB));
    assertEquals(0, f.set(1, 0, 2 * MB, 2 * MB, HVA + 8 * MB), "adjacent is fine");
    assertEquals(0, f.set(1, 0, 0, 0, 2 * MB, HVA), "another address space may overlap");
  }

  @Test
  void changingSizeHvaOrReadonlyOfAnExistingSlotIsEinval() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    MemslotSet before = slots();
    assertEquals(Errno.EINVAL.negative(), f.set(0, 0, 0, 4 * MB, HVA));
    assertEquals(Errno.EINVAL.negative(), f.set(0, 0, 0, 2 * MB, HVA + MB));
    assertEquals(Errno.EINVAL.negative(), f.set(0, KVM_MEM_READONLY, 0, 2 * MB, HVA));
    assertSame(before, slots());
  }

  @Test
  void identicalRegionIsANoOp() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    MemslotSet before = slots();
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertSame(before, slots());
  }

  @Test
  void readonlyNeedsArchSupport() {
    MemslotFixture noRo =
        new MemslotFixture(
            new MemslotLimits(1, 0, false, MemslotLimits.TASK_SIZE_MAX_4LEVEL), DirtyLogMode.DEFAULT);
    assertEquals(Errno.EINVAL.negative(), noRo.set(0, KVM_MEM_READONLY, 0, MB, HVA));
    assertEquals(0, f.set(0, KVM_MEM_READONLY, 0, MB, HVA));
    assertTrue(f.memslots.gfnToMemslot(0, 0).isReadonly());
    assertEquals(0, noRo.set(32766, 0, 0, MB, HVA), "without internal slots id 32766 is a user slot");
  }

  @Test
  void deletePublishesAnInvalidCopyAndFlushesBeforeRemoving() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    MemorySlot old = f.memslots.gfnToMemslot(0, 0);
    AtomicInteger seenInvalid = new AtomicInteger();
    org.mockito.Mockito.doAnswer(
            inv -> {
              MemorySlot during = f.memslots.gfnToMemslot(0, 0);
              if (during != null && during.isInvalid()) {
                seenInvalid.incrementAndGet();
              }
              return null;
            })
        .when(f.arch)
        .flushShadowMemslot(any());
    assertEquals(0, f.set(0, 0, 0, 0, HVA));
    assertEquals(1, seenInvalid.get(), "faults see KVM_MEMSLOT_INVALID while the arch flushes");
    assertNull(f.memslots.gfnToMemslot(0, 0));
    InOrder order = inOrder(f.arch);
    order.verify(f.arch).flushShadowMemslot(old);
    order.verify(f.arch).prepareMemoryRegion(old, null, MemoryChange.DELETE);
    order.verify(f.arch).commitMemoryRegion(old, null, MemoryChange.DELETE);
    assertEquals(0, f.setMemoryRegion.nrMemslotPages());
  }

  @Test
  void moveFlushesTheOldRangeAndKeepsTheBitmap() {
    assertEquals(0, f.set(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    MemorySlot old = f.memslots.gfnToMemslot(0, 0);
    KvmMemslot before = slots().byId(0);
    assertEquals(0, f.set(0, KVM_MEM_LOG_DIRTY_PAGES, 16 * MB, 2 * MB, HVA));
    verify(f.arch).flushShadowMemslot(old);
    MemorySlot moved = f.memslots.gfnToMemslot(0, 16 * MB >> 12);
    assertEquals(HVA, moved.userspaceAddr());
    assertNull(f.memslots.gfnToMemslot(0, 0));
    assertSame(before.dirtyBitmap(), slots().byId(0).dirtyBitmap());
  }

  @Test
  void failedPrepareOfADeleteRestoresTheOldSlot() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    when(f.arch.prepareMemoryRegion(any(), isNull(), eq(MemoryChange.DELETE)))
        .thenReturn(Errno.ENOMEM.negative());
    assertEquals(Errno.ENOMEM.negative(), f.set(0, 0, 0, 0, HVA));
    MemorySlot back = f.memslots.gfnToMemslot(0, 0);
    assertNotNull(back);
    assertFalse(back.isInvalid(), "the INVALID copy is replaced by the old slot again");
    verify(f.arch, never()).commitMemoryRegion(any(), isNull(), eq(MemoryChange.DELETE));
    assertEquals(512, f.setMemoryRegion.nrMemslotPages());
  }

  @Test
  void failedPrepareOfACreatePublishesNothing() {
    when(f.arch.prepareMemoryRegion(isNull(), any(), eq(MemoryChange.CREATE)))
        .thenReturn(Errno.EINVAL.negative());
    MemslotSet before = slots();
    assertEquals(Errno.EINVAL.negative(), f.set(0, 0, 0, 2 * MB, HVA));
    assertSame(before, slots());
    assertTrue(f.setMemoryRegion.slotsLock().tryAcquireExclusive(), "slots_lock released");
    f.setMemoryRegion.slotsLock().releaseExclusive();
  }

  @Test
  void flagsOnlyEnablesLoggingWithAFreshBitmap() {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertFalse(slots().byId(0).hasDirtyBitmap());
    assertEquals(0, f.set(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    assertTrue(slots().byId(0).hasDirtyBitmap());
    verify(f.arch).commitMemoryRegion(
        argThat(o -> o != null && o.flags() == 0), argThat(n -> n.dirtyLogEnabled()), eq(MemoryChange.FLAGS_ONLY));
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertFalse(slots().byId(0).hasDirtyBitmap(), "disabling logging drops the bitmap");
  }

  @Test
  void initiallySetBitmapsStartAllOnes() {
    MemslotFixture manual =
        new MemslotFixture(
            new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            new DirtyLogMode(true, true));
    assertEquals(0, manual.set(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 100 * 4096, HVA));
    KvmMemslot s = manual.memslots.active(0).byId(0);
    assertTrue(s.isDirtyLogged(0));
    assertTrue(s.isDirtyLogged(99));
    assertEquals(0, s.dirtyBitmap().get(1) >>> 36, "bits past npages stay clear");
  }

  @Test
  void publicationWaitsForActiveInvalidations() throws Exception {
    assertEquals(0, f.set(0, 0, 0, 2 * MB, HVA));
    assertEquals(0, f.notifier.invalidateRangeStart(HVA, HVA + 4096, true));
    CountDownLatch done = new CountDownLatch(1);
    AtomicInteger result = new AtomicInteger(-999);
    Thread updater =
        new Thread(
            () -> {
              result.set(f.set(1, 0, 8 * MB, MB, HVA + 8 * MB));
              done.countDown();
            });
    updater.start();
    assertTrue(!done.await(200, TimeUnit.MILLISECONDS), "blocked while count is non-zero");
    assertNull(f.memslots.gfnToMemslot(0, 8 * MB >> 12));
    f.notifier.invalidateRangeEnd(HVA, HVA + 4096, true);
    assertTrue(done.await(10, TimeUnit.SECONDS));
    assertEquals(0, result.get());
    assertNotNull(f.memslots.gfnToMemslot(0, 8 * MB >> 12));
    updater.join();
  }
}

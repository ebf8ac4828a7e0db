package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.kvm.GuestPvclock;
import org.kvmmodel.core.kvm.KvmHostMap;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.trace.Tracepoint;
import org.kvmmodel.tests.doubles.ToyVms;

/**
 * The folio state KVM's page release leaves behind on a real x86 VM: {@code kvm_release_page_clean}
 * and {@code kvm_release_page_dirty} mark the folio accessed ({@code kvm_set_page_accessed} →
 * {@code folio_mark_accessed}), as does {@code kvm_vcpu_unmap}, which also dirties it; reserved
 * pages (the zero page) are never marked. The pages are first written by the VMM, so the guest
 * fault or the pfn cache resolves them with fast GUP, which marks nothing itself: what is
 * marked afterwards is KVM's doing.
 */
class FolioAccessedMarkingTests {

  private static final long HVA = 0x7f0000000000L;
  private static final long BYTES = 16 << 12;

  private static KvmInstance vm() {
    KvmInstance kvm = ToyVms.create(new X86Plugin(), "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, BYTES, HVA)));
    return kvm;
  }

  /** The VMM stores to page {@code gfn}; returns its frame, not yet referenced. */
  private static long vmmWrites(KvmInstance kvm, long gfn) {
    assertEquals(0, kvm.vmm().userWrite(HVA + (gfn << 12)));
    long pfn = HostPte.pfn(kvm.vmm().hostPte(HVA + (gfn << 12)));
    assertFalse(kvm.memory().isReferenced(pfn), "a store through the host PTE marks only the PTE");
    return pfn;
  }

  /** {@code kvm_release_page_dirty} after a guest write fault: dirty, accessed, reference put. */
  @Test
  void aWriteFaultReleasesItsPageDirtyAndAccessed() {
    KvmInstance kvm = vm();
    long pfn = vmmWrites(kvm, 3);
    int refs = kvm.memory().refcount(pfn);
    ToyVms.vcpu(kvm, 0).access(3L << 12, GuestAccess.WRITE);
    assertTrue(kvm.memory().isReferenced(pfn), "kvm_release_page_dirty marks the folio accessed");
    assertTrue(kvm.memory().isDirty(pfn));
    assertEquals(refs, kvm.memory().refcount(pfn), "the faultin reference was put");
  }

  /**
   * {@code hva_to_pfn_retry} releases the page it maps with {@code kvm_release_page_clean}: the
   * pfn cache keeps no reference, but the folio is marked accessed.
   */
  @Test
  void aPfnCacheRefreshReleasesItsPageCleanAndAccessed() {
    KvmInstance kvm = vm();
    long pfn = vmmWrites(kvm, 1);
    int refs = kvm.memory().refcount(pfn);
    GuestPvclock clock = new GuestPvclock(kvm, 0x1040);
    assertEquals(0, clock.enable());
    assertEquals(pfn, clock.cache().khvaPfn());
    assertTrue(kvm.memory().isReferenced(pfn), "kvm_release_page_clean marks the folio accessed");
    assertEquals(refs, kvm.memory().refcount(pfn), "the cache holds no reference");
  }

  /**
   * {@code kvm_vcpu_unmap} of a writable map: the folio is dirtied as a pinned page KVM is
   * unmapping (outside mmu_lock), marked accessed, and unpinned.
   */
  @Test
  void aWritableVcpuUnmapDirtiesAndMarksTheFolioAccessedOutsideMmuLock() {
    KvmInstance kvm = vm();
    long pfn = vmmWrites(kvm, 2);
    List<long[]> marks = new ArrayList<>();
    kvm.log().addListener((seq, tp, actor, a, b, c) -> {
      if (tp == Tracepoint.FOLIO_MARK_DIRTY) {
        marks.add(new long[] {a, b, c});
      }
    });
    KvmHostMap map = new KvmHostMap();
    assertEquals(0, kvm.vcpuMap(2, true, map));
    assertEquals(pfn, map.pinnedPage());
    assertTrue(kvm.memory().isPinned(pfn));
    kvm.vcpuUnmap(map);
    assertFalse(kvm.memory().isPinned(pfn));
    assertTrue(kvm.memory().isReferenced(pfn), "kvm_vcpu_unmap marks the folio accessed");
    assertEquals(1, marks.size());
    assertEquals(List.of(pfn, 0L, 1L), List.of(marks.get(0)[0], marks.get(0)[1], marks.get(0)[2]),
        "folio_mark_dirty of the pinned page, mmu_lock not held");
  }

  /**
   * A fault's release dirties its folio under mmu_lock ({@code kvm_release_faultin_page} insists
   * on it): the trace says so, and that it is not a pinned unmap.
   */
  @Test
  void aFaultDirtiesItsFolioUnderMmuLock() {
    KvmInstance kvm = vm();
    long pfn = vmmWrites(kvm, 5);
    List<long[]> marks = new ArrayList<>();
    kvm.log().addListener((seq, tp, actor, a, b, c) -> {
      if (tp == Tracepoint.FOLIO_MARK_DIRTY) {
        marks.add(new long[] {a, b, c});
      }
    });
    ToyVms.vcpu(kvm, 0).access(5L << 12, GuestAccess.WRITE);
    assertEquals(1, marks.size());
    assertEquals(List.of(pfn, 1L, 0L), List.of(marks.get(0)[0], marks.get(0)[1], marks.get(0)[2]));
  }

  /** A read of a page nobody touched maps the zero page, which is reserved and never marked. */
  @Test
  void theReservedZeroPageIsNeverMarkedAccessed() {
    KvmInstance kvm = vm();
    ToyVms.vcpu(kvm, 0).access(7L << 12, GuestAccess.READ);
    long zero = kvm.memory().zeroPfn();
    assertEquals(zero, HostPte.pfn(kvm.vmm().hostPte(HVA + (7L << 12))), "the zero page backs it");
    assertFalse(kvm.memory().isReferenced(zero));
    assertFalse(kvm.memory().isDirty(zero));
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.core.kvm.GfnToPfnCache;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * A {@code gfn_to_pfn_cache} through its life on a real x86 VM ({@code virt/kvm/pfncache.c}),
 * judged by what {@code kvm_gpc_activate}, {@code kvm_gpc_check} and {@code kvm_gpc_refresh}
 * return and by the pfn the cache maps: the length check ({@code kvm_gpc_is_valid_len}), a gpa
 * with no memslot, a memslot generation change, invalidation only when the cache's hva is in
 * the range ({@code gfn_to_pfn_cache_invalidate_start}), a changed gpa, a deleted slot, and
 * deactivation.
 */
class PfnCacheLifecycleTests {

  private static final long PAGES = 8;
  private static final int LEN = 32;

  private static KvmInstance vm() {
    return ArchVms.withTouchedSlot("x86", "ept4-ad", "", PAGES << 12, 0);
  }

  private static long frame(KvmInstance kvm, long page) {
    return HostPte.pfn(kvm.vmm().hostPte(ArchVms.HVA + (page << 12)));
  }

  private static boolean check(GfnToPfnCache gpc, int len) {
    gpc.readLock();
    try {
      return gpc.check(len);
    } finally {
      gpc.readUnlock();
    }
  }

  private static int withSrcu(KvmInstance kvm, java.util.function.IntSupplier body) {
    int idx = kvm.srcu().readLock();
    try {
      return body.getAsInt();
    } finally {
      kvm.srcu().readUnlock(idx);
    }
  }

  @Test
  void lengthsMustStayInsideThePageFromTheGpasOffset() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(Errno.EINVAL.negative(), withSrcu(kvm, () -> gpc.activate(0x1fe1, LEN)));
    assertEquals(Errno.EINVAL.negative(), withSrcu(kvm, () -> gpc.activate(0x1000, -1)));
    assertFalse(gpc.active(), "a refused activation leaves the cache inactive");
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x1fe0, LEN)), "exactly to the page's end");
    assertTrue(check(gpc, LEN));
    assertFalse(check(gpc, LEN + 1), "one byte too many for the page");
    assertEquals(ArchVms.HVA + 0x1fe0, gpc.uhva());
    assertEquals(frame(kvm, 1), gpc.khvaPfn());
    assertEquals(Errno.EINVAL.negative(), withSrcu(kvm, () -> gpc.refresh(LEN + 1)));
  }

  @Test
  void aGpaWithNoMemslotIsEfaultAndTheCacheStaysInvalid() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(Errno.EFAULT.negative(), withSrcu(kvm, () -> gpc.activate(0x100040, LEN)));
    assertTrue(gpc.active());
    assertFalse(gpc.valid());
    assertFalse(check(gpc, LEN));
    assertNull(gpc.memslot());
    assertEquals(KvmPfn.ERR_FAULT, gpc.khvaPfn());
    assertEquals(Errno.EFAULT.negative(), withSrcu(kvm, () -> gpc.refresh(LEN)));
  }

  /** A memslot update changes the generation: the check fails until a refresh. */
  @Test
  void aMemslotGenerationChangeFailsTheCheckUntilRefreshed() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x2040, LEN)));
    long hva = ArchVms.HVA + (PAGES << 12);
    assertEquals(hva, kvm.vmm().mmap(hva, 1 << 12, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, 0, 0x100000, 1 << 12, hva)));
    assertTrue(gpc.valid(), "the cache itself was not invalidated");
    assertFalse(check(gpc, LEN), "but the memslots moved on");
    assertEquals(0, withSrcu(kvm, () -> gpc.refresh(LEN)));
    assertTrue(check(gpc, LEN));
    assertEquals(frame(kvm, 2), gpc.khvaPfn());
  }

  @Test
  void onlyAnInvalidationCoveringTheCachesHvaInvalidatesIt() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x3040, LEN)));
    assertEquals(0, kvm.vmm().madviseDontneed(ArchVms.HVA + 0x2000, 0x1000));
    assertTrue(gpc.valid(), "the range ends at the cache's page");
    assertEquals(0, kvm.vmm().madviseDontneed(ArchVms.HVA + 0x4000, 0x1000));
    assertTrue(gpc.valid(), "the range starts after the cache's hva");
    assertEquals(0, kvm.vmm().madviseDontneed(ArchVms.HVA + 0x3000, 0x1000));
    assertFalse(gpc.valid(), "the cache's page was zapped");
    assertFalse(check(gpc, LEN));
    assertEquals(0, kvm.vmm().userWrite(ArchVms.HVA + 0x3000));
    assertEquals(0, withSrcu(kvm, () -> gpc.refresh(LEN)));
    assertTrue(check(gpc, LEN));
    assertEquals(frame(kvm, 3), gpc.khvaPfn(), "the page the host maps now");
  }

  /** Activating an active cache for another gpa re-resolves its slot, hva and pfn. */
  @Test
  void aNewGpaIsResolvedAgain() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x1000, LEN)));
    assertEquals(frame(kvm, 1), gpc.khvaPfn());
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x5008, LEN)));
    assertEquals(0x5008, gpc.gpa());
    assertEquals(ArchVms.HVA + 0x5008, gpc.uhva());
    assertEquals(frame(kvm, 5), gpc.khvaPfn());
    assertTrue(check(gpc, LEN));
  }

  /** The slot is gone: the refresh finds no hva ({@code KVM_HVA_ERR_BAD}) and purges the pfn. */
  @Test
  void aDeletedSlotPurgesThePfnOnRefresh() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x1000, LEN)));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, 0, ArchVms.HVA)));
    assertFalse(check(gpc, LEN), "the memslot generation moved on");
    assertEquals(Errno.EFAULT.negative(), withSrcu(kvm, () -> gpc.refresh(LEN)));
    assertEquals(KvmPfn.ERR_FAULT, gpc.khvaPfn());
    assertFalse(check(gpc, LEN));
  }

  @Test
  void aDeactivatedCacheRefusesRefreshesUntilActivatedAgain() {
    KvmInstance kvm = vm();
    GfnToPfnCache gpc = new GfnToPfnCache(kvm);
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x1000, LEN)));
    assertTrue(kvm.pfnCaches().active().contains(gpc));
    gpc.deactivate();
    assertFalse(gpc.active());
    assertFalse(gpc.valid());
    assertEquals(KvmPfn.ERR_FAULT, gpc.khvaPfn());
    assertFalse(kvm.pfnCaches().active().contains(gpc), "off the VM's list");
    assertFalse(check(gpc, LEN));
    assertEquals(Errno.EINVAL.negative(), withSrcu(kvm, () -> gpc.refresh(LEN)));
    gpc.deactivate();
    assertEquals(0, withSrcu(kvm, () -> gpc.activate(0x1000, LEN)));
    assertTrue(check(gpc, LEN));
    assertEquals(frame(kvm, 1), gpc.khvaPfn());
  }
}

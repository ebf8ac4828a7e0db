package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.trace.TraceListener;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * arm64 6.13's stage-2 paths that the other arm64 tests leave open, judged by the descriptors
 * left in stage-2 memory (decoded by the plugin's own format), folio and memcache state, the
 * VM's TLB invalidations and the handlers' returns: {@code kvm_handle_guest_abort} and
 * {@code handle_access_fault}; {@code user_mem_abort} with {@code get_vma_page_shift},
 * {@code fault_supports_stage2_huge_mapping}, {@code transparent_hugepage_adjust}, the MTE
 * check, {@code kvm_pgtable_stage2_relax_perms} for permission faults on blocks and the
 * {@code mmu_invalidate_retry} exit; and the arch MMU hooks {@code kvm_unmap_gfn_range}
 * ({@code kvm_pgtable_stage2_unmap}, {@code stage2_apply_range}), {@code kvm_stage2_wp_range},
 * {@code kvm_arch_prepare_memory_region}, {@code kvm_arch_commit_memory_region},
 * {@code kvm_arch_flush_shadow_memslot}, {@code kvm_arch_flush_shadow_all},
 * {@code kvm_arch_mmu_enable_log_dirty_pt_masked}, {@code kvm_mmu_split_huge_pages} and
 * {@code kvm_vm_ioctl_enable_cap}.
 */
class Arm64StageTwoGapTests {

  private static final String CONFIG = "4k-ipa40";
  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;
  private static final long MB = ArchVms.MB;
  private static final long GB = 1L << 30;
  private static final long HVA = ArchVms.HVA;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;
  /** ESR_ELx's fault status code of an access-flag fault; the level is in the low bits. */
  private static final int FSC_ACCESS = 0x08;

  private static KvmInstance touched(String configuration, String extra) {
    return ArchVms.withTouchedSlot("arm64", configuration, extra, BYTES, 0);
  }

  private static long hva(long gfn) {
    return HVA + (gfn << 12);
  }

  /** A VM whose slot 0 maps gpa 0 onto 2 MiB of THP memory the VMM has written (one folio). */
  private static KvmInstance writtenThpSlot() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, RW, VmaKind.ANON_THP));
    assertEquals(0, kvm.vmm().userWrite(HVA));
    assertEquals(0, slot(kvm, 0, 0, 0, 2 * MB, HVA));
    return kvm;
  }

  private static int slot(KvmInstance kvm, int id, int flags, long gpa, long bytes, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, bytes, hva));
  }

  /** The leaf mapping {@code gfn}, decoded by the descriptor format of {@code configuration}. */
  private static DecodedDescriptor decoded(KvmInstance kvm, String configuration, long gfn) {
    ArchConfiguration c = new Arm64Plugin().configurations().stream()
        .filter(x -> x.name().equals(configuration)).findFirst().orElseThrow();
    return new Arm64Plugin().descriptorFormat(c)
        .decode(ArchVms.leaf(kvm, gfn), OptionalInt.of(ArchVms.leafLevel(kvm, gfn)));
  }

  private static DecodedDescriptor decoded(KvmInstance kvm, long gfn) {
    return decoded(kvm, CONFIG, gfn);
  }

  private static String field(DecodedDescriptor d, String name) {
    return d.fields().stream().filter(f -> f.name().equals(name)).map(DescriptorField::value)
        .findFirst().orElseThrow();
  }

  private static long outputAddress(KvmInstance kvm, long gfn) {
    return decoded(kvm, gfn).outputAddress().orElseThrow();
  }

  /** An abort the hardware would report for {@code gpa}, with fault status {@code fsc}. */
  private static int abort(KvmInstance kvm, long gpa, int access, boolean present, int fsc) {
    Stage2Walk walk = new Stage2Walk();
    walk.begin(gpa, access);
    walk.faulted(present, 0, fsc);
    return kvm.arch().handleGuestFault(0, walk);
  }

  /** Runs {@code body} on a thread of its own (an actor with its own memcache); its result. */
  private static int onNewThread(IntSupplier body) throws Exception {
    int[] result = new int[1];
    Throwable[] failure = new Throwable[1];
    Thread t = new Thread(() -> {
      try {
        result[0] = body.getAsInt();
      } catch (Throwable e) {
        failure[0] = e;
      }
    }, "vcpu-thread");
    t.start();
    t.join(60_000);
    assertFalse(t.isAlive(), "the thread finished");
    if (failure[0] != null) {
      throw new AssertionError(failure[0]);
    }
    return result[0];
  }

  /** The events {@code kvm} emits from the moment it is attached: how many of each. */
  private static final class Events implements TraceListener {
    private final long[] counts = new long[Tracepoint.values().length];

    static Events of(KvmInstance kvm) {
      Events e = new Events();
      kvm.log().addListener(e);
      return e;
    }

    @Override
    public void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
      counts[tp.ordinal()]++;
    }

    long count(Tracepoint tp) {
      return counts[tp.ordinal()];
    }
  }

  // ---- kvm_handle_guest_abort, handle_access_fault -------------------------------------------

  /**
   * {@code handle_access_fault} only sets AF on the leaf (kvm_pgtable_stage2_mkyoung): no
   * faultin, no memcache top-up, no TLB invalidation, every other descriptor bit kept.
   */
  @Test
  void anAccessFlagFaultSetsOnlyTheAccessFlag() {
    KvmInstance kvm = touched(CONFIG, "");
    assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.WRITE));
    long young = ArchVms.leaf(kvm, 4);
    assertTrue(kvm.vmm().clearYoungNotify(hva(4), hva(5)));
    assertFalse(ArchVms.young(kvm, 4));
    long pfn = HostPte.pfn(kvm.vmm().hostPte(hva(4)));
    int refs = kvm.memory().refcount(pfn);
    long flushes = kvm.remoteTlbFlushes();
    int cached = kvm.pageTablePages().cachedPages();
    Events events = Events.of(kvm);
    assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.READ));
    assertEquals(young, ArchVms.leaf(kvm, 4), "AF set again, nothing else changed");
    assertEquals(refs, kvm.memory().refcount(pfn));
    assertEquals(flushes, kvm.remoteTlbFlushes());
    assertEquals(cached, kvm.pageTablePages().cachedPages());
    assertEquals(0, events.count(Tracepoint.KVM_FAULTIN_PFN));
    assertEquals(0, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
    assertFalse(kvm.mmuLock().isHeld(), "mmu_lock was dropped");
  }

  /** The memslot check comes before the access-flag one: no slot is MMIO, or -ENOEXEC. */
  @Test
  void anAccessFlagFaultOutsideEveryMemslotIsAnMmioExit() {
    KvmInstance kvm = touched(CONFIG, "");
    assertEquals(KvmExit.MMIO, abort(kvm, 0x200000, GuestAccess.READ, true, FSC_ACCESS | 3));
    assertEquals(Errno.ENOEXEC.negative(),
        abort(kvm, 0x200000, GuestAccess.EXEC, true, FSC_ACCESS | 3));
  }

  // ---- user_mem_abort: execute permission ---------------------------------------------------

  /**
   * Without ARM64_HAS_CACHE_DIC only an instruction abort maps executable; a fetch from a
   * page a load mapped XN is a permission fault that clears XN in place and invalidates.
   */
  @Test
  void onlyInstructionAbortsMapExecutableAndAFetchRelaxesXnInPlace() {
    KvmInstance kvm = touched(CONFIG, "");
    assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.READ));
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.EXEC));
    assertFalse(decoded(kvm, 2).executable());
    assertTrue(decoded(kvm, 3).executable());
    assertTrue(decoded(kvm, 3).readable());
    long address = outputAddress(kvm, 2);
    boolean writable = decoded(kvm, 2).writable();
    long flushes = kvm.remoteTlbFlushes();
    int cached = kvm.pageTablePages().cachedPages();
    assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.EXEC));
    DecodedDescriptor d = decoded(kvm, 2);
    assertTrue(d.executable());
    assertEquals(address, d.outputAddress().orElseThrow());
    assertEquals(writable, d.writable());
    assertEquals(flushes + 1, kvm.remoteTlbFlushes(), "relax_perms invalidates the IPA");
    assertEquals(cached, kvm.pageTablePages().cachedPages(), "a permission fault tops up nothing");
  }

  /**
   * A fetch from a 2 MiB block a load mapped XN takes a permission fault at level 2, whose
   * granule is the block: relax_perms makes the whole block executable, still one block.
   */
  @Test
  void aFetchFromABlockRelaxesTheWholeBlock() {
    KvmInstance kvm = writtenThpSlot();
    assertEquals(0, ArchVms.access(kvm, 0, 0x1000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 1));
    assertFalse(decoded(kvm, 1).executable());
    long address = outputAddress(kvm, 1);
    long flushes = kvm.remoteTlbFlushes();
    int cached = kvm.pageTablePages().cachedPages();
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.EXEC));
    assertEquals(2, ArchVms.leafLevel(kvm, 5));
    assertTrue(decoded(kvm, 0x1ff).executable());
    assertEquals(address, outputAddress(kvm, 0x1ff));
    assertEquals(flushes + 1, kvm.remoteTlbFlushes());
    assertEquals(cached, kvm.pageTablePages().cachedPages());
  }

  /**
   * Dirty logging write-protects a block and turning it off leaves it so; the next write is a
   * permission fault at level 2 that relaxes the block in place, allocating nothing.
   */
  @Test
  void aBlockWriteProtectedByLoggingIsRelaxedWholeOnceLoggingStops() {
    KvmInstance kvm = writtenThpSlot();
    assertEquals(0, ArchVms.access(kvm, 0, 0x1000, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 1));
    long address = outputAddress(kvm, 1);
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    assertFalse(ArchVms.writable(kvm, 1));
    assertEquals(0, slot(kvm, 0, 0, 0, 2 * MB, HVA));
    assertFalse(ArchVms.writable(kvm, 1), "turning logging off restores nothing");
    int cached = kvm.pageTablePages().cachedPages();
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, ArchVms.access(kvm, 0, 0x3000, GuestAccess.WRITE));
    assertEquals(2, ArchVms.leafLevel(kvm, 3));
    assertTrue(ArchVms.writable(kvm, 0x1ff));
    assertEquals(address, outputAddress(kvm, 0x1ff));
    assertEquals(cached, kvm.pageTablePages().cachedPages());
    assertEquals(flushes + 1, kvm.remoteTlbFlushes());
  }

  /**
   * While logging, a write to a read-only block maps a page over it, which needs a table:
   * that permission fault tops the vCPU's memcache up first ({@code logging_active &&
   * write_fault}), so a vCPU whose cache is still empty maps without an atomic allocation.
   */
  @Test
  void aWriteToABlockWhileLoggingMapsAPageWithATableFromTheMemcache() throws Exception {
    KvmInstance kvm = writtenThpSlot();
    assertEquals(0, ArchVms.access(kvm, 0, 0x1000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 1));
    long address = outputAddress(kvm, 1);
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    long atomic = kvm.pageTablePages().emptyCacheAllocations();
    assertEquals(0, onNewThread(() -> ArchVms.access(kvm, 1, 0x3000, GuestAccess.WRITE)));
    assertEquals(atomic, kvm.pageTablePages().emptyCacheAllocations(), "the table came topped up");
    assertEquals(3, ArchVms.leafLevel(kvm, 3));
    assertTrue(ArchVms.writable(kvm, 3));
    assertEquals(address + 0x3000, outputAddress(kvm, 3));
    assertEquals(0, ArchVms.leaf(kvm, 4), "the rest of the block faults in again");
    long[] bitmap = new long[8];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 3, bitmap[0]);
  }

  /**
   * Once logging is off, a write to a page it left read-only is a permission fault at the page
   * level on THP memory: {@code transparent_hugepage_adjust} maps the 2 MiB block again.
   */
  @Test
  void aWriteAfterLoggingStopsMapsTheBlockBackOverItsPages() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, RW, VmaKind.ANON_THP));
    assertEquals(0, kvm.vmm().userWrite(HVA));
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, 5));
    long head = outputAddress(kvm, 5) - 0x5000;
    assertEquals(0, slot(kvm, 0, 0, 0, 2 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.WRITE));
    assertEquals(2, ArchVms.leafLevel(kvm, 5), "a block again, not the page relaxed");
    assertTrue(ArchVms.writable(kvm, 0x1ff));
    assertEquals(head, outputAddress(kvm, 0));
  }

  /**
   * A THP block maps from the head of the huge page whatever page of it faulted: the pfn is
   * rounded down to the block with the IPA.
   */
  @Test
  void aTransparentHugepageBlockMapsFromTheFoliosHead() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 6 * MB, RW, VmaKind.ANON_THP));
    assertEquals(0, kvm.vmm().userWrite(HVA));
    assertEquals(0, kvm.vmm().userWrite(HVA + 2 * MB));
    assertEquals(0, kvm.vmm().userWrite(HVA + 4 * MB + 0x5000));
    assertEquals(0, slot(kvm, 0, 0, 0, 6 * MB, HVA));
    long head = HostPte.pfn(kvm.vmm().hostPte(HVA + 4 * MB)) << 12;
    assertEquals(0, head & (2 * MB - 1));
    assertTrue(head >= 4 * MB, "the third huge page: no mask of a low bit leaves it whole");
    assertEquals(0, ArchVms.access(kvm, 0, 4 * MB + 0x5000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 0x405));
    assertEquals(head, outputAddress(kvm, 0x400));
  }

  /**
   * A permission fault whose leaf was zapped after the hardware reported it finds no valid
   * entry to relax: -EAGAIN, so the guest re-enters (0) with nothing mapped, the page is
   * released unused and the gfn is not logged.
   */
  @Test
  void aPermissionFaultOnAZappedLeafReentersWithNothingMappedOrLogged() {
    KvmInstance kvm = ArchVms.withTouchedSlot("arm64", CONFIG, "", BYTES,
        MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    Stage2Walk walk = new Stage2Walk();
    walk.begin(3L << 12, GuestAccess.WRITE);
    kvm.arch().walker().walk(walk);
    assertFalse(walk.translated());
    assertEquals(0, kvm.vmm().madviseDontneed(hva(3), 0x1000));
    assertEquals(0, ArchVms.leaf(kvm, 3));
    Events events = Events.of(kvm);
    assertEquals(0, kvm.arch().handleGuestFault(0, walk));
    assertEquals(0, ArchVms.leaf(kvm, 3));
    assertEquals(1, events.count(Tracepoint.KVM_RELEASE_PAGE_UNUSED));
    assertEquals(0, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0]);
  }


  // ---- user_mem_abort: block sizes from the VMA ---------------------------------------------

  /**
   * hugetlbfs memory with PMD pages maps a 2 MiB block at the fault's IPA rounded down to the
   * block, from the huge page's head; a slot whose IPA and hva disagree mod 2 MiB maps pages.
   */
  @Test
  void hugetlbPmdPagesMapBlocksWhereTheSlotAlignsAndPagesElsewhere() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, RW, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.vmm().userWrite(HVA), "the first huge page, so the second is not at 0");
    assertEquals(0, slot(kvm, 0, 0, 0, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 2 * MB + 0x3000, GuestAccess.WRITE));
    assertEquals(2, ArchVms.leafLevel(kvm, 0x203));
    long head = HostPte.pfn(kvm.vmm().hostPte(HVA + 2 * MB)) << 12;
    assertEquals(head, outputAddress(kvm, 0x3ff));
    assertNotEquals(0, head);
    assertEquals(0, head & (2 * MB - 1));
    assertEquals(0, ArchVms.leaf(kvm, 0x1ff), "the block below is not mapped");
    KvmInstance shifted = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, shifted.vmm().mmap(HVA, 4 * MB, RW, VmaKind.HUGETLB_PMD));
    assertEquals(0, slot(shifted, 0, 0, MB, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(shifted, 0, MB + 0x3000, GuestAccess.WRITE));
    assertEquals(3, ArchVms.leafLevel(shifted, (MB + 0x3000) >>> 12));
    assertEquals((HostPte.pfn(shifted.vmm().hostPte(HVA + 0x3000)) << 12) + 0x3000,
        decoded(shifted, (MB + 0x3000) >>> 12).outputAddress().orElseThrow());
  }

  /** With dirty logging on, hugetlbfs memory too is mapped with pages ({@code force_pte}). */
  @Test
  void hugetlbMemoryOfALoggingSlotIsMappedWithPages() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, RW, VmaKind.HUGETLB_PMD));
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.WRITE));
    assertEquals(3, ArchVms.leafLevel(kvm, 5));
    assertEquals(0, ArchVms.leaf(kvm, 4));
  }

  /**
   * hugetlbfs memory with 1 GiB pages maps a level-1 block where a 1 GiB block fits the slot;
   * where it does not, the fault falls back to a 2 MiB block if one fits.
   */
  @Test
  void hugetlbPudPagesMapGigabyteBlocksOrFallBackToPmdBlocks() {
    String host = "kvmmodel.host.memory = 2 GiB";
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, host);
    assertEquals(HVA, kvm.vmm().mmap(HVA, GB, RW, VmaKind.HUGETLB_PUD));
    assertEquals(0, slot(kvm, 0, 0, GB, GB, HVA));
    long gfn = (GB + 3 * MB + 0x5000) >>> 12;
    assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.READ));
    assertEquals(1, ArchVms.leafLevel(kvm, gfn));
    assertEquals(HostPte.pfn(kvm.vmm().hostPte(HVA)) << 12, outputAddress(kvm, GB >>> 12));
    KvmInstance inner = ArchVms.create("arm64", CONFIG, host);
    assertEquals(HVA, inner.vmm().mmap(HVA, GB, RW, VmaKind.HUGETLB_PUD));
    assertEquals(0, slot(inner, 0, 0, GB + 2 * MB, GB - 2 * MB, HVA + 2 * MB));
    assertEquals(0, ArchVms.access(inner, 0, gfn << 12, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(inner, gfn), "the 1 GiB block would leave the slot");
    assertEquals((HostPte.pfn(inner.vmm().hostPte(HVA + 2 * MB)) << 12) + 2 * MB,
        decoded(inner, (GB + 2 * MB) >>> 12).outputAddress().orElseThrow());
  }

  /**
   * {@code get_vma_page_shift} for {@code VM_PFNMAP}: a 2 MiB Device block where the hva and
   * the physical address agree mod 2 MiB and the block lies inside the VMA, else a page.
   */
  @Test
  void pfnmapMemoryMapsDeviceBlocksOnlyWhereTheVmaAndItsPfnsAlign() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    long io = kvm.memory().ioPfnBase();
    assertEquals(0, io & 511, "the host's IO pfns start 2 MiB aligned");
    assertEquals(HVA, kvm.vmm().mmapPfn(HVA, 4 * MB, RW, io));
    assertEquals(0, slot(kvm, 0, 0, 0, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 2 * MB + 0x5000, GuestAccess.WRITE));
    assertEquals(2, ArchVms.leafLevel(kvm, 0x205));
    DecodedDescriptor d = decoded(kvm, 0x205);
    assertEquals((io << 12) + 2 * MB, d.outputAddress().orElseThrow());
    assertTrue(field(d, "memattr").contains("device-nGnRE"), field(d, "memattr"));
    assertFalse(d.executable());
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 5), "the block at the VMA's start");
    assertEquals(io << 12, outputAddress(kvm, 0));
    KvmInstance skewed = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, skewed.vmm().mmapPfn(HVA, 4 * MB, RW, io + 513));
    assertEquals(0, slot(skewed, 0, 0, 0, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(skewed, 0, 0x5000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(skewed, 5), "pfns a page off the 2 MiB alignment");
    KvmInstance offByOne = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, offByOne.vmm().mmapPfn(HVA, 4 * MB, RW, io + 1));
    assertEquals(0, slot(offByOne, 0, 0, 0, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(offByOne, 0, 2 * MB + 0x5000, GuestAccess.WRITE));
    assertEquals(3, ArchVms.leafLevel(offByOne, 0x205), "pfns not 2 MiB aligned with the hva");
    assertEquals(((io + 1) << 12) + 2 * MB + 0x5000,
        decoded(offByOne, 0x205).outputAddress().orElseThrow());
  }

  /** A PFNMAP VMA that starts or ends inside a 2 MiB block gets pages in that block. */
  @Test
  void pfnmapBlocksMustLieInsideTheVma() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    long io = kvm.memory().ioPfnBase();
    assertEquals(HVA, kvm.vmm().mmap(HVA, MB, RW, VmaKind.ANON));
    assertEquals(HVA + MB, kvm.vmm().mmapPfn(HVA + MB, 2 * MB, RW, io + 256));
    assertEquals(HVA + 3 * MB, kvm.vmm().mmap(HVA + 3 * MB, MB, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, 0, 4 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, MB + 0x5000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, (MB + 0x5000) >>> 12), "the VMA starts mid-block");
    assertEquals(0, ArchVms.access(kvm, 0, 2 * MB + 0x5000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, 0x205), "the VMA ends mid-block");
    assertEquals(((io + 256) << 12) + MB + 0x5000,
        decoded(kvm, 0x205).outputAddress().orElseThrow());
  }

  /** A read-only slot does not log, so even with the log flag a THP read maps a block. */
  @Test
  void aReadOnlySlotWithTheLogFlagStillMapsBlocks() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, RW, VmaKind.ANON_THP));
    assertEquals(0, kvm.vmm().userWrite(HVA));
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_READONLY | MemorySlot.KVM_MEM_LOG_DIRTY_PAGES,
        0, 2 * MB, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 0x5000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 5));
    assertFalse(ArchVms.writable(kvm, 5));
  }

  // ---- user_mem_abort: MTE, retry, races ----------------------------------------------------

  /**
   * With MTE, a translation fault on memory with a struct page from a VMA that may not carry
   * tags (a regular file mapped after the slot was made) is -EFAULT and maps nothing; device
   * memory is exempt and maps.
   */
  @Test
  void mteRefusesNormalMemoryFromAVmaWithoutTagsButMapsDeviceMemory() {
    String mte = "4k-ipa40-fwb-ha-mte";
    KvmInstance kvm = ArchVms.create("arm64", mte, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * BYTES, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, 0, 2 * BYTES, HVA));
    assertEquals(0, kvm.vmm().munmap(HVA, 2 * BYTES));
    HostFile file = kvm.memory().createFile(PAGES);
    assertEquals(HVA, kvm.vmm().mmapFile(HVA, BYTES, RW, file, 0));
    long io = kvm.memory().ioPfnBase();
    assertEquals(HVA + BYTES, kvm.vmm().mmapPfn(HVA + BYTES, BYTES, RW, io));
    assertEquals(0, kvm.vmm().userWrite(hva(3)));
    long pfn = HostPte.pfn(kvm.vmm().hostPte(hva(3)));
    int refs = kvm.memory().refcount(pfn);
    assertEquals(Errno.EFAULT.negative(), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    assertEquals(0, ArchVms.leaf(kvm, 3));
    assertEquals(refs, kvm.memory().refcount(pfn), "the faultin reference was dropped");
    assertEquals(0, ArchVms.access(kvm, 0, (PAGES + 2) << 12, GuestAccess.READ));
    assertTrue(field(decoded(kvm, mte, PAGES + 2), "memattr").contains("device"));
  }

  /**
   * A write to a page the host maps read-only breaks COW in faultin, whose invalidation the
   * retry check sees: the abort returns 0 with nothing mapped and the page released unused;
   * the write that follows maps the new page writable.
   */
  @Test
  void anInvalidationDuringFaultinRetriesTheAbortWithNothingMapped() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, BYTES, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, 0, BYTES, HVA));
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    assertFalse(ArchVms.writable(kvm, 3), "the zero page, read-only");
    Events events = Events.of(kvm);
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE));
    assertEquals(1, events.count(Tracepoint.INVALIDATE_RANGE_START));
    assertEquals(0, ArchVms.leaf(kvm, 3), "unmapped by the invalidation, not mapped again");
    assertEquals(1, events.count(Tracepoint.KVM_RELEASE_PAGE_UNUSED));
    assertEquals(0, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
    long pfn = HostPte.pfn(kvm.vmm().hostPte(hva(3)));
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 3));
    assertEquals(pfn << 12, outputAddress(kvm, 3));
    assertEquals(1, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
  }

  /**
   * Two vCPUs fault on one page before either maps it: the second finds the same mapping,
   * -EAGAIN from the map, which re-enters the guest (0), releases its page unused and marks
   * nothing dirty.
   */
  @Test
  void theLoserOfARaceToMapAPageReentersTheGuestWithItsPageUnused() {
    KvmInstance kvm = touched(CONFIG, "");
    Stage2Walk first = new Stage2Walk();
    first.begin(5L << 12, GuestAccess.WRITE);
    kvm.arch().walker().walk(first);
    Stage2Walk second = new Stage2Walk();
    second.begin(5L << 12, GuestAccess.WRITE);
    kvm.arch().walker().walk(second);
    assertFalse(second.translated());
    assertEquals(0, kvm.arch().handleGuestFault(0, first));
    long leaf = ArchVms.leaf(kvm, 5);
    Events events = Events.of(kvm);
    assertEquals(0, kvm.arch().handleGuestFault(1, second));
    assertEquals(leaf, ArchVms.leaf(kvm, 5));
    assertEquals(1, events.count(Tracepoint.KVM_RELEASE_PAGE_UNUSED));
    assertEquals(0, events.count(Tracepoint.KVM_RELEASE_PAGE_DIRTY));
    assertEquals(0, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
  }

  /** A write fault that maps marks the gfn dirty and releases its page dirty. */
  @Test
  void aWriteFaultReleasesItsPageDirtyAndMarksTheGfn() {
    KvmInstance kvm = touched(CONFIG, "");
    Events events = Events.of(kvm);
    assertEquals(0, ArchVms.access(kvm, 0, 5L << 12, GuestAccess.WRITE));
    assertEquals(1, events.count(Tracepoint.KVM_RELEASE_PAGE_DIRTY));
    assertEquals(0, events.count(Tracepoint.KVM_RELEASE_PAGE_UNUSED));
    assertEquals(1, events.count(Tracepoint.MARK_PAGE_DIRTY_IN_SLOT));
  }

  // ---- kvm_unmap_gfn_range, stage2_apply_range ----------------------------------------------

  /**
   * {@code stage2_unmap_walker} invalidates each leaf it clears unless
   * {@code stage2_unmap_defer_tlb_flush} (FWB with range TLBIs), when
   * {@code kvm_pgtable_stage2_unmap} invalidates the range once; {@code kvm_unmap_gfn_range}
   * returns false, so common code adds no flush of its own.
   */
  @Test
  void unmappingInvalidatesPerLeafWithoutFwbAndOnceForTheRangeWithIt() {
    for (String[] c : new String[][] {{CONFIG, "3"}, {"4k-ipa48-fwb-ha", "1"}}) {
      KvmInstance kvm = touched(c[0], "");
      for (long gfn : new long[] {3, 4, 5, 8}) {
        assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE), c[0]);
      }
      long flushes = kvm.remoteTlbFlushes();
      assertEquals(0, kvm.vmm().munmap(hva(3), 3L << 12), c[0]);
      assertEquals(flushes + Long.parseLong(c[1]), kvm.remoteTlbFlushes(), c[0]);
      for (long gfn = 3; gfn <= 5; gfn++) {
        assertEquals(0, ArchVms.leaf(kvm, gfn), c[0] + " gfn " + gfn);
      }
      assertNotEquals(0, ArchVms.leaf(kvm, 8), c[0] + ": outside the range");
    }
  }

  /** Without FWB an unmap that finds no leaf invalidates nothing. */
  @Test
  void unmappingNothingWithoutFwbInvalidatesNothing() {
    KvmInstance kvm = touched(CONFIG, "");
    assertEquals(0, ArchVms.access(kvm, 0, 8L << 12, GuestAccess.WRITE));
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.vmm().munmap(hva(10), 3L << 12));
    assertEquals(flushes, kvm.remoteTlbFlushes());
    assertNotEquals(0, ArchVms.leaf(kvm, 8));
  }

  /**
   * A slot from 32 KiB below 1 GiB to 32 KiB above 2 GiB spans three
   * {@code stage2_apply_range} chunks: write protection on enabling logging, and unmapping,
   * reach the leaves of every chunk and nothing beyond the range.
   */
  @Test
  void writeProtectAndUnmapReachEveryChunkOfARangeAcrossGigabyteBoundaries() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    long base = GB - 0x8000;
    long size = GB + 0x10000;
    assertEquals(HVA, kvm.vmm().mmap(HVA, size, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, base, size, HVA));
    long[] gfns = {base >>> 12, (GB >>> 12) - 1, GB >>> 12, (2 * GB >>> 12) - 1, 2 * GB >>> 12,
        ((base + size) >>> 12) - 1};
    for (long gfn : gfns) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE), "gfn " + gfn);
      assertTrue(ArchVms.writable(kvm, gfn), "gfn " + gfn);
    }
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, base, size, HVA));
    for (long gfn : gfns) {
      assertFalse(ArchVms.writable(kvm, gfn), "protected: gfn " + gfn);
      assertNotEquals(0, ArchVms.leaf(kvm, gfn), "still mapped: gfn " + gfn);
    }
    assertEquals(0, kvm.vmm().munmap(HVA, size - 0x1000));
    for (int i = 0; i < gfns.length - 1; i++) {
      assertEquals(0, ArchVms.leaf(kvm, gfns[i]), "unmapped: gfn " + gfns[i]);
    }
    assertNotEquals(0, ArchVms.leaf(kvm, gfns[gfns.length - 1]), "the last page stays mapped");
  }

  // ---- kvm_arch_commit_memory_region, enable_log_dirty_pt_masked ----------------------------

  /**
   * Enabling logging write-protects the slot and flushes once the walk is done
   * ({@code kvm_mmu_wp_memory_region}); with manual protection and an initially-set bitmap
   * it protects nothing and flushes nothing.
   */
  @Test
  void enablingLoggingProtectsAndFlushesUnlessTheBitmapStartsAllSet() {
    String manual = "kvmmodel.vm.dirty-log.manual-protect = true\n";
    for (boolean initSet : new boolean[] {false, true}) {
      KvmInstance kvm = touched(CONFIG, manual
          + "kvmmodel.vm.dirty-log.initially-set = " + initSet);
      for (long gfn = 0; gfn < PAGES; gfn++) {
        assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
      }
      long flushes = kvm.remoteTlbFlushes();
      assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
      for (long gfn = 0; gfn < PAGES; gfn++) {
        assertEquals(initSet, ArchVms.writable(kvm, gfn), "init-set " + initSet + " gfn " + gfn);
      }
      assertEquals(initSet ? flushes : flushes + 1, kvm.remoteTlbFlushes(), "init-set " + initSet);
    }
  }

  /**
   * {@code kvm_mmu_write_protect_pt_masked} protects from the mask's first to its last gfn,
   * those between included: a clear of gfns 2 and 5 protects 2 to 5 and nothing else.
   */
  @Test
  void clearingADirtyLogMaskProtectsItsWholeSpan() {
    KvmInstance kvm = touched(CONFIG, "kvmmodel.vm.dirty-log.manual-protect = true");
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
    }
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals((1L << PAGES) - 1, bitmap[0]);
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 2 | 1L << 5}));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(gfn < 2 || gfn > 5, ArchVms.writable(kvm, gfn), "gfn " + gfn);
    }
  }

  /**
   * With an initially-set bitmap, a clear write-protects and, when a chunk size is set, splits
   * the blocks of the mask's span ({@code kvm_mmu_split_huge_pages}); other blocks stay.
   */
  @Test
  void clearingWithAnInitiallySetBitmapSplitsTheSpansBlocksIfAChunkSizeIsSet() {
    for (boolean eager : new boolean[] {false, true}) {
      KvmInstance kvm = ArchVms.create("arm64", CONFIG,
          "kvmmodel.vm.dirty-log { manual-protect = true, initially-set = true }");
      if (eager) {
        assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 2 * MB));
      }
      assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, RW, VmaKind.ANON_THP));
      assertEquals(0, slot(kvm, 0, 0, 0, 4 * MB, HVA));
      assertEquals(0, ArchVms.access(kvm, 0, 0x3000, GuestAccess.WRITE));
      assertEquals(0, ArchVms.access(kvm, 0, 2 * MB, GuestAccess.WRITE));
      assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA));
      assertEquals(2, ArchVms.leafLevel(kvm, 3), "enabling logging split nothing");
      assertTrue(ArchVms.writable(kvm, 3), "enabling logging protected nothing");
      assertEquals(0, kvm.clearDirtyLog(0, 0, 64, new long[] {1L << 3}));
      for (long gfn : new long[] {0, 3, 511}) {
        assertEquals(eager ? 3 : 2, ArchVms.leafLevel(kvm, gfn), "eager " + eager + " gfn " + gfn);
        assertFalse(ArchVms.writable(kvm, gfn), "eager " + eager + " gfn " + gfn);
      }
      assertEquals(2, ArchVms.leafLevel(kvm, 512), "eager " + eager + ": outside the span");
      assertTrue(ArchVms.writable(kvm, 512), "eager " + eager);
    }
  }

  // ---- kvm_arch_flush_shadow_memslot, kvm_arch_flush_shadow_all -----------------------------

  /** Deleting or moving a slot unmaps the stage-2 range of that slot and of no other. */
  @Test
  void deletingOrMovingASlotUnmapsOnlyThatSlot() {
    KvmInstance kvm = touched(CONFIG, "");
    long other = HVA + BYTES;
    assertEquals(other, kvm.vmm().mmap(other, BYTES, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 1, 0, 0x100000, BYTES, other));
    assertEquals(0, ArchVms.access(kvm, 0, 0xf000, GuestAccess.READ));
    assertEquals(0, ArchVms.access(kvm, 0, 0x100000, GuestAccess.WRITE));
    assertEquals(0, ArchVms.access(kvm, 0, 0x104000, GuestAccess.WRITE));
    assertEquals(0, slot(kvm, 1, 0, 0x200000, BYTES, other), "a move");
    assertEquals(0, ArchVms.leaf(kvm, 0x100));
    assertEquals(0, ArchVms.leaf(kvm, 0x104));
    assertNotEquals(0, ArchVms.leaf(kvm, 0xf), "slot 0 keeps its leaves");
    assertEquals(0, ArchVms.access(kvm, 0, 0x200000, GuestAccess.WRITE));
    assertEquals(0, slot(kvm, 1, 0, 0x200000, 0, other), "a delete");
    assertEquals(0, ArchVms.leaf(kvm, 0x200));
    assertNotEquals(0, ArchVms.leaf(kvm, 0xf));
  }

  /** {@code mmu_notifier_release} at exit_mmap tears every leaf down (flush_shadow_all). */
  @Test
  void theMmsExitTearsDownEveryLeaf() {
    KvmInstance kvm = touched(CONFIG, "");
    for (long gfn : new long[] {0, 7, 15}) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
    }
    kvm.vmm().exitMmap();
    assertFalse(kvm.mmuLock().isHeld(), "mmu_lock was dropped");
    for (long gfn : new long[] {0, 7, 15}) {
      assertEquals(0, ArchVms.leaf(kvm, gfn), "gfn " + gfn);
    }
  }

  // ---- kvm_arch_prepare_memory_region, kvm_vm_ioctl_enable_cap ------------------------------

  /**
   * Only CREATE, MOVE and FLAGS_ONLY are checked: a slot whose VMA lost MTE may still be
   * deleted, but not have its flags changed; a move past the IPA space is -EFAULT.
   */
  @Test
  void prepareChecksCreateMoveAndFlagsOnlyButNeverDelete() {
    KvmInstance kvm = ArchVms.create("arm64", "4k-ipa40-fwb-ha-mte", "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * BYTES, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, 0, BYTES, HVA), "a slot ending inside its VMA");
    assertEquals(0, slot(kvm, 1, 0, 0x100000, BYTES, HVA));
    assertEquals(Errno.EFAULT.negative(), slot(kvm, 1, 0, (1L << 40) - 0x1000, BYTES, HVA),
        "a move past the 40-bit IPA space");
    assertEquals(0, slot(kvm, 1, 0, (1L << 40) - BYTES, BYTES, HVA), "a move to its top");
    assertEquals(0, kvm.vmm().munmap(HVA, 2 * BYTES));
    assertEquals(HVA, kvm.vmm().mmapFile(HVA, BYTES, RW, kvm.memory().createFile(PAGES), 0));
    assertEquals(Errno.EINVAL.negative(),
        slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA), "flags only");
    assertEquals(0, slot(kvm, 0, 0, 0, 0, HVA), "a delete");
    assertEquals(Errno.EINVAL.negative(), slot(kvm, 0, 0, 0, BYTES, HVA), "a create");
  }

  /**
   * With 16 KiB pages blocks start at level 2 ({@code KVM_PGTABLE_MIN_BLOCK_LEVEL}): 32 MiB
   * is a chunk size, 64 GiB (a level-1 entry) and a page are not.
   */
  @Test
  void eagerSplitChunkSizesFollowTheGranulesBlockLevels() {
    KvmInstance kvm = ArchVms.create("arm64", "16k-ipa40", "");
    long cap = KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE;
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 36), "64 GiB");
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 14), "a page");
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 21), "2 MiB");
    assertEquals(0, kvm.enableCap(cap, 1L << 25), "32 MiB");
  }

  /**
   * {@code stage2_apply_range} with {@code may_block} yields mmu_lock between chunks when a
   * waiter is queued ({@code cond_resched_rwlock_write}): the first yield of a three-chunk
   * unmap comes after the first chunk, while the last chunk's leaf is still mapped.
   */
  @Test
  void aBlockableUnmapYieldsMmuLockBetweenChunksToAWaiter() throws Exception {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    long base = GB - 0x8000;
    long size = GB + 0x10000;
    assertEquals(HVA, kvm.vmm().mmap(HVA, size, RW, VmaKind.ANON));
    assertEquals(0, slot(kvm, 0, 0, base, size, HVA));
    long first = base >>> 12;
    long last = ((base + size) >>> 12) - 1;
    assertEquals(0, ArchVms.access(kvm, 0, first << 12, GuestAccess.WRITE));
    assertEquals(0, ArchVms.access(kvm, 0, last << 12, GuestAccess.WRITE));
    List<Boolean> lastMappedAtYield = new ArrayList<>();
    Thread self = Thread.currentThread();
    kvm.log().addListener((seq, tp, actor, a, b, c) -> {
      if (tp == Tracepoint.MMU_UNLOCK && b != 0 && Thread.currentThread() == self) {
        lastMappedAtYield.add(ArchVms.leaf(kvm, last) != 0);
      }
    });
    kvm.mmuLock().lock();
    Thread waiter = new Thread(() -> {
      kvm.mmuLock().readLock();
      kvm.mmuLock().readUnlock();
    }, "waiter");
    try {
      waiter.start();
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (!kvm.mmuLock().needResched() && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertTrue(kvm.mmuLock().needResched(), "the waiter is queued on mmu_lock");
      MemorySlot memslot = kvm.gfnToMemslot(0, first);
      assertFalse(kvm.arch().unmapGfnRange(new GfnRange(memslot, first, last + 1, true)));
    } finally {
      kvm.mmuLock().unlock();
    }
    waiter.join(30_000);
    assertFalse(waiter.isAlive());
    assertFalse(lastMappedAtYield.isEmpty(), "mmu_lock was yielded");
    assertTrue(lastMappedAtYield.get(0), "the first yield came before the last chunk");
    assertEquals(0, ArchVms.leaf(kvm, first));
    assertEquals(0, ArchVms.leaf(kvm, last));
  }

  /**
   * A range that ends one page below a 1 GiB boundary ends its last chunk there: enabling
   * logging on that slot protects none of the next slot's page at the boundary's gfn - 1.
   */
  @Test
  void aRangeEndingBelowAChunkBoundaryStopsAtItsEnd() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * BYTES, RW, VmaKind.ANON));
    long base = GB - BYTES - 0x1000;
    assertEquals(0, slot(kvm, 0, 0, base, BYTES, HVA));
    assertEquals(0, slot(kvm, 1, 0, GB - 0x1000, BYTES, HVA + BYTES));
    long below = (GB >>> 12) - 2;
    long next = (GB >>> 12) - 1;
    assertEquals(0, ArchVms.access(kvm, 0, below << 12, GuestAccess.WRITE));
    assertEquals(0, ArchVms.access(kvm, 0, next << 12, GuestAccess.WRITE));
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, base, BYTES, HVA));
    assertFalse(ArchVms.writable(kvm, below), "slot 0's last page");
    assertTrue(ArchVms.writable(kvm, next), "slot 1's first page");
  }

  /**
   * Eager splitting tops the split cache up to {@code kvm_mmu_split_nr_page_tables} of the
   * chunk (2 for 2 MiB: a PUD's and a PMD's worth) before each chunk, so splitting never
   * allocates from an empty cache, and each 2 MiB chunk's block takes one table of the two.
   */
  @Test
  void eagerSplittingTopsItsCacheUpForEachChunk() throws Exception {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 2 * MB));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 6 * MB, RW, VmaKind.ANON_THP));
    assertEquals(0, slot(kvm, 0, 0, 0, 6 * MB, HVA));
    assertEquals(0, onNewThread(() -> ArchVms.access(kvm, 0, 0x3000, GuestAccess.WRITE)
        | ArchVms.access(kvm, 0, 2 * MB, GuestAccess.WRITE)
        | ArchVms.access(kvm, 0, 4 * MB, GuestAccess.WRITE)));
    for (long gfn : new long[] {3, 512, 1024}) {
      assertEquals(2, ArchVms.leafLevel(kvm, gfn), "gfn " + gfn);
    }
    assertEquals(0, kvm.pageTablePages().cachedPages(), "this thread's cache starts empty");
    long atomic = kvm.pageTablePages().emptyCacheAllocations();
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 6 * MB, HVA));
    for (long gfn : new long[] {3, 512, 1535}) {
      assertEquals(3, ArchVms.leafLevel(kvm, gfn), "gfn " + gfn);
    }
    assertEquals(atomic, kvm.pageTablePages().emptyCacheAllocations());
    assertEquals(1, kvm.pageTablePages().cachedPages(), "2 topped up, 1 used, per chunk");
  }
}

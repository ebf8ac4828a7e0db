package org.kvmmodel.arch.arm64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.HardwareWalkControl;
import org.kvmmodel.api.pt.PageTableCursor;
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

/**
 * {@code kvm_handle_guest_abort} and the memslot hooks on a real VM: core's KVM services over
 * the host memory model, page releases recorded, the stage-2 table read back from memory.
 */
class Arm64MmuTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  private final Arm64Plugin plugin = new Arm64Plugin();
  private final List<String> releases = Collections.synchronizedList(new ArrayList<>());
  private final Stage2Walk walk = new Stage2Walk();
  private MmStruct vmm;
  private KvmInstance kvm;
  private Arm64Mmu mmu;
  private Stage2Walker walker;
  private PageTableCursor probe;
  private Stage2Config config;

  private void vm(String configuration, VmaKind kind) {
    vm(configuration, kind, DirtyLogMode.DEFAULT);
  }

  private void vm(String configuration, VmaKind kind, DirtyLogMode dirtyLogMode) {
    config = Stage2Config.of(plugin.configuration(configuration));
    HostMemory memory = new HostMemory(16384, 1024, 1024);
    vmm = new MmStruct(memory);
    kvm = KvmInstance.create(
        new KvmInstance.Spec(KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
            new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            dirtyLogMode, true, true),
        vmm, FreeScheduler.INSTANCE, FaultInjector.none(), new EventLog(256),
        k -> new Arm64Mmu(recording(k), config));
    mmu = (Arm64Mmu) kvm.arch();
    walker = mmu.walker();
    probe = mmu.pgt().newCursor(HardwareWalkControl.INSTANCE);
    assertEquals(HVA, vmm.mmap(HVA, 4 * MB, RW, kind));
    assertEquals(0, region(0, 0, 0, 4 * MB, HVA));
  }

  private int region(int id, int flags, long gpa, long size, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, size, hva));
  }

  private Kvm recording(Kvm real) {
    return (Kvm) Proxy.newProxyInstance(Kvm.class.getClassLoader(), new Class<?>[] {Kvm.class},
        (proxy, method, args) -> {
          if (method.getName().equals("releaseFaultinPage")) {
            releases.add("unused=" + args[1] + " dirty=" + args[2]);
          } else if (method.getName().startsWith("releasePage")) {
            releases.add(method.getName());
          }
          try {
            return method.invoke(real, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  /** One guest access: walk, and on a fault run the abort handler once; its return value. */
  private int access(long gpa, int access) {
    walk.begin(gpa, access);
    walker.walk(walk);
    if (walk.translated()) {
      return 0;
    }
    int srcu = kvm.srcu().readLock();
    try {
      return mmu.handleGuestFault(0, walk);
    } finally {
      kvm.srcu().readUnlock(srcu);
    }
  }

  /** Accesses until the walk translates; the leaf's level. */
  private int settle(long gpa, int access) {
    for (int i = 0; i < 4; i++) {
      assertEquals(0, access(gpa, access));
      walk.begin(gpa, access);
      walker.walk(walk);
      if (walk.translated()) {
        return walk.level();
      }
    }
    throw new AssertionError("gpa " + Long.toHexString(gpa) + " never translated");
  }

  @Test
  void anonymousMemoryIsMappedWithPagesThpWithBlocks() {
    vm("4k-ipa40", VmaKind.ANON);
    assertEquals(3, settle(0x3000, GuestAccess.WRITE));
    assertEquals(List.of("unused=false dirty=true"), releases);
    vm("4k-ipa40", VmaKind.ANON_THP);
    assertEquals(2, settle(0x203000, GuestAccess.WRITE));
    assertTrue(probe.walk(0x200) && probe.level() == 2);
    assertEquals((probe.entry() & Stage2Pte.addressMask(12)) + 0x3000, walk.hpa());
  }

  @Test
  void dirtyLoggingWriteProtectsBlocksAndWriteFaultsMapPages() {
    vm("4k-ipa48-fwb-ha", VmaKind.ANON_THP);
    assertEquals(2, settle(0x200000, GuestAccess.WRITE));
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA));
    assertTrue(probe.walk(0x200));
    assertEquals(0, probe.entry() & Stage2Pte.S2AP_W);
    walk.begin(0x201000, GuestAccess.WRITE);
    walker.walk(walk);
    assertEquals(Stage2HardwareWalker.FSC_PERM | 2, walk.faultKind());
    assertEquals(3, settle(0x201000, GuestAccess.WRITE));
    assertTrue(probe.walk(0x201) && probe.level() == 3);
    assertTrue((probe.entry() & Stage2Pte.S2AP_W) != 0);
    assertFalse(probe.walk(0x202), "the block became an empty table: the rest refaults");
    assertEquals(3, probe.level());
    assertEquals(0, probe.entry());
  }

  @Test
  void anAccessFlagFaultSetsAfAndTouchesNoFolio() {
    vm("4k-ipa40", VmaKind.ANON);
    settle(0x5000, GuestAccess.READ);
    releases.clear();
    assertTrue(vmm.clearYoungNotify(HVA + 0x5000, HVA + 0x6000));
    walk.begin(0x5000, GuestAccess.READ);
    walker.walk(walk);
    assertEquals(Stage2HardwareWalker.FSC_ACCESS | 3, walk.faultKind());
    assertEquals(3, settle(0x5000, GuestAccess.READ));
    assertEquals(List.of(), releases);
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    settle(0x5000, GuestAccess.READ);
    assertTrue(vmm.clearYoungNotify(HVA + 0x5000, HVA + 0x6000));
    walk.begin(0x5000, GuestAccess.READ);
    walker.walk(walk);
    assertTrue(walk.translated(), "VTCR_EL2.HA: the walker sets AF itself");
  }

  @Test
  void anMteVmRefusesMemoryThatCannotCarryTagsAndReleasesThePageUnused() {
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    assertEquals(0, vmm.munmap(HVA, 4 * MB));
    assertEquals(HVA, vmm.mmap(HVA, 4 * MB, RW, VmaKind.ZONE_DEVICE));
    assertEquals(Errno.EFAULT.negative(), access(0x1000, GuestAccess.READ));
    assertEquals(1, releases.size());
    assertTrue(releases.get(0).startsWith("unused=true"), releases.toString());
    assertEquals(Errno.EINVAL.negative(), region(1, 0, 8 * MB, MB, HVA));
  }

  @Test
  void noMemslotOrAWriteToAReadOnlyOneIsAnMmioExit() {
    vm("4k-ipa40", VmaKind.ANON);
    assertEquals(KvmExit.MMIO, access(64 * MB, GuestAccess.READ));
    assertEquals(HVA + 8 * MB, vmm.mmap(HVA + 8 * MB, MB, RW, VmaKind.ANON));
    assertEquals(0, region(1, MemorySlot.KVM_MEM_READONLY, 8 * MB, MB, HVA + 8 * MB));
    assertEquals(KvmExit.MMIO, access(8 * MB, GuestAccess.WRITE));
    assertEquals(3, settle(8 * MB, GuestAccess.READ));
  }

  @Test
  void prepareRefusesSlotsBeyondTheIpaSizeAndLoggingOnPfnmap() {
    vm("4k-ipa40", VmaKind.ANON);
    assertEquals(Errno.EFAULT.negative(), region(1, 0, (1L << 40) - MB, 2 * MB, HVA));
    assertEquals(HVA + 8 * MB, vmm.mmapPfn(HVA + 8 * MB, MB, RW, 0x4400));
    assertEquals(Errno.EINVAL.negative(),
        region(1, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 8 * MB, MB, HVA + 8 * MB));
    assertEquals(0, region(1, 0, 8 * MB, MB, HVA + 8 * MB));
  }

  /**
   * Memory without a struct page is mapped with the device memory type, or normal
   * non-cacheable when the driver set VM_ALLOW_ANY_UNCACHED on the VMA, with and without
   * FEAT_S2FWB; never executable.
   */
  @Test
  void pfnmapMemoryIsDeviceUnlessTheVmaAllowsAnyUncached() {
    for (String configuration : new String[] {"4k-ipa40", "4k-ipa48-fwb-ha"}) {
      assertEquals(Stage2Pte.MT_S2_DEVICE_NGNRE, pfnmapMemAttr(configuration, 0));
      assertEquals("0x1 (device-nGnRE)", decodedMemAttr());
      assertEquals(Stage2Pte.MT_S2_NORMAL_NC,
          pfnmapMemAttr(configuration, Vma.VM_ALLOW_ANY_UNCACHED));
      assertEquals("0x5 (normal non-cacheable)", decodedMemAttr());
      assertEquals(Errno.ENOEXEC.negative(), access(8 * MB + 0x2000, GuestAccess.EXEC));
    }
  }

  /** A VM whose slot 1 is a 1 MiB PFNMAP VMA with {@code driverFlags}; a read's MemAttr. */
  private int pfnmapMemAttr(String configuration, long driverFlags) {
    vm(configuration, VmaKind.ANON);
    long io = HVA + 8 * MB;
    assertEquals(io, vmm.mmapPfn(io, MB, RW, vmm.memory().ioPfnBase(), driverFlags));
    assertEquals(0, region(1, 0, 8 * MB, MB, io));
    assertEquals(3, settle(8 * MB + 0x1000, GuestAccess.READ));
    assertTrue(probe.walk((8 * MB + 0x1000) >>> 12));
    assertTrue((probe.entry() & Stage2Pte.XN) != 0);
    return (int) ((probe.entry() & Stage2Pte.MEMATTR_MASK) >>> Stage2Pte.MEMATTR_SHIFT);
  }

  /** The memattr field of the probe's entry as the descriptor decoder prints it. */
  private String decodedMemAttr() {
    return new Stage2DescriptorFormat(config).decode(probe.entry(), OptionalInt.of(3)).fields()
        .stream().filter(f -> f.name().equals("memattr")).findFirst().orElseThrow().value();
  }

  @Test
  void unmapClearsLeavesAndReturnsFalse() {
    vm("4k-ipa40", VmaKind.ANON);
    settle(0x1000, GuestAccess.WRITE);
    assertEquals(0, vmm.munmap(HVA + 0x1000, 0x1000));
    assertFalse(probe.walk(1));
  }

  /**
   * KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE is accepted only before the first memslot and only as 0
   * or a block size; set, enabling dirty logging splits the slot's blocks into pages.
   */
  @Test
  void anEagerSplitChunkSizeSplitsBlocksWhenLoggingStarts() {
    vm("4k-ipa40", VmaKind.ANON_THP);
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 0),
        "a memslot exists");
    assertEquals(0, region(0, 0, 0, 0, HVA));
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, MB));
    assertEquals(Errno.EINVAL.negative(),
        kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 3 * 2 * MB));
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 4096));
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(1, 0), "a capability arm64 lacks");
    assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 1L << 30));
    assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 2 * MB));
    assertEquals(0, region(0, 0, 0, 4 * MB, HVA));
    assertEquals(2, settle(0x1000, GuestAccess.WRITE));
    assertEquals(2, settle(0x201000, GuestAccess.WRITE));
    assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA));
    for (long gfn : new long[] {0, 0x1ff, 0x200, 0x3ff}) {
      assertTrue(probe.walk(gfn), "gfn " + gfn);
      assertEquals(3, probe.level(), "gfn " + gfn + " is a page after the split");
      assertEquals(0, probe.entry() & Stage2Pte.S2AP_W, "split from a write-protected block");
    }
  }

  /**
   * With manual protection and an initially-all-set bitmap, enabling logging leaves the blocks
   * alone; each KVM_CLEAR_DIRTY_LOG write-protects the span of its mask, which takes the whole
   * block covering it, and with a chunk size set then splits that block into pages, which
   * inherit its read-only permission. Blocks outside the mask stay writable blocks.
   */
  @Test
  void clearDirtyLogWriteProtectsTheMaskedBlockAndSplitsItOnlyWithAChunkSize() {
    for (long chunkSize : new long[] {0, 2 * MB}) {
      vm("4k-ipa40", VmaKind.ANON_THP, new DirtyLogMode(true, true));
      assertEquals(0, region(0, 0, 0, 0, HVA));
      assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, chunkSize));
      assertEquals(0, region(0, 0, 0, 4 * MB, HVA));
      assertEquals(2, settle(0x1000, GuestAccess.WRITE));
      assertEquals(2, settle(0x201000, GuestAccess.WRITE));
      assertEquals(0, region(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * MB, HVA));
      assertLeaf(0x205, 2, true, "logging starts with nothing protected");
      assertEquals(0, kvm.clearDirtyLog(0, 0x200, 64, new long[] {0b111000}));
      String why = "chunk size " + chunkSize;
      if (chunkSize == 0) {
        assertLeaf(0x203, 2, false, why);
      } else {
        for (long gfn : new long[] {0x200, 0x203, 0x205, 0x206, 0x3ff}) {
          assertLeaf(gfn, 3, false, why + ", gfn " + Long.toHexString(gfn));
        }
      }
      assertLeaf(0x1ff, 2, true, why + ": the block outside the mask");
    }
  }

  private void assertLeaf(long gfn, int level, boolean writable, String why) {
    assertTrue(probe.walk(gfn), why);
    assertEquals(level, probe.level(), why);
    assertEquals(writable, (probe.entry() & Stage2Pte.S2AP_W) != 0, why);
  }

  /** {@code stage2_unmap_walker} visits tables after their entries and puts the empty ones. */
  @Test
  void unmapFreesTheTablesItEmptiesAndKeepsTheOthers() {
    vm("4k-ipa40", VmaKind.ANON);
    settle(0x1000, GuestAccess.WRITE);
    settle(0x3000, GuestAccess.WRITE);
    assertEquals(0, vmm.munmap(HVA + 0x1000, 0x1000));
    assertFalse(probe.walk(1));
    assertEquals(3, probe.level(), "gfn 3 keeps the last-level table linked");
    assertEquals(0, vmm.munmap(HVA + 0x3000, 0x1000));
    assertFalse(probe.walk(3));
    assertEquals(1, probe.level(), "both tables below the start level are gone");
    assertEquals(0, probe.entry());
  }

  private static final long TAGS = 0x7e0000000000L;

  private int copyTags(long gpa, long length, long addr, long flags) {
    return kvm.vmIoctl(MteCopyTags.KVM_ARM_MTE_COPY_TAGS, MteCopyTags.arg(gpa, length, addr, flags));
  }

  @Test
  void copyingMteTagsRefusesVmsWithoutMteAndMalformedRequests() {
    vm("4k-ipa40", VmaKind.ANON);
    assertEquals(TAGS, vmm.mmap(TAGS, 0x10000, RW, VmaKind.ANON));
    assertEquals(Errno.EINVAL.negative(), copyTags(0, 0x1000, TAGS, 0));
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    assertEquals(TAGS, vmm.mmap(TAGS, 0x10000, RW, VmaKind.ANON));
    long[] reserved = MteCopyTags.arg(0, 0x1000, TAGS, 0);
    reserved[MteCopyTags.RESERVED1] = 1;
    assertEquals(Errno.EINVAL.negative(),
        kvm.vmIoctl(MteCopyTags.KVM_ARM_MTE_COPY_TAGS, reserved));
    assertEquals(Errno.EINVAL.negative(), copyTags(0, 0x1000, TAGS, 2));
    assertEquals(Errno.EINVAL.negative(), copyTags(0x800, 0x1000, TAGS, 0));
    assertEquals(Errno.EINVAL.negative(), copyTags(0, 0x1800, TAGS, 0));
    assertEquals(Errno.EINVAL.negative(), copyTags(0, 0x80000000L, TAGS, 0));
    assertEquals(Errno.EINVAL.negative(), kvm.vmIoctl(0x8030aeb5L, reserved));
    assertEquals(0, copyTags(0, 0, TAGS, 0));
    assertEquals(List.of(), releases);
  }

  @Test
  void copyingMteTagsReleasesEachPageCleanFromTheGuestAndDirtyToIt() {
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    assertEquals(TAGS, vmm.mmap(TAGS, 0x10000, RW, VmaKind.ANON));
    assertEquals(0x3000, copyTags(0x1000, 0x3000, TAGS, MteCopyTags.KVM_ARM_TAGS_FROM_GUEST));
    assertEquals(List.of("releasePageClean", "releasePageClean", "releasePageClean"), releases);
    releases.clear();
    assertEquals(0x2000, copyTags(0x1000, 0x2000, TAGS, MteCopyTags.KVM_ARM_TAGS_TO_GUEST));
    assertEquals(List.of("releasePageDirty", "releasePageDirty"), releases);
    assertThrows(IllegalStateException.class, kvm::areAllMemslotsEmpty, "slots_lock released");
  }

  @Test
  void copyingMteTagsStopsAtTheSlotEndOrAUserFaultAndReportsWhatWasCopied() {
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    assertEquals(TAGS, vmm.mmap(TAGS, 0x1000, RW, VmaKind.ANON));
    assertEquals(0x1000, copyTags(4 * MB - 0x1000, 0x2000, TAGS, 0));
    assertEquals(Errno.EFAULT.negative(), copyTags(4 * MB, 0x1000, TAGS, 0));
    assertEquals(List.of("releasePageDirty"), releases);
    releases.clear();
    // 256 tags a page: the second page's tags cross into an unmapped page
    assertEquals(0x1000, copyTags(0, 0x3000, TAGS + 0x1000 - 0x180, 0));
    assertEquals(List.of("releasePageDirty", "releasePageDirty"), releases);
    releases.clear();
    assertEquals(Errno.EFAULT.negative(),
        copyTags(0, 0x1000, TAGS + 0x1000, MteCopyTags.KVM_ARM_TAGS_FROM_GUEST));
    assertEquals(List.of("releasePageClean"), releases);
  }

  @Test
  void copyingMteTagsOfZoneDeviceMemoryDropsTheReferenceUnused() {
    vm("4k-ipa40-fwb-ha-mte", VmaKind.ANON);
    assertEquals(TAGS, vmm.mmap(TAGS, 0x1000, RW, VmaKind.ANON));
    assertEquals(0, vmm.munmap(HVA, 4 * MB));
    assertEquals(HVA, vmm.mmap(HVA, 4 * MB, RW, VmaKind.ZONE_DEVICE));
    assertEquals(Errno.EFAULT.negative(),
        copyTags(0x2000, 0x2000, TAGS, MteCopyTags.KVM_ARM_TAGS_FROM_GUEST));
    assertEquals(List.of("releasePageUnused"), releases);
    long pfn = kvm.gfnToPage(2, false);
    int held = kvm.memory().refcount(pfn);
    kvm.releasePageUnused(pfn);
    assertEquals(held - 1, kvm.memory().refcount(pfn));
    assertEquals(Errno.EFAULT.negative(), copyTags(0x2000, 0x1000, TAGS, 0));
    assertEquals(held - 1, kvm.memory().refcount(pfn), "the ioctl's reference was dropped");
  }
}

package org.kvmmodel.arch.arm64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.Stage2Walk;
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
 * {@code user_mem_abort} on 16 and 64 KiB hosts: the granule is the host page, THP and
 * hugetlbfs memory is mapped with level-2 blocks of the host's PMD size (32 MiB, 512 MiB), and
 * a slot whose hva is one host page off that alignment gets pages.
 */
class LargeGranuleAbortTests {

  private static final long HVA = 0x7f0000000000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  private final Arm64Plugin plugin = new Arm64Plugin();
  private final Stage2Walk walk = new Stage2Walk();
  private HostPageSize host;
  private KvmInstance kvm;
  private Arm64Mmu mmu;

  /** A VM of {@code configuration} on a host of its page size with four PMDs of RAM. */
  private MmStruct vm(String configuration) {
    host = HostPageSize.ofShift(plugin.configuration(configuration).hostPageShift());
    HostMemory memory = new HostMemory(4L << host.pmdOrder(), 0, 1024, host);
    MmStruct vmm = new MmStruct(memory);
    kvm = KvmInstance.create(
        new KvmInstance.Spec(KvmVersion.DEFAULT, MmuLockKind.RWLOCK,
            new MemslotLimits(2, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            DirtyLogMode.DEFAULT, true, true),
        vmm, FreeScheduler.INSTANCE, FaultInjector.none(), new EventLog(256),
        k -> plugin.createMmu(k, plugin.configuration(configuration)));
    mmu = (Arm64Mmu) kvm.arch();
    return vmm;
  }

  /** Faults {@code gpa} in for a write until the stage-2 walk translates it; the leaf level. */
  private int settle(long gpa) {
    for (int i = 0; i < 4; i++) {
      walk.begin(gpa, GuestAccess.WRITE);
      mmu.walker().walk(walk);
      if (walk.translated()) {
        return walk.level();
      }
      int srcu = kvm.srcu().readLock();
      try {
        assertEquals(0, mmu.handleGuestFault(0, walk));
      } finally {
        kvm.srcu().readUnlock(srcu);
      }
    }
    throw new AssertionError("gpa " + Long.toHexString(gpa) + " never translated");
  }

  private void assertPmdBlockAt(long gpa) {
    assertEquals(2, settle(gpa));
    PageTableCursor probe = mmu.pgt().newCursor(HardwareWalkControl.INSTANCE);
    assertTrue(probe.walk(gpa >>> host.shift()));
    assertEquals(2, probe.level());
    long pmd = host.pmdSize();
    long block = probe.entry() & Stage2Pte.addressMask(host.shift());
    assertEquals(0, block & (pmd - 1), "block output address aligned to " + pmd);
    assertEquals(block + (gpa & (pmd - 1)), walk.hpa());
  }

  @ParameterizedTest
  @ValueSource(strings = {"16k-ipa40", "16k-ipa48-fwb-ha-mte", "64k-ipa40",
      "64k-ipa48-fwb-ha-mte"})
  void thpAndHugetlbfsAreMappedWithBlocksOfTheHostPmd(String configuration) {
    MmStruct vmm = vm(configuration);
    long pmd = host.pmdSize();
    assertEquals(HVA, vmm.mmap(HVA, pmd, RW, VmaKind.ANON_THP));
    assertEquals(HVA + pmd, vmm.mmap(HVA + pmd, pmd, RW, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * pmd, HVA)));
    assertPmdBlockAt(3 * host.bytes());
    assertPmdBlockAt(pmd + 5 * host.bytes());
  }

  @ParameterizedTest
  @ValueSource(strings = {"16k-ipa40", "64k-ipa40"})
  void aSlotOneHostPageOffPmdAlignmentGetsPages(String configuration) {
    MmStruct vmm = vm(configuration);
    long pmd = host.pmdSize();
    assertEquals(HVA, vmm.mmap(HVA, 2 * pmd, RW, VmaKind.ANON_THP));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, pmd, HVA + host.bytes())));
    assertEquals(3, settle(pmd / 2));
    assertEquals(3, settle(7 * host.bytes()));
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * The arm64 and RISC-V memslot hooks, judged by the errno of {@code KVM_SET_USER_MEMORY_REGION2}
 * and by the stage-2 leaves a commit leaves: {@code kvm_arch_prepare_memory_region}'s size
 * limit and per-VMA checks (dirty logging over {@code VM_PFNMAP}, MTE-capable VMAs on arm64, a
 * read-only VMA under a writable slot on RISC-V), {@code kvm_arch_commit_memory_region}'s write
 * protection and arm64's eager splitting ({@code KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE}), and
 * RISC-V's {@code kvm_arch_mmu_enable_log_dirty_pt_masked}, which protects the whole span from
 * the mask's first to its last gfn.
 */
class MemslotArchHooksTests {

  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  private static int slot(KvmInstance kvm, int id, int flags, long gpa, long bytes, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, bytes, hva));
  }

  private static KvmInstance withAnon(String arch, String configuration, String extra) {
    KvmInstance kvm = ArchVms.create(arch, configuration, extra);
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, RW, VmaKind.ANON));
    return kvm;
  }

  @Test
  void arm64RefusesSlotsPastTheIpaSpace() {
    KvmInstance kvm = withAnon("arm64", "4k-ipa40", "");
    long top = 1L << 40;
    assertEquals(Errno.EFAULT.negative(), slot(kvm, 0, 0, top - BYTES + 0x1000, BYTES,
        ArchVms.HVA));
    assertEquals(0, slot(kvm, 0, 0, top - BYTES, BYTES, ArchVms.HVA), "ending at 2^40 fits");
  }

  @Test
  void riscvRefusesSlotsReachingTheEndOfTheGuestPhysicalSpace() {
    KvmInstance kvm = withAnon("riscv", "sv39x4-svade", "");
    long top = 1L << 41;
    assertEquals(Errno.EFAULT.negative(), slot(kvm, 0, 0, top - BYTES, BYTES, ArchVms.HVA),
        "6.13 refuses a slot whose end is the last gfn + 1");
    assertEquals(0, slot(kvm, 0, 0, top - BYTES - 0x1000, BYTES, ArchVms.HVA));
  }

  @Test
  void dirtyLoggingOverPfnmapMemoryIsRefused() {
    for (String[] arch : new String[][] {{"arm64", "4k-ipa40"}, {"riscv", "sv39x4-svade"}}) {
      KvmInstance kvm = ArchVms.create(arch[0], arch[1], "");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, RW, VmaKind.ANON));
      long io = ArchVms.HVA + BYTES;
      assertEquals(io, kvm.vmm().mmapPfn(io, BYTES, RW, kvm.memory().ioPfnBase()));
      assertEquals(Errno.EINVAL.negative(),
          slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * BYTES, ArchVms.HVA),
          arch[0] + ": the second VMA of the slot is VM_PFNMAP");
      assertEquals(0, slot(kvm, 0, 0, 0, 2 * BYTES, ArchVms.HVA), arch[0] + ": without logging");
      assertEquals(0, slot(kvm, 1, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0x100000, BYTES,
          ArchVms.HVA + 4 * BYTES), arch[0] + ": no VMA at all is no objection");
    }
  }

  @Test
  void arm64WithMteRefusesVmasThatCannotCarryTags() {
    KvmInstance kvm = ArchVms.create("arm64", "4k-ipa40-fwb-ha-mte", "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, RW, VmaKind.ANON));
    long io = ArchVms.HVA + BYTES;
    assertEquals(io, kvm.vmm().mmapPfn(io, BYTES, RW, kvm.memory().ioPfnBase()));
    assertEquals(Errno.EINVAL.negative(), slot(kvm, 0, 0, 0, 2 * BYTES, ArchVms.HVA));
    assertEquals(0, slot(kvm, 0, 0, 0, BYTES, ArchVms.HVA), "anonymous memory allows MTE");
  }

  @Test
  void riscvRefusesAWritableSlotOverAReadOnlyVma() {
    KvmInstance kvm = withAnon("riscv", "sv39x4-svade", "");
    long ro = ArchVms.HVA + BYTES;
    assertEquals(ro, kvm.vmm().mmap(ro, BYTES, Vma.VM_READ, VmaKind.ANON));
    assertEquals(Errno.EPERM.negative(), slot(kvm, 0, 0, 0, 2 * BYTES, ArchVms.HVA));
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_READONLY, 0, 2 * BYTES, ArchVms.HVA));
  }

  /** {@code kvm_vm_ioctl_enable_cap} for the chunk size: only before any memslot, only blocks. */
  @Test
  void arm64EagerSplitChunkSizeTakesOnlyBlockSizesBeforeAnyMemslot() {
    KvmInstance kvm = withAnon("arm64", "4k-ipa40", "");
    long cap = KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE;
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 3L << 20), "not a power of two");
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 12), "a page is no block");
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 39), "no 512 GiB blocks");
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap + 1, 1L << 21), "another cap");
    assertEquals(0, kvm.enableCap(cap, 1L << 30));
    assertEquals(0, kvm.enableCap(cap, 0));
    assertEquals(0, kvm.enableCap(cap, 1L << 21));
    assertEquals(0, slot(kvm, 0, 0, 0, BYTES, ArchVms.HVA));
    assertEquals(Errno.EINVAL.negative(), kvm.enableCap(cap, 1L << 21), "a memslot exists");
    assertEquals(Errno.EINVAL.negative(), kvm.vmIoctl(0xdead, new long[0]));
  }

  /**
   * With a chunk size set, turning dirty logging on write-protects the slot and splits its
   * blocks into pages ({@code kvm_mmu_split_huge_pages}); without one the block stays.
   */
  @Test
  void arm64SplitsBlocksEagerlyWhenLoggingStartsIfAChunkSizeIsSet() {
    for (boolean eager : new boolean[] {false, true}) {
      KvmInstance kvm = ArchVms.create("arm64", "4k-ipa40", "");
      if (eager) {
        assertEquals(0, kvm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, 1L << 21));
      }
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, 4 * ArchVms.MB, RW,
          VmaKind.ANON_THP));
      assertEquals(0, slot(kvm, 0, 0, 0, 4 * ArchVms.MB, ArchVms.HVA));
      assertEquals(0, ArchVms.access(kvm, 0, 0x3000, GuestAccess.WRITE));
      assertEquals(0, ArchVms.access(kvm, 0, 2 * ArchVms.MB, GuestAccess.WRITE));
      assertEquals(2, ArchVms.leafLevel(kvm, 3));
      assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 4 * ArchVms.MB,
          ArchVms.HVA));
      for (long gfn : new long[] {0, 3, 511, 512, 1023}) {
        assertEquals(eager ? 3 : 2, ArchVms.leafLevel(kvm, gfn), "eager " + eager + " gfn " + gfn);
        assertFalse(ArchVms.writable(kvm, gfn), "eager " + eager + " gfn " + gfn);
      }
    }
  }

  /**
   * RISC-V: enabling logging write-protects the slot's leaves and flushes; a clear whose mask
   * has gfns 2 and 5 protects 2 to 5, the gfns between included, and nothing outside.
   */
  @Test
  void riscvProtectsTheSlotOnCommitAndTheMasksWholeSpanOnClear() {
    KvmInstance kvm = ArchVms.withTouchedSlot("riscv", "sv39x4-svade",
        "kvmmodel.vm.dirty-log.manual-protect = true", BYTES, 0);
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
    }
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, slot(kvm, 0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, ArchVms.HVA));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertFalse(ArchVms.writable(kvm, gfn), "gfn " + gfn);
    }
    assertTrue(kvm.remoteTlbFlushes() > flushes);
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
    }
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals((1L << PAGES) - 1, bitmap[0]);
    flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 2 | 1L << 5}));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(gfn < 2 || gfn > 5, ArchVms.writable(kvm, gfn), "gfn " + gfn);
    }
    assertTrue(kvm.remoteTlbFlushes() > flushes);
    flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {0}));
    assertEquals(flushes, kvm.remoteTlbFlushes(), "an empty mask protects nothing");
  }
}

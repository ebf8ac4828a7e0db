package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * RISC-V 6.13's range walkers act only on leaves a range covers whole, so with
 * {@code KVM_DIRTY_LOG_INITIALLY_SET} (enabling logging protects nothing) and
 * KVM_CLEAR_DIRTY_LOG re-protecting at most 64 pages per mask word, a 2 MiB hugetlbfs leaf
 * mapped before logging began stays writable, and a guest write through it is never logged:
 * DIRTY-LOG-COMPLETE catches the real kernel's bug. Without the manual-protect mode the commit
 * write-protects the whole (aligned) slot, the leaf included.
 */
class RiscvHugeLeafDirtyLogTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;
  private static final long WRITABLE = 1L << 2;

  private static KvmInstance vm(boolean initiallySet) {
    ModelSettings settings = ModelSettings.from(
        ConfigFactory.parseString("kvmmodel { arch = riscv, arch-configuration = sv39x4-svade,"
                + " vm.dirty-log { manual-protect = " + initiallySet + ", initially-set = "
                + initiallySet + " } }")
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
    return KvmModel.create(settings, ArchPluginRegistry.of(List.of(new RiscvPlugin())),
        FreeScheduler.INSTANCE, ChoiceStream.seeded(1)).createVm();
  }

  /** The 2 MiB leaf at gfn 0, as page-table memory holds it. */
  private static long hugeLeaf(KvmInstance kvm) {
    PageTableCursor cursor =
        new RadixMmuOps(kvm, kvm.pageTablePages().pageTables().get(0)).cursor();
    assertTrue(cursor.walk(0));
    assertEquals(1, cursor.level(), "a 2 MiB leaf");
    return cursor.entry();
  }

  @Test
  void aHugeLeafOutlivesEveryClearAndItsWritesAreNotLogged() {
    KvmInstance kvm = vm(true);
    DirtyLogCompleteCheck check = new DirtyLogCompleteCheck(kvm);
    kvm.log().addListener(check);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu.access(0x1000, GuestAccess.WRITE);
    assertNotEquals(0, hugeLeaf(kvm) & WRITABLE);
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA)));
    long[] bitmap = new long[8];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, kvm.clearDirtyLog(0, 0, 512, bitmap));
    assertNotEquals(0, hugeLeaf(kvm) & WRITABLE, "no mask word covers the 2 MiB leaf");
    vcpu.access(0x5000, GuestAccess.WRITE);
    Arrays.fill(bitmap, 0);
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0], "the write through the writable leaf took no fault");
    CheckResult result = check.result();
    assertEquals(CheckStatus.FAIL, result.status(), result.toString());
    assertTrue(result.violations().get(0).message().startsWith(
        "guest write to gfn 0x5 at event "), result.violations().get(0).message());
  }

  @Test
  void withoutManualProtectTheCommitWriteProtectsTheWholeSlotLeafIncluded() {
    KvmInstance kvm = vm(false);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault, FreeScheduler.INSTANCE)
        .access(0x1000, GuestAccess.WRITE);
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA)));
    assertEquals(0, hugeLeaf(kvm) & WRITABLE);
  }
}

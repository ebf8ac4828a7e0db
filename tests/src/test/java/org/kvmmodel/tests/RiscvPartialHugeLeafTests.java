package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.IsolationCheck;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.check.PermissionsCheck;
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
 * RISC-V 6.13 maps a hugetlbfs page with a leaf of the VMA's huge page size without asking
 * whether the memslot holds the whole leaf (it has no {@code fault_supports_gstage_huge_mapping};
 * newer kernels add it with {@code hugetlb_mapping_size}). A 1 MiB memslot over a 2 MiB
 * hugetlbfs page thus gets a 2 MiB leaf, which PERMISSIONS flags when it is made. Deleting the
 * memslot unmaps its range with {@code gstage_unmap_range}, which clears only leaves the range
 * covers whole, so the leaf survives the deletion: the guest still reaches the hugetlbfs page
 * through a gpa no memslot backs, and after the VMM unmaps the page, a freed frame. No
 * mmu_notifier invalidation is involved (the hva is in no memslot when it is unmapped), so
 * NO-STALE-MAPPING has nothing to judge; ISOLATION catches both accesses.
 */
class RiscvPartialHugeLeafTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  private static KvmInstance vm() {
    ModelSettings settings = ModelSettings.from(
        ConfigFactory.parseString("kvmmodel { arch = riscv, arch-configuration = sv39x4-svadu }")
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
    return KvmModel.create(settings, ArchPluginRegistry.of(List.of(new RiscvPlugin())),
        FreeScheduler.INSTANCE, ChoiceStream.seeded(1)).createVm();
  }

  @Test
  void aLeafTheDeletedSlotOnlyPartlyCoveredStaysAndIsolationCatchesTheAccessesThroughIt() {
    KvmInstance kvm = vm();
    Checker checker = Checker.attachAll(kvm);
    assertEquals(HVA,
        kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.HUGETLB_PMD));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu.access(0x1000, GuestAccess.WRITE);
    PageTableCursor cursor =
        new RadixMmuOps(kvm, kvm.pageTablePages().pageTables().get(0)).cursor();
    assertTrue(cursor.walk(0) && cursor.level() == 1, "a 2 MiB leaf for the 1 MiB slot");
    long frame = kvm.pageTablePages().pageTables().get(0).format()
        .outputAddress(cursor.entry(), 1) >>> kvm.pageShift();

    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 0, HVA)));
    assertTrue(cursor.walk(0x100) && cursor.level() == 1, "the deletion left the leaf mapped");
    vcpu.access(0x2000, GuestAccess.READ);
    assertEquals(0, kvm.vmm().munmap(HVA, 2 * MB));
    vcpu.access(0x3000, GuestAccess.READ);

    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    assertEquals("a 512-page leaf at gfn 0x0 crosses the bounds of memslot 0",
        results.get(PermissionsCheck.ID).violations().get(0).message());
    CheckResult isolation = results.get(IsolationCheck.ID);
    assertEquals(CheckStatus.FAIL, isolation.status(), isolation.toString());
    assertEquals(List.of(
            String.format(Locale.US, "guest access to gpa 0x2000 reached frame %#x, but no memslot backs"
                + " the gpa", frame + 2),
            String.format(Locale.US, "guest access to gpa 0x3000 reached frame %#x, which is free",
                frame + 3)),
        isolation.violations().stream().map(v -> v.message()).toList());
    assertTrue(results.get(NoStaleMappingCheck.ID).violations().isEmpty(),
        results.get(NoStaleMappingCheck.ID).toString());
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.arm64.MteCopyTags;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.LockDisciplineCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.check.RefcountBalancedCheck;
import org.kvmmodel.core.check.TlbCoherentCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.mutants.Arm64Variant;
import org.kvmmodel.mutants.Arm64Variant.Arm64Breakage;

/**
 * The real arm64 plugin with one deliberate bug put in from outside ({@link Arm64Variant}) is
 * caught by the check that owns the rule, with the message asserted; unbroken, the same program
 * passes every check. One deterministic program, no schedule: the budget is one run per variant.
 */
class Arm64BrokenVariantsTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;

  /**
   * A 3 MiB memslot over a 4 MiB THP mapping on {@code 4k-ipa40} (no hardware AF): a read maps
   * a 2 MiB block; a read in the slot's last MiB, whose block would cross the slot's end, maps
   * a page; a write to a second, aligned slot over small anonymous pages maps a page; dirty
   * logging on the first slot, a write breaks the block (an empty table, the page mapped
   * writable); a read then a write of another page (a read-only page, then a permission fault
   * that relaxes it); a KVM_GET_DIRTY_LOG harvest, which must report both written pages, marked
   * by the faults after they dropped mmu_lock; logging off, the host ages the range and a read takes an access-flag
   * fault.
   */
  private static Map<String, CheckResult> run(Arm64Breakage breakage) {
    return run(breakage, new long[1]);
  }

  /** {@link #run(Arm64Breakage)}, with the huge leaves PERMISSIONS judged in {@code huge[0]}. */
  private static Map<String, CheckResult> run(Arm64Breakage breakage, long[] huge) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attachAll(kvm);
    PermissionsCheck permissions = new PermissionsCheck(kvm);
    kvm.log().addListener(permissions);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 4 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON_THP));
    UserspaceMemoryRegion2 slot = new UserspaceMemoryRegion2(0, 0, 0, 3 * MB, HVA);
    assertEquals(0, kvm.setUserMemoryRegion2(slot));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu.access(0x1000, GuestAccess.READ);
    vcpu.access(2 * MB + 0x1000, GuestAccess.READ);
    assertEquals(HVA + 4 * MB, kvm.vmm().mmap(HVA + 4 * MB, 2 * MB, Vma.VM_READ | Vma.VM_WRITE,
        VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, 0, 4 * MB, 2 * MB, HVA + 4 * MB)));
    vcpu.access(4 * MB, GuestAccess.WRITE);
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 3 * MB, HVA)));
    vcpu.access(0x3000, GuestAccess.WRITE);
    vcpu.access(0x5000, GuestAccess.READ);
    vcpu.access(0x5000, GuestAccess.WRITE);
    long[] bitmap = new long[12];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 3 | 1L << 5, bitmap[0], "the two pages written while logging");
    assertEquals(0, kvm.setUserMemoryRegion2(slot));
    kvm.vmm().clearYoungNotify(HVA, HVA + 3 * MB);
    vcpu.access(0x3000, GuestAccess.READ);
    huge[0] = permissions.hugeLeavesJudged();
    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    return results;
  }

  private static KvmInstance vm(Arm64Breakage breakage) {
    return vm(breakage, "4k-ipa40");
  }

  private static KvmInstance vm(Arm64Breakage breakage, String configuration) {
    Arm64Variant plugin = new Arm64Variant(breakage);
    ModelSettings settings = ModelSettings.from(
        ConfigFactory.parseString("kvmmodel { arch = " + plugin.name()
                + ", arch-configuration = " + configuration + " }")
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
    KvmModel model = KvmModel.create(settings, ArchPluginRegistry.of(List.of(plugin)),
        FreeScheduler.INSTANCE, ChoiceStream.seeded(1));
    return model.createVm();
  }

  private static String firstMessage(CheckResult r) {
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    return r.violations().get(0).message();
  }

  /**
   * A 2 MiB THP slot logging from its creation, so writes and reads map pages under a table,
   * which the vCPU's TLB caches; logging off, a read of another page maps the block over the
   * table. Returns TLB-COHERENT's verdict.
   */
  private static CheckResult blockOverCachedPages(Arm64Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attach(kvm, List.of(TlbCoherentCheck::new));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON_THP));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu.access(0x3000, GuestAccess.WRITE);
    vcpu.access(0x5000, GuestAccess.READ);
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    vcpu.access(0x9000, GuestAccess.READ);
    return checker.finish().get(0);
  }

  @Test
  void theRealPluginBreaksTheTableBeforeMakingTheBlock() {
    CheckResult r = blockOverCachedPages(Arm64Breakage.NONE);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertTrue(r.situations().getOrDefault("install-over=other-size", 0L) > 0, r.toString());
  }

  @Test
  void aBlockMadeOverATableWithoutInvalidatingIsCaughtByTlbCoherent() {
    CheckResult r = blockOverCachedPages(Arm64Breakage.FAULT_BREAKS_WITHOUT_TLBI);
    assertEquals("replaced-without-break", r.violations().get(0).kind(), r.toString());
    assertEquals("a level-2 leaf was installed over gfn 0x3 while vcpu0's TLB still holds a"
        + " level-3 translation of it: the old entry was not made invalid and flushed first"
        + " (break-before-make)", firstMessage(r));
  }

  /**
   * A vCPU reads three pages of a small anonymous slot; the host drops the middle one
   * (MADV_DONTNEED), so the unmap zaps one page leaf and invalidates its one page by range.
   * Returns TLB-COHERENT's verdict.
   */
  private static CheckResult unmapOfOneCachedPage(Arm64Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attach(kvm, List.of(TlbCoherentCheck::new));
    assertEquals(HVA, kvm.vmm().mmap(HVA, MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    for (long gpa = 0x2000; gpa <= 0x4000; gpa += 0x1000) {
      vcpu.access(gpa, GuestAccess.READ);
    }
    assertEquals(0, kvm.vmm().madviseDontneed(HVA + 0x3000, 0x1000));
    return checker.finish().get(0);
  }

  @Test
  void theRealPluginInvalidatesExactlyTheUnmappedPageByRange() {
    CheckResult r = unmapOfOneCachedPage(Arm64Breakage.NONE);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertTrue(r.judged() > 0, r.toString());
  }

  @Test
  void aRangedInvalidationThatStopsShortIsCaughtByTlbCoherent() {
    CheckResult r = unmapOfOneCachedPage(Arm64Breakage.RANGED_TLBI_DROPS_LAST_PAGE);
    assertEquals("unmapped-leaf-cached", r.violations().get(0).kind(), r.toString());
    assertEquals("mmu_lock released while vcpu0's TLB still translates gfn 0x3, which has no"
        + " stage-2 leaf", firstMessage(r));
  }

  @Test
  void theRealPluginPassesEveryCheckOnTheProgram() {
    long[] huge = new long[1];
    Map<String, CheckResult> results = run(Arm64Breakage.NONE, huge);
    for (CheckResult r : results.values()) {
      assertNotEquals(CheckStatus.FAIL, r.status(), r.toString());
    }
    for (String id : List.of(DirtyProtectedCheck.ID, PermissionsCheck.ID, LockDisciplineCheck.ID,
        TlbCoherentCheck.ID, DirtyLogCompleteCheck.ID)) {
      CheckResult r = results.get(id);
      assertEquals(CheckStatus.PASS, r.status(), r.toString());
      assertTrue(r.judged() > 0, r.toString());
    }
    assertEquals(1, huge[0], "one block, at gfn 0; the slot's last MiB is mapped with pages");
  }

  @Test
  void theBlockCrossingTheSlotEdgeIsTheOnlyHugeLeafMoreInTheBrokenRun() {
    long[] huge = new long[1];
    run(Arm64Breakage.BLOCK_CROSSES_MEMSLOT, huge);
    assertEquals(2, huge[0]);
  }

  /**
   * The bug is in the abort handler, so arm64's declared DIRTY-PROTECTED divergence, which is
   * in the MTE tag copy, does not cover it: it fails.
   */
  @Test
  void aPermissionFaultThatRelaxesWithoutTheRetryCheckIsCaughtByDirtyProtected() {
    CheckResult r = run(Arm64Breakage.PERMISSION_FAULT_SKIPS_RETRY).get(DirtyProtectedCheck.ID);
    String message = firstMessage(r);
    assertTrue(message.endsWith("marked dirty under mmu_lock with no retry check passed under"
        + " this hold of mmu_lock after a snapshot taken before faultin"), message);
    for (Violation v : r.violations()) {
      assertEquals("user_mem_abort", v.site(), v.toString());
      assertEquals(List.of(), coveringDeclarations(v));
    }
  }

  private static List<KnownDivergence> coveringDeclarations(Violation v) {
    return new Arm64Variant(Arm64Breakage.NONE).knownDivergences(KvmVersion.DEFAULT).stream()
        .filter(d -> d.covers(v.evidence()))
        .collect(Collectors.toList());
  }

  @Test
  void anAccessFlagFaultThatReleasesThePageDirtyIsCaughtByDirtyProtected() {
    Map<String, CheckResult> results = run(Arm64Breakage.ACCESS_FAULT_RELEASES_DIRTY);
    String message = firstMessage(results.get(DirtyProtectedCheck.ID));
    assertTrue(message.endsWith("marked dirty under mmu_lock with no retry check passed under"
        + " this hold of mmu_lock after a snapshot taken before faultin"), message);
    assertEquals(CheckStatus.PASS, results.get(PermissionsCheck.ID).status());
  }

  @Test
  void aBlockOverAHostMappingOfPagesIsCaughtByPermissions() {
    assertEquals("a 512-page leaf at gfn 0x400 exceeds the host mapping of hva 0x7f0000400000"
            + " (1 pages)",
        firstMessage(run(Arm64Breakage.BLOCK_OVER_HOST_PAGES).get(PermissionsCheck.ID)));
  }

  /**
   * A read maps a THP block, logging is turned on (the block is write-protected), and a write
   * then takes a permission fault on the block: the real plugin maps a page, the variant blind
   * to logging relaxes the whole block.
   */
  private static CheckResult writeToABlockWhileLogging(Arm64Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attach(kvm, Checker.ALL, PermissionsCheck.ID::equals);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON_THP));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    Vcpu vcpu = new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    assertEquals(0, kvm.vmm().userWrite(HVA));
    vcpu.access(0x1000, GuestAccess.READ);
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * MB, HVA)));
    vcpu.access(0x3000, GuestAccess.WRITE);
    return checker.finish().get(0);
  }

  @Test
  void aBlockRelaxedWhileTheSlotLogsIsCaughtByPermissions() {
    assertEquals("a 512-page leaf at gfn 0x0 was made writable while memslot 0 logs dirty pages:"
            + " with dirty logging on, stage 2 maps pages only",
        firstMessage(writeToABlockWhileLogging(Arm64Breakage.BLOCK_WHILE_LOGGING)));
    CheckResult real = writeToABlockWhileLogging(Arm64Breakage.NONE);
    assertEquals(CheckStatus.PASS, real.status(), real.toString());
  }

  @Test
  void aBlockAcrossTheMemslotEdgeIsCaughtByPermissions() {
    assertEquals("a 512-page leaf at gfn 0x200 crosses the bounds of memslot 0",
        firstMessage(run(Arm64Breakage.BLOCK_CROSSES_MEMSLOT).get(PermissionsCheck.ID)));
  }

  /**
   * LOCK-DISCIPLINE accepts the store that completes a break-before-make under the read lock
   * (the program above breaks a block that way) but not a plain store to a live entry: a zap
   * meant for the exclusive lock, done under the read lock, is caught.
   */
  @Test
  void aPlainStoreToALiveEntryUnderTheReadLockIsCaughtByLockDiscipline() {
    KvmInstance kvm = vm(Arm64Breakage.NONE);
    LockDisciplineCheck check = new LockDisciplineCheck(kvm);
    kvm.log().addListener(check);
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    new Vcpu(0, kvm, kvm.arch().walker(), kvm.arch()::handleGuestFault, FreeScheduler.INSTANCE)
        .access(0x2000, GuestAccess.WRITE);
    assertTrue(check.result().violations().isEmpty(), check.result().toString());
    PageTableCursor cursor =
        new RadixMmuOps(kvm, kvm.pageTablePages().pageTables().get(0)).cursor();
    kvm.mmuLock().readLock();
    try {
      assertEquals(1, cursor.zapRangeExclusive(2, 3));
    } finally {
      kvm.mmuLock().readUnlock();
    }
    assertEquals("spte of gfn 0x2 written with a plain store under mmu_lock held for read",
        firstMessage(check.result()));
  }

  /**
   * On a VM with MTE whose memslot's memory was replaced by a ZONE_DEVICE mapping, userspace
   * asks for the tags of two pages: the ioctl refuses the first page with -EFAULT. The host
   * has device memory, which the model's default host lacks.
   */
  private static CheckResult mteCopyTagsOfZoneDevice(Arm64Breakage breakage) {
    Arm64Variant plugin = new Arm64Variant(breakage);
    KvmInstance kvm = KvmInstance.create(
        new KvmInstance.Spec(KvmVersion.DEFAULT, plugin.mmuLockKind(),
            new MemslotLimits(1, 0, true, MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            DirtyLogMode.DEFAULT, true, true),
        new MmStruct(new HostMemory(16384, 1024, 0)), FreeScheduler.INSTANCE,
        FaultInjector.none(), new EventLog(256),
        k -> plugin.createMmu(k, plugin.configuration("4k-ipa40-fwb-ha-mte")));
    Checker checker = Checker.attach(kvm, Checker.ALL, RefcountBalancedCheck.ID::equals);
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, rw, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    assertEquals(0, kvm.vmm().munmap(HVA, 2 * MB));
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, rw, VmaKind.ZONE_DEVICE));
    assertEquals(HVA + 4 * MB, kvm.vmm().mmap(HVA + 4 * MB, 0x1000, rw, VmaKind.ANON));
    assertEquals(Errno.EFAULT.negative(), kvm.vmIoctl(MteCopyTags.KVM_ARM_MTE_COPY_TAGS,
        MteCopyTags.arg(0x3000, 0x2000, HVA + 4 * MB, MteCopyTags.KVM_ARM_TAGS_FROM_GUEST)));
    return checker.finish().get(0);
  }

  @Test
  void theRealPluginDropsTheZoneDeviceReferenceOfAnMteTagCopy() {
    CheckResult r = mteCopyTagsOfZoneDevice(Arm64Breakage.NONE);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertTrue(r.judged() > 0, r.toString());
  }

  @Test
  void anMteTagCopyThatKeepsTheZoneDeviceReferenceIsCaughtByRefcountBalanced() {
    String message = firstMessage(
        mteCopyTagsOfZoneDevice(Arm64Breakage.MTE_ZONE_DEVICE_KEEPS_REFERENCE));
    assertTrue(message.matches("1 reference\\(s\\) to folio 0x[0-9a-f]+ taken through"
        + " kvm_follow_pfn were never released"), message);
  }

  /**
   * Tags written to the guest mark the page dirty through a {@code __gfn_to_page} reference with
   * no mmu_lock: 6.13 breaks DIRTY-PROTECTED there, in {@code kvm_vm_ioctl_mte_copy_tags}, which
   * arm64 declares; the declaration covers the violation because it was found in that function.
   */
  @Test
  void mteTagsWrittenToTheGuestDirtyThePageOutsideMmuLock() {
    KvmInstance kvm = vm(Arm64Breakage.NONE, "4k-ipa40-fwb-ha-mte");
    Checker checker = Checker.attach(kvm, Checker.ALL, DirtyProtectedCheck.ID::equals);
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * MB, rw, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 2 * MB, HVA)));
    assertEquals(HVA + 4 * MB, kvm.vmm().mmap(HVA + 4 * MB, 0x1000, rw, VmaKind.ANON));
    assertEquals(0x1000, kvm.vmIoctl(MteCopyTags.KVM_ARM_MTE_COPY_TAGS,
        MteCopyTags.arg(0x3000, 0x1000, HVA + 4 * MB, MteCopyTags.KVM_ARM_TAGS_TO_GUEST)));
    CheckResult r = checker.finish().get(0);
    String message = firstMessage(r);
    assertTrue(message.matches("folio 0x[0-9a-f]+ marked dirty without mmu_lock held"), message);
    Violation v = r.violations().get(0);
    assertEquals("kvm_vm_ioctl_mte_copy_tags", v.site());
    assertEquals(new Arm64Plugin().knownDivergences(KvmVersion.DEFAULT), coveringDeclarations(v));
    KnownDivergence declared = new Arm64Plugin().knownDivergences(KvmVersion.DEFAULT).get(0);
    assertEquals(List.of(DirtyProtectedCheck.ID, "kvm_vm_ioctl_mte_copy_tags"),
        List.of(declared.check(), declared.kernelFunction()));
    assertEquals("unfixed in mainline (kvm_vm_ioctl_mte_copy_tags: tags written to the guest"
        + " release their __gfn_to_page page dirty without mmu_lock)", declared.citation());
  }
}

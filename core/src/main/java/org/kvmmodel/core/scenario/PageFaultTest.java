package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * page-fault-test (after KVM's {@code aarch64/page_fault_test}, the cases that need no guest
 * stage 1 and no userfaultfd): every {@link PageFaultCase} runs once per run, in an order drawn
 * from the choice stream and shared out between two vCPUs that run side by side. Each case, as
 * the selftest does for each test, maps fresh host memory of its backing, creates a fresh
 * memslot over it with its flags, lets the vCPU perform the one access at a drawn page, reads
 * the outcome from core state ({@link PageFaultOutcome}), then unmaps the memory (the
 * mmu_notifier zaps what the case mapped) and deletes the slot. An outcome the case does not
 * expect ends the run with an {@link UnmetExpectation}; every check also judges the run. Each
 * vCPU's thread is also the VMM thread of its cases, as in the selftest; the two issue their
 * memslot updates and dirty-log ioctls concurrently, and KVM's own slots_lock serialises them.
 */
public final class PageFaultTest implements Scenario {

  static final long HVA = 0x7f8000000000L;
  static final long GPA = 1L << 30;
  /** One 2 MiB region per slot, so THP and hugetlb backings get a huge host mapping. */
  static final int VCPUS = 2;

  @Override
  public String name() {
    return "page-fault-test";
  }

  @Override
  public String description() {
    return "reads, writes, atomics and fetches on anonymous, THP, hugetlb and shared-file memory,"
        + " with and without dirty logging and read-only slots, each in a fresh slot";
  }

  /** A run takes about 2,500 to 4,000 race points on x86. */
  @Override
  public long stepBound() {
    return 20_000;
  }

  /** Each logged case reads its bit with KVM_GET_DIRTY_LOG. */
  @Override
  public boolean harvestsDirtyLog() {
    return true;
  }

  @Override
  public void setUp(ScenarioRun run) {
    List<PageFaultCase> cases =
        new ArrayList<>(
            PageFaultCase.all(
                run.plugin().readonlyMemory(),
                !MteMemslots.refusesFileBacking(run.configuration())));
    shuffle(cases, run.choices());
    for (int id = 0; id < VCPUS; id++) {
      Vcpu vcpu = run.createVcpu(id);
      List<PageFaultCase> mine = new ArrayList<>();
      for (int i = id; i < cases.size(); i += VCPUS) {
        mine.add(cases.get(i));
      }
      int[] pages = new int[mine.size()];
      for (int i = 0; i < pages.length; i++) {
        pages[i] = run.choices().nextInt(slotPages(run.vm()));
      }
      int slotId = id;
      run.spawn(
          vcpu.name(),
          () -> {
            for (int i = 0; i < pages.length; i++) {
              runCase(run.vm(), vcpu, slotId, mine.get(i), pages[i]);
            }
          });
    }
  }

  /**
   * A slot's size: one PMD-sized huge page of the host (2 MiB, 32 MiB or 512 MiB with 4, 16 or
   * 64 KiB pages), so THP and hugetlbfs cases can map it with one block.
   */
  static long slotBytes(KvmInstance vm) {
    return vm.memory().hostPageSize().pmdSize();
  }

  /** Base pages in a slot. */
  static int slotPages(KvmInstance vm) {
    return 1 << vm.memory().hostPageSize().pmdOrder();
  }

  /** Fisher-Yates with every swap drawn from the choice stream. */
  private static void shuffle(List<PageFaultCase> cases, ChoiceStream choices) {
    for (int i = cases.size() - 1; i > 0; i--) {
      Collections.swap(cases, i, choices.nextInt(i + 1));
    }
  }

  /**
   * One case in slot {@code slotId}, which the caller's vCPU owns: fresh memory and slot, the
   * access at {@code page}, the outcome judged, then the memory unmapped and the slot deleted.
   */
  private static void runCase(
      KvmInstance vm, Vcpu vcpu, int slotId, PageFaultCase c, int page) {
    MmStruct vmm = vm.vmm();
    long slotBytes = slotBytes(vm);
    int slotPages = slotPages(vm);
    long hva = HVA + slotId * slotBytes;
    long gpa = GPA + slotId * slotBytes;
    map(vm, c.backing(), hva);
    setUserMemoryRegion2(vm,
        new UserspaceMemoryRegion2(slotId, c.slotFlags(), gpa, slotBytes, hva));
    long gfn = (gpa >>> vm.pageShift()) + page;
    MemorySlot slot = vm.gfnToMemslot(0, gfn);
    if (c.dirtyLogging() && vm.dirtyLogManualProtectAndInitSet()) {
      long[] all = new long[slotPages / 64];
      Arrays.fill(all, -1L);
      DemandPaging.check(vm.clearDirtyLog(slotId, 0, slotPages, all), 0, "KVM_CLEAR_DIRTY_LOG");
    }
    long exits =
        vcpu.run(
            GuestProgram.of(
                new long[] {gfn << vm.pageShift()}, new int[] {c.access().bits()}));
    String unmet = c.unmet(PageFaultOutcome.observe(vm, vcpu, exits, slot, gfn));
    if (unmet != null) {
      throw new UnmetExpectation(
          String.format(Locale.US, "page-fault-test %s at gfn %#x: %s", c.label(), gfn, unmet));
    }
    DemandPaging.check(vmm.munmap(hva, slotBytes), 0, "munmap");
    setUserMemoryRegion2(vm, new UserspaceMemoryRegion2(slotId, 0, gpa, 0, hva));
  }

  /** KVM_SET_USER_MEMORY_REGION2; it must succeed. */
  private static void setUserMemoryRegion2(KvmInstance vm, UserspaceMemoryRegion2 region) {
    DemandPaging.check(
        vm.setUserMemoryRegion2(region), 0, "KVM_SET_USER_MEMORY_REGION2 " + region);
  }

  /** A fresh read-write mapping of {@code backing} at {@code hva}, nothing faulted in yet. */
  private static void map(KvmInstance vm, VmaKind backing, long hva) {
    int prot = Vma.VM_READ | Vma.VM_WRITE;
    long r;
    if (backing == VmaKind.FILE_SHARED) {
      HostFile file = vm.memory().createFile(slotPages(vm));
      r = vm.vmm().mmapFile(hva, slotBytes(vm), prot, file, 0);
    } else {
      r = vm.vmm().mmap(hva, slotBytes(vm), prot, backing);
    }
    DemandPaging.check(r, hva, "mmap(" + backing + ")");
  }
}

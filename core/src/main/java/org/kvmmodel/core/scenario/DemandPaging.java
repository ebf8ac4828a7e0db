package org.kvmmodel.core.scenario;

import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * demand-paging (after KVM's {@code demand_paging_test}): two vCPUs fault in anonymous guest
 * memory with reads and writes while the host drops pages ({@code madvise(MADV_DONTNEED)}) and
 * ages them ({@code clear_young}), so faults race mmu_notifier invalidations.
 */
public final class DemandPaging implements Scenario {

  static final long HVA = 0x7f0000000000L;
  static final int PAGES = 64;
  static final int ACCESSES_PER_VCPU = 24;
  static final int HOST_OPERATIONS = 6;

  @Override
  public String name() {
    return "demand-paging";
  }

  @Override
  public String description() {
    return "two vCPUs fault in anonymous memory while the host drops and ages pages";
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    MmStruct vmm = vm.vmm();
    long bytes = (long) PAGES << pageShift;
    check(vmm.mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON), HVA, "mmap");
    check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)), 0,
        "KVM_SET_USER_MEMORY_REGION2");
    run.spawnRandomVcpus(2, PAGES, ACCESSES_PER_VCPU, 50);
    int[] pages = new int[HOST_OPERATIONS];
    boolean[] drop = new boolean[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      pages[i] = run.choices().nextInt(PAGES);
      drop[i] = run.choices().chance(70);
    }
    run.spawn(
        "host",
        () -> {
          for (int i = 0; i < HOST_OPERATIONS; i++) {
            long hva = HVA + ((long) pages[i] << pageShift);
            if (drop[i]) {
              vmm.madviseDontneed(hva, (1L << pageShift));
            } else {
              vmm.clearYoungNotify(hva, hva + (1L << pageShift));
            }
            run.scheduler().point("host");
          }
        });
  }

  static void check(long result, long expected, String what) {
    if (result != expected) {
      throw new IllegalStateException(what + " failed: returned " + result);
    }
  }
}

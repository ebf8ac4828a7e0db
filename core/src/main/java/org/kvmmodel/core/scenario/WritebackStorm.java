package org.kvmmodel.core.scenario;

import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;

/**
 * writeback-storm: guest memory is a shared file mapping ({@code mmap(MAP_SHARED)} of a
 * page-cache file); two vCPUs read and write it while the host repeatedly writes pages back
 * ({@code folio_clear_dirty_for_io}, whose {@code page_mkclean} invalidates KVM's mappings,
 * then {@code folio_end_writeback}) and stores to pages itself. A host store leaves a writable
 * host PTE, so a later guest read fault is given a writable pfn and installs a writable stage-2
 * entry: the case of the review of "KVM: LoongArch: Mark "struct page" pfns dirty only in
 * "slow" page fault path", where the slow path must dirty the folio because the entry is
 * writable, not because the fault was a write.
 */
public final class WritebackStorm implements Scenario {

  static final long HVA = 0x7f2000000000L;
  static final int PAGES = 16;
  static final int ACCESSES_PER_VCPU = 24;
  static final int HOST_OPERATIONS = 12;

  @Override
  public String name() {
    return "writeback-storm";
  }

  @Override
  public String description() {
    return "two vCPUs read and write a shared file mapping while the host writes pages back";
  }

  /** An MTE VM refuses this scenario's slot over a shared file ({@link MteMemslots}). */
  @Override
  public String unsupportedReason(ArchConfiguration configuration) {
    return MteMemslots.refusesFileBacking(configuration) ? MteMemslots.FILE_BACKING_REFUSED : null;
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    MmStruct vmm = vm.vmm();
    HostMemory memory = vm.memory();
    HostFile file = memory.createFile(PAGES);
    long bytes = (long) PAGES << pageShift;
    DemandPaging.check(
        vmm.mmapFile(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, file, 0), HVA, "mmap(MAP_SHARED)");
    DemandPaging.check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2");
    run.spawnRandomVcpus(2, PAGES, ACCESSES_PER_VCPU, 50);
    int[] pages = new int[HOST_OPERATIONS];
    boolean[] store = new boolean[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      pages[i] = run.choices().nextInt(PAGES);
      store[i] = run.choices().chance(30);
    }
    run.spawn(
        "host",
        () -> {
          for (int i = 0; i < HOST_OPERATIONS; i++) {
            long hva = HVA + ((long) pages[i] << pageShift);
            if (store[i]) {
              DemandPaging.check(vmm.userWrite(hva), 0, "host store");
            } else if (memory.writeback(file, pages[i])) {
              run.scheduler().point("writeback IO");
              memory.endWriteback(file, pages[i]);
            }
            run.scheduler().point("host");
          }
        });
  }
}

package org.kvmmodel.core.scenario;

import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * dirty-log (after KVM's {@code dirty_log_test}): the slot's dirty logging is switched on with
 * a flags-only KVM_SET_USER_MEMORY_REGION2 ({@code KVM_MEM_LOG_DIRTY_PAGES}), then two vCPUs
 * mostly write anonymous guest memory while a harvester calls KVM_GET_DIRTY_LOG again and
 * again; each harvest re-protects what it reports, so writes race the write-protection and its
 * TLB flush. KVM itself also writes guest pages ({@code kvm_write_guest}, as its kvm-clock and
 * steal-time updates do), and those writes must reach the log too.
 */
public final class DirtyLogHarvest implements Scenario {

  static final long HVA = 0x7f4000000000L;
  static final int PAGES = 64;
  static final int ACCESSES_PER_VCPU = 24;
  static final int HARVESTS = 8;
  static final int KVM_WRITES = 6;

  @Override
  public String name() {
    return "dirty-log";
  }

  @Override
  public String description() {
    return "two vCPUs write while dirty logging is on and the log is harvested again and again";
  }

  /** dirty_log_test's harvest loop: DIRTY-LOG-COMPLETE judges it. */
  @Override
  public boolean harvestsDirtyLog() {
    return true;
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    MmStruct vmm = vm.vmm();
    long bytes = (long) PAGES << pageShift;
    DemandPaging.check(vmm.mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON), HVA, "mmap");
    DemandPaging.check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2");
    DemandPaging.check(
        vm.setUserMemoryRegion2(
            new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2(KVM_MEM_LOG_DIRTY_PAGES)");
    run.spawnRandomVcpus(2, PAGES, ACCESSES_PER_VCPU, 70);
    long[] clockPages = new long[KVM_WRITES];
    for (int i = 0; i < KVM_WRITES; i++) {
      clockPages[i] = run.choices().nextInt(PAGES);
    }
    run.spawn(
        "kvmclock",
        () -> {
          for (long page : clockPages) {
            int idx = vm.srcu().readLock();
            try {
              DemandPaging.check(
                  vm.writeGuest((page << pageShift) + 0x40, 32), 0, "kvm_write_guest");
            } finally {
              vm.srcu().readUnlock(idx);
            }
            run.scheduler().point("kvmclock");
          }
        });
    long[] bitmap = new long[KvmMemslot.bitmapLongs(PAGES)];
    run.spawn(
        "harvester",
        () -> {
          for (int i = 0; i < HARVESTS; i++) {
            DemandPaging.check(vm.getDirtyLog(0, bitmap), 0, "KVM_GET_DIRTY_LOG");
            run.scheduler().point("harvester");
          }
        });
  }
}

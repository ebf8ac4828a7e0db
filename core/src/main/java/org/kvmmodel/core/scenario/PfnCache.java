package org.kvmmodel.core.scenario;

import org.kvmmodel.core.kvm.GuestPvclock;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.MigrationHandle;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * pfncache: KVM keeps a vCPU's kvm-clock record up to date through a {@code gfn_to_pfn_cache}
 * (check, refresh, store, {@code mark_page_dirty_in_slot}) while two vCPUs fault on anonymous
 * guest memory and the host zaps ({@code madvise(MADV_DONTNEED)}), migrates and stores to
 * pages, the clock's page most often: each invalidation of the clock's hva must invalidate the
 * cache before it returns, and a refresh racing it must retry.
 */
public final class PfnCache implements Scenario {

  static final long HVA = 0x7f5000000000L;
  static final int PAGES = 16;
  static final int CLOCK_PAGE = 3;
  static final int ACCESSES_PER_VCPU = 16;
  static final int CLOCK_UPDATES = 10;
  static final int HOST_OPERATIONS = 10;

  @Override
  public String name() {
    return "pfncache";
  }

  @Override
  public String description() {
    return "kvm-clock is written through a gfn_to_pfn_cache while the host zaps and migrates it";
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    MmStruct vmm = vm.vmm();
    HostMemory memory = vm.memory();
    long bytes = (long) PAGES << pageShift;
    DemandPaging.check(vmm.mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON), HVA, "mmap");
    DemandPaging.check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2");
    run.spawnRandomVcpus(2, PAGES, ACCESSES_PER_VCPU, 50);
    GuestPvclock clock = new GuestPvclock(vm, ((long) CLOCK_PAGE << pageShift) + 0x40);
    run.spawn(
        "pvclock",
        () -> {
          // kvm_write_system_time ignores what activation returns, and a refresh that fails
          // (the page is under migration) skips that update as kvm_setup_guest_pvclock does:
          // the cache stays active and the next update refreshes it again.
          clock.enable();
          for (int i = 0; i < CLOCK_UPDATES; i++) {
            clock.update();
            run.scheduler().point("pvclock");
          }
        });
    int[] pages = new int[HOST_OPERATIONS];
    int[] ops = new int[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      pages[i] = run.choices().chance(60) ? CLOCK_PAGE : run.choices().nextInt(PAGES);
      ops[i] = run.choices().nextInt(3);
    }
    run.spawn(
        "host",
        () -> {
          for (int i = 0; i < HOST_OPERATIONS; i++) {
            long hva = HVA + ((long) pages[i] << pageShift);
            if (ops[i] == 0) {
              DemandPaging.check(vmm.madviseDontneed(hva, (1L << pageShift)), 0,
                  "madvise(MADV_DONTNEED)");
            } else if (ops[i] == 1) {
              migrate(run, memory, vmm.hostPte(hva));
            } else {
              DemandPaging.check(vmm.userWrite(hva), 0, "host store");
            }
            run.scheduler().point("host");
          }
        });
  }

  /** migrate_pages of the folio mapped by {@code pte}, if any; a busy folio stays put. */
  static void migrate(ScenarioRun run, HostMemory memory, long pte) {
    if (!HostPte.mapsPfn(pte)) {
      return;
    }
    MigrationHandle handle = memory.migrateStart(HostPte.pfn(pte));
    if (handle != null) {
      run.scheduler().point("migration copy");
      memory.migrateFinish(handle);
    }
  }
}

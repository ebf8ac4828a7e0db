package org.kvmmodel.core.scenario;

import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * memslot-delete (after KVM's {@code set_memory_region_test} and the deletion half of
 * {@code memslot_modification_stress_test}): two vCPUs fault across two slots while the VMM
 * deletes the second slot and creates it again, several times, and drops pages of the first
 * ({@code madvise(MADV_DONTNEED)}). A deletion publishes the slot as invalid, flushes its
 * stage-2 mappings ({@code kvm_arch_flush_shadow_memslot}) and waits for notifier invalidations
 * in flight; an access with no slot exits to userspace. On half the runs the second slot
 * straddles the 1 GiB guest-physical boundary.
 */
public final class MemslotDelete implements Scenario {

  static final long HVA = 0x7f6000000000L;
  static final int PAGES_PER_SLOT = 32;
  static final int ACCESSES_PER_VCPU = 24;
  static final int ROUNDS = 3;
  /**
   * On half the runs the slots sit just below 1 GiB of guest-physical memory, so the second
   * straddles it: a stage-2 walk over that slot crosses the boundary where arm64's
   * {@code stage2_apply_range} ends a chunk and may yield mmu_lock.
   */
  static final int GIB_SHIFT = 30;

  @Override
  public String name() {
    return "memslot-delete";
  }

  @Override
  public String description() {
    return "two vCPUs fault across two slots while the VMM deletes and recreates one of them";
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    MmStruct vmm = vm.vmm();
    long slotBytes = (long) PAGES_PER_SLOT << pageShift;
    long baseGfn =
        run.choices().chance(50) ? (1L << (GIB_SHIFT - pageShift)) - 3 * PAGES_PER_SLOT / 2 : 0;
    long gpa = baseGfn << pageShift;
    DemandPaging.check(vmm.mmap(HVA, 2 * slotBytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON),
        HVA, "mmap");
    UserspaceMemoryRegion2 first = new UserspaceMemoryRegion2(0, 0, gpa, slotBytes, HVA);
    UserspaceMemoryRegion2 second =
        new UserspaceMemoryRegion2(1, 0, gpa + slotBytes, slotBytes, HVA + slotBytes);
    UserspaceMemoryRegion2 deleteSecond =
        new UserspaceMemoryRegion2(1, 0, gpa + slotBytes, 0, HVA + slotBytes);
    DemandPaging.check(vm.setUserMemoryRegion2(first), 0, "KVM_SET_USER_MEMORY_REGION2(0)");
    DemandPaging.check(vm.setUserMemoryRegion2(second), 0, "KVM_SET_USER_MEMORY_REGION2(1)");
    run.spawnRandomVcpus(2, baseGfn, 2 * PAGES_PER_SLOT, ACCESSES_PER_VCPU, 50);
    int[] drops = new int[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
      drops[i] = run.choices().nextInt(PAGES_PER_SLOT);
    }
    run.spawn(
        "vmm",
        () -> {
          for (int i = 0; i < ROUNDS; i++) {
            DemandPaging.check(vm.setUserMemoryRegion2(deleteSecond), 0, "delete slot 1");
            run.scheduler().point("vmm");
            vmm.madviseDontneed(HVA + ((long) drops[i] << pageShift),
                (1L << pageShift));
            run.scheduler().point("vmm");
            DemandPaging.check(vm.setUserMemoryRegion2(second), 0, "recreate slot 1");
            run.scheduler().point("vmm");
          }
        });
  }
}

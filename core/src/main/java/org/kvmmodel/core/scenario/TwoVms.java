package org.kvmmodel.core.scenario;

import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * two-vms: two VMs, each created by its own VMM process (so each with its own mm, memslots,
 * vCPUs and stage-2 tables) on one host whose memory other processes have almost filled. The
 * host takes pages away from either VM ({@code madvise(MADV_DONTNEED)}, reclaim to swap, a
 * {@code munmap} the VMM follows with a fresh {@code mmap}) while both guests fault and write,
 * so a frame one VM gives up is soon allocated to the other: each access is judged against
 * both VMs.
 */
public final class TwoVms implements Scenario {

  static final long HVA = 0x7f2000000000L;
  static final int PAGES = 32;
  static final int VCPUS_PER_VM = 2;
  static final int ACCESSES_PER_VCPU = 16;
  static final int WRITE_PERCENT = 60;
  static final int HOST_OPERATIONS = 8;

  /** Frames left free once the other processes have filled the host. */
  static final long FREE_FRAMES = 24;

  /** Where the other processes' THP and small-page memory lives in their own mm. */
  static final long FILL_HVA = 0x600000000000L;

  private static final int DONTNEED = 0;
  private static final int RECLAIM = 1;
  private static final int REMAP = 2;

  @Override
  public String name() {
    return "two-vms";
  }

  @Override
  public String description() {
    return "two VMs of two VMMs share a nearly full host; frames one VM loses go to the other";
  }

  @Override
  public long stepBound() {
    return 100_000;
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance[] vms = {run.vm(), run.addVm()};
    fillHost(vms[0].memory(), new MmStruct(vms[0].memory(), run.scheduler()));
    int pageShift = vms[0].pageShift();
    long bytes = (long) PAGES << pageShift;
    for (KvmInstance vm : vms) {
      DemandPaging.check(vm.vmm().mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON),
          HVA, "mmap");
      DemandPaging.check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)),
          0, "KVM_SET_USER_MEMORY_REGION2");
      for (int id = 0; id < VCPUS_PER_VM; id++) {
        Vcpu vcpu = run.createVcpu(vm, id);
        GuestProgram program =
            GuestProgram.random(run.choices(), pageShift, 0, PAGES, ACCESSES_PER_VCPU,
                WRITE_PERCENT);
        run.spawn(vcpu.name(), () -> vcpu.run(program));
      }
    }
    int[] victim = new int[HOST_OPERATIONS];
    int[] pages = new int[HOST_OPERATIONS];
    int[] kind = new int[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      victim[i] = run.choices().nextInt(vms.length);
      pages[i] = run.choices().nextInt(PAGES);
      kind[i] = run.choices().nextInt(3);
    }
    run.spawn(
        "host",
        () -> {
          for (int i = 0; i < HOST_OPERATIONS; i++) {
            takeAway(vms[victim[i]].vmm(), HVA + ((long) pages[i] << pageShift),
                kind[i], run);
            run.scheduler().point("host");
          }
        });
  }

  /**
   * The other processes of the host: THP memory where whole 2 MiB runs are free, then small
   * pages, until only {@link #FREE_FRAMES} frames are left for the two VMs.
   */
  private static void fillHost(HostMemory memory, MmStruct others) {
    int pmdOrder = memory.hostPageSize().pmdOrder();
    int pageShift = memory.pageShift();
    long thpPages = ((memory.freePages() - FREE_FRAMES) >>> pmdOrder) << pmdOrder;
    long thpBytes = thpPages << pageShift;
    if (thpPages > 0) {
      DemandPaging.check(others.mmap(FILL_HVA, thpBytes, Vma.VM_READ | Vma.VM_WRITE,
          VmaKind.ANON_THP), FILL_HVA, "mmap");
      for (long off = 0; off < thpBytes; off += memory.hostPageSize().pmdSize()) {
        DemandPaging.check(others.userWrite(FILL_HVA + off), 0, "populate");
      }
    }
    long small = Math.max(0, memory.freePages() - FREE_FRAMES);
    long smallHva = FILL_HVA + thpBytes;
    if (small > 0) {
      DemandPaging.check(others.mmap(smallHva, small << pageShift,
          Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON), smallHva, "mmap");
    }
    for (long p = 0; p < small && memory.freePages() > FREE_FRAMES; p++) {
      DemandPaging.check(others.userWrite(smallHva + (p << pageShift)), 0,
          "populate");
    }
  }

  /** The host takes the page at {@code hva} away from a VM's VMM process. */
  private static void takeAway(MmStruct vmm, long hva, int kind, ScenarioRun run) {
    long pageSize = vmm.memory().hostPageSize().bytes();
    switch (kind) {
      case DONTNEED:
        vmm.madviseDontneed(hva, pageSize);
        break;
      case RECLAIM:
        long pte = vmm.hostPte(hva);
        if (HostPte.mapsPfn(pte) && !HostPte.isSpecial(pte)) {
          vmm.memory().reclaimFolio(HostPte.pfn(pte));
        }
        break;
      case REMAP:
        DemandPaging.check(vmm.munmap(hva, pageSize), 0, "munmap");
        run.scheduler().point("host");
        DemandPaging.check(vmm.mmap(hva, pageSize, Vma.VM_READ | Vma.VM_WRITE,
            VmaKind.ANON), hva, "mmap");
        break;
      default:
        throw new IllegalArgumentException("unknown host operation " + kind);
    }
  }
}

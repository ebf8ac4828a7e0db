package org.kvmmodel.core.scenario;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * huge-pages (after KVM's {@code kvm_page_table_test} and the THP/hugetlb backings of
 * {@code dirty_log_perf_test}): guest memory backed by THP, 2 MiB hugetlbfs and
 * {@code VM_PFNMAP} IO memory, in memslots whose placement sometimes allows stage-2 huge
 * mappings and sometimes not: a THP slot and a hugetlbfs slot aligned for blocks, a THP slot
 * whose hva is one page off 2 MiB alignment, a slot smaller than a block, a slot whose end
 * cuts a THP, an IO slot whose hva and physical address align and one whose do not. Two vCPUs
 * read and write all of them while the host splits THPs ({@code split_huge_pmd_address}),
 * khugepaged collapses a region of small pages into one ({@code collapse_huge_page}), pages and
 * whole huge pages are dropped ({@code MADV_DONTNEED}) and the VMM switches dirty logging on the
 * first slot on and off, so blocks are write-protected and broken by write faults, or, on half
 * the runs where the VM accepts {@code KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE} (2 MiB chunks, set
 * before any memslot), split eagerly when logging starts. Where the
 * VM refuses the IO slots (an MTE VM: no {@code VM_MTE_ALLOWED}, -EINVAL) they are left out and
 * accesses there exit to userspace.
 */
public final class HugePages implements Scenario {

  static final long HVA = 0x7f8000000000L;
  static final long MB = 1L << 20;
  static final long HUGE = 2 * MB;
  static final int ACCESSES_PER_VCPU = 32;
  static final int HOST_OPERATIONS = 6;
  static final int LOGGING_ROUNDS = 2;

  /** Slot 0: THP, blocks allowed; its second 2 MiB is prepared with small pages to collapse. */
  static final Layout THP = new Layout(0, 0, 4 * MB, HVA);
  /** Slot 1: 2 MiB hugetlbfs, blocks allowed. */
  static final Layout HUGETLB = new Layout(1, 4 * MB, HUGE, HVA + 8 * MB);
  /** Slot 2: THP whose hva is one page off the IPA's 2 MiB alignment: pages only. */
  static final Layout MISALIGNED = new Layout(2, 8 * MB, HUGE, HVA + 16 * MB + HostPageSize.SIZE_4K.bytes());
  /** Slot 3: THP, smaller than a block. */
  static final Layout SMALL = new Layout(3, 12 * MB, MB / 4, HVA + 24 * MB);
  /** Slot 4: THP, 3 MiB: one block, then an end that cuts the next THP. */
  static final Layout EDGE = new Layout(4, 16 * MB, 3 * MB, HVA + 32 * MB);
  /** Slot 5: IO memory whose hva and physical address are equally 2 MiB aligned. */
  static final Layout IO_ALIGNED = new Layout(5, 20 * MB, HUGE, HVA + 40 * MB);
  /** Slot 6: IO memory whose physical address is one page off its hva's alignment. */
  static final Layout IO_MISALIGNED = new Layout(6, 24 * MB, HUGE, HVA + 44 * MB);

  private static final Layout[] SLOTS = {THP, HUGETLB, MISALIGNED, SMALL, EDGE, IO_ALIGNED,
      IO_MISALIGNED};
  private static final long[] THP_RANGES = {THP.hva, MISALIGNED.hva, SMALL.hva, EDGE.hva};
  private static final long COLLAPSE_HVA = HVA + HUGE;

  @Override
  public String name() {
    return "huge-pages";
  }

  @Override
  public String description() {
    return "two vCPUs fault THP, hugetlbfs and PFNMAP memory through slots that do and do not"
        + " allow blocks while the host splits, collapses and drops huge pages and dirty logging"
        + " toggles";
  }

  @Override
  public long stepBound() {
    return 80_000;
  }

  @Override
  public boolean judgedBy(String checkId) {
    return !checkId.equals(DirtyLogCompleteCheck.ID);
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    MmStruct vmm = vm.vmm();
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    for (long thp : THP_RANGES) {
      long start = thp & -HUGE;
      DemandPaging.check(vmm.mmap(start, 4 * MB, rw, VmaKind.ANON_THP), start, "mmap THP");
    }
    DemandPaging.check(vmm.mmap(HUGETLB.hva, HUGE, rw, VmaKind.HUGETLB_PMD), HUGETLB.hva,
        "mmap hugetlbfs");
    long io = (vmm.memory().ioPfnBase() + 511) & -512L;
    DemandPaging.check(vmm.mmapPfn(IO_ALIGNED.hva, HUGE, rw, io), IO_ALIGNED.hva, "mmap IO");
    DemandPaging.check(vmm.mmapPfn(IO_MISALIGNED.hva, HUGE, rw, io + 513), IO_MISALIGNED.hva,
        "mmap IO");
    prepareCollapsibleRegion(vmm);
    if (run.choices().nextInt(2) == 0) {
      int rc = vm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, HUGE);
      if (rc != 0 && rc != Errno.EINVAL.negative()) {
        throw new IllegalStateException("KVM_ENABLE_CAP failed: " + rc);
      }
    }
    for (Layout slot : SLOTS) {
      int rc = vm.setUserMemoryRegion2(slot.region(0));
      boolean ioSlot = slot == IO_ALIGNED || slot == IO_MISALIGNED;
      if (rc != 0 && !(ioSlot && rc == Errno.EINVAL.negative())) {
        throw new IllegalStateException("KVM_SET_USER_MEMORY_REGION2(" + slot.id + ") failed: " + rc);
      }
    }
    for (int id = 0; id < 2; id++) {
      Vcpu vcpu = run.createVcpu(id);
      GuestProgram program = program(run);
      run.spawn(vcpu.name(), () -> vcpu.run(program));
    }
    spawnHost(run, vmm);
    spawnLoggingToggle(run, vm);
  }

  /**
   * Leaves the second 2 MiB of the first slot mapped by 512 exclusive small folios, which only
   * {@code collapse_huge_page} turns back into a THP: fault a THP, split its PMD, drop all but
   * the first page and write them again (the PTE table now in place, they come back small),
   * then the same for the first page.
   */
  private static void prepareCollapsibleRegion(MmStruct vmm) {
    long page = vmm.memory().hostPageSize().bytes();
    DemandPaging.check(vmm.userWrite(COLLAPSE_HVA), 0, "populate");
    if (!vmm.splitHugePmdAddress(COLLAPSE_HVA)) {
      throw new IllegalStateException("no THP to split at " + Long.toHexString(COLLAPSE_HVA));
    }
    DemandPaging.check(vmm.madviseDontneed(COLLAPSE_HVA + page, HUGE - page), 0, "MADV_DONTNEED");
    for (long a = COLLAPSE_HVA + page; a < COLLAPSE_HVA + HUGE; a += page) {
      DemandPaging.check(vmm.userWrite(a), 0, "populate");
    }
    DemandPaging.check(vmm.madviseDontneed(COLLAPSE_HVA, page), 0, "MADV_DONTNEED");
    DemandPaging.check(vmm.userWrite(COLLAPSE_HVA), 0, "populate");
  }

  /** A vCPU's accesses: a slot, then a page of it, each a write with even odds. */
  private static GuestProgram program(ScenarioRun run) {
    long[] gpas = new long[ACCESSES_PER_VCPU];
    int[] kinds = new int[ACCESSES_PER_VCPU];
    for (int i = 0; i < ACCESSES_PER_VCPU; i++) {
      Layout slot = SLOTS[run.choices().nextInt(SLOTS.length)];
      gpas[i] = slot.gpa + ((long) run.choices().nextInt((int) slot.pages(run.vm().pageShift())) << run.vm().pageShift());
      kinds[i] = run.choices().chance(50) ? GuestAccess.WRITE : GuestAccess.READ;
    }
    return GuestProgram.of(gpas, kinds);
  }

  /**
   * The host: split the THP under a page of a THP range, collapse the prepared region, drop a
   * page of a THP range or a whole hugetlbfs page, as drawn.
   */
  private static void spawnHost(ScenarioRun run, MmStruct vmm) {
    int[] kinds = new int[HOST_OPERATIONS];
    long[] hvas = new long[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      kinds[i] = run.choices().nextInt(4);
      long range = THP_RANGES[run.choices().nextInt(THP_RANGES.length)] & -HUGE;
      int pageShift = vmm.memory().pageShift();
      hvas[i] = range + ((long) run.choices().nextInt((int) (4 * MB >>> pageShift)) << pageShift);
    }
    run.spawn(
        "host",
        () -> {
          for (int i = 0; i < HOST_OPERATIONS; i++) {
            switch (kinds[i]) {
              case 0:
                vmm.splitHugePmdAddress(hvas[i]);
                break;
              case 1:
                vmm.collapseHugePage(COLLAPSE_HVA);
                break;
              case 2:
                DemandPaging.check(vmm.madviseDontneed(hvas[i], vmm.memory().hostPageSize().bytes()), 0,
                    "MADV_DONTNEED");
                break;
              default:
                DemandPaging.check(vmm.madviseDontneed(HUGETLB.hva, HUGE), 0,
                    "MADV_DONTNEED hugetlbfs");
                break;
            }
            run.scheduler().point("host");
          }
        });
  }

  /** The VMM: dirty logging on the first slot on, then off again, twice (flags-only updates). */
  private static void spawnLoggingToggle(ScenarioRun run, KvmInstance vm) {
    run.spawn(
        "vmm",
        () -> {
          for (int i = 0; i < LOGGING_ROUNDS; i++) {
            DemandPaging.check(
                vm.setUserMemoryRegion2(THP.region(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES)), 0,
                "KVM_SET_USER_MEMORY_REGION2(KVM_MEM_LOG_DIRTY_PAGES)");
            run.scheduler().point("vmm");
            DemandPaging.check(vm.setUserMemoryRegion2(THP.region(0)), 0,
                "KVM_SET_USER_MEMORY_REGION2(0)");
            run.scheduler().point("vmm");
          }
        });
  }

  /** One memslot of the layout: id, guest physical address, size and hva. */
  static final class Layout {
    final int id;
    final long gpa;
    final long size;
    final long hva;

    Layout(int id, long gpa, long size, long hva) {
      this.id = id;
      this.gpa = gpa;
      this.size = size;
      this.hva = hva;
    }

    long pages(int pageShift) {
      return size >>> pageShift;
    }

    UserspaceMemoryRegion2 region(int flags) {
      return new UserspaceMemoryRegion2(id, flags, gpa, size, hva);
    }
  }
}

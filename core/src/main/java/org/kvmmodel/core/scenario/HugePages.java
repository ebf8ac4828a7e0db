package org.kvmmodel.core.scenario;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * huge-pages (after KVM's {@code kvm_page_table_test} and the THP/hugetlb backings of
 * {@code dirty_log_perf_test}): guest memory backed by THP, hugetlbfs of the host's PMD size
 * and {@code VM_PFNMAP} IO memory, in memslots whose placement sometimes allows stage-2 huge
 * mappings and sometimes not: a THP slot and a hugetlbfs slot aligned for blocks, a THP slot
 * whose hva is one host page off huge-page alignment, a slot smaller than a block, a slot whose end
 * cuts a THP, an IO slot whose hva and physical address align and one whose do not, the latter
 * mapped read-only by the host on half the runs (a guest write there is -EFAULT; where KVM
 * refuses a writable slot over it with -EPERM, as RISC-V's prepare does, the VMM makes the slot
 * read-only and the write exits as MMIO). Two vCPUs
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
  static final int ACCESSES_PER_VCPU = 32;
  static final int HOST_OPERATIONS = 6;
  static final int LOGGING_ROUNDS = 2;

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
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    MmStruct vmm = vm.vmm();
    Slots slots = new Slots(vmm.memory().hostPageSize());
    long huge = slots.huge;
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    for (long thp : slots.thpRanges) {
      long start = thp & -huge;
      DemandPaging.check(vmm.mmap(start, 2 * huge, rw, VmaKind.ANON_THP), start, "mmap THP");
    }
    DemandPaging.check(vmm.mmap(slots.hugetlb.hva, huge, rw, VmaKind.HUGETLB_PMD),
        slots.hugetlb.hva, "mmap hugetlbfs");
    long pmdPages = 1L << vmm.memory().hostPageSize().pmdOrder();
    long io = (vmm.memory().ioPfnBase() + pmdPages - 1) & -pmdPages;
    DemandPaging.check(vmm.mmapPfn(slots.ioAligned.hva, huge, rw, io), slots.ioAligned.hva,
        "mmap IO");
    int misalignedProt = run.choices().chance(50) ? Vma.VM_READ : rw;
    DemandPaging.check(
        vmm.mmapPfn(slots.ioMisaligned.hva, huge, misalignedProt, io + pmdPages + 1),
        slots.ioMisaligned.hva, "mmap IO");
    prepareCollapsibleRegion(vmm, slots);
    if (run.choices().nextInt(2) == 0) {
      int rc = vm.enableCap(KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE, huge);
      if (rc != 0 && rc != Errno.EINVAL.negative()) {
        throw new IllegalStateException("KVM_ENABLE_CAP failed: " + rc);
      }
    }
    for (Layout slot : slots.all) {
      int rc = vm.setUserMemoryRegion2(slot.region(0));
      boolean ioSlot = slot == slots.ioAligned || slot == slots.ioMisaligned;
      if (ioSlot && rc == Errno.EPERM.negative()) {
        rc = vm.setUserMemoryRegion2(slot.region(MemorySlot.KVM_MEM_READONLY));
      }
      if (rc != 0 && !(ioSlot && rc == Errno.EINVAL.negative())) {
        throw new IllegalStateException("KVM_SET_USER_MEMORY_REGION2(" + slot.id + ") failed: " + rc);
      }
    }
    for (int id = 0; id < 2; id++) {
      Vcpu vcpu = run.createVcpu(id);
      GuestProgram program = program(run, slots);
      run.spawn(vcpu.name(), () -> vcpu.run(program));
    }
    spawnHost(run, vmm, slots);
    spawnLoggingToggle(run, vm, slots.thp);
  }

  /**
   * Leaves the second huge page of the first slot mapped by exclusive small folios, which only
   * {@code collapse_huge_page} turns back into a THP: fault a THP, split its PMD, drop all but
   * the first page and write them again (the PTE table now in place, they come back small),
   * then the same for the first page.
   */
  private static void prepareCollapsibleRegion(MmStruct vmm, Slots slots) {
    long page = vmm.memory().hostPageSize().bytes();
    long collapse = slots.collapseHva;
    DemandPaging.check(vmm.userWrite(collapse), 0, "populate");
    if (!vmm.splitHugePmdAddress(collapse)) {
      throw new IllegalStateException("no THP to split at " + Long.toHexString(collapse));
    }
    DemandPaging.check(vmm.madviseDontneed(collapse + page, slots.huge - page), 0,
        "MADV_DONTNEED");
    for (long a = collapse + page; a < collapse + slots.huge; a += page) {
      DemandPaging.check(vmm.userWrite(a), 0, "populate");
    }
    DemandPaging.check(vmm.madviseDontneed(collapse, page), 0, "MADV_DONTNEED");
    DemandPaging.check(vmm.userWrite(collapse), 0, "populate");
  }

  /** A vCPU's accesses: a slot, then a page of it, each a write with even odds. */
  private static GuestProgram program(ScenarioRun run, Slots slots) {
    long[] gpas = new long[ACCESSES_PER_VCPU];
    int[] kinds = new int[ACCESSES_PER_VCPU];
    for (int i = 0; i < ACCESSES_PER_VCPU; i++) {
      Layout slot = slots.all[run.choices().nextInt(slots.all.length)];
      gpas[i] = slot.gpa + ((long) run.choices().nextInt((int) slot.pages(run.vm().pageShift())) << run.vm().pageShift());
      kinds[i] = run.choices().chance(50) ? GuestAccess.WRITE : GuestAccess.READ;
    }
    return GuestProgram.of(gpas, kinds);
  }

  /**
   * The host: split the THP under a page of a THP range, collapse the prepared region, drop a
   * page of a THP range or a whole hugetlbfs page, as drawn.
   */
  private static void spawnHost(ScenarioRun run, MmStruct vmm, Slots slots) {
    int[] kinds = new int[HOST_OPERATIONS];
    long[] hvas = new long[HOST_OPERATIONS];
    int pageShift = vmm.memory().pageShift();
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      kinds[i] = run.choices().nextInt(4);
      long range = slots.thpRanges[run.choices().nextInt(slots.thpRanges.length)] & -slots.huge;
      hvas[i] = range + ((long) run.choices().nextInt((int) (2 * slots.huge >>> pageShift))
          << pageShift);
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
                vmm.collapseHugePage(slots.collapseHva);
                break;
              case 2:
                DemandPaging.check(vmm.madviseDontneed(hvas[i], vmm.memory().hostPageSize().bytes()), 0,
                    "MADV_DONTNEED");
                break;
              default:
                DemandPaging.check(vmm.madviseDontneed(slots.hugetlb.hva, slots.huge), 0,
                    "MADV_DONTNEED hugetlbfs");
                break;
            }
            run.scheduler().point("host");
          }
        });
  }

  /** The VMM: dirty logging on the first slot on, then off again, twice (flags-only updates). */
  private static void spawnLoggingToggle(ScenarioRun run, KvmInstance vm, Layout thp) {
    run.spawn(
        "vmm",
        () -> {
          for (int i = 0; i < LOGGING_ROUNDS; i++) {
            DemandPaging.check(
                vm.setUserMemoryRegion2(thp.region(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES)), 0,
                "KVM_SET_USER_MEMORY_REGION2(KVM_MEM_LOG_DIRTY_PAGES)");
            run.scheduler().point("vmm");
            DemandPaging.check(vm.setUserMemoryRegion2(thp.region(0)), 0,
                "KVM_SET_USER_MEMORY_REGION2(0)");
            run.scheduler().point("vmm");
          }
        });
  }

  /**
   * The memslots, in units of the host's PMD size ({@code huge}: 2 MiB on a 4 KiB host, 32 MiB
   * on 16 KiB, 512 MiB on 64 KiB), so THP and hugetlbfs folios are PMD-sized on every host and
   * a misaligned hva is one host page off.
   */
  static final class Slots {
    final long huge;
    /** Slot 0: THP, blocks allowed; its second huge page is prepared to collapse. */
    final Layout thp;
    /** Slot 1: PMD-sized hugetlbfs, blocks allowed. */
    final Layout hugetlb;
    /** Slot 2: THP whose hva is one host page off the IPA's huge-page alignment: pages only. */
    final Layout misaligned;
    /** Slot 3: THP, an eighth of a huge page: smaller than a block. */
    final Layout small;
    /** Slot 4: THP, one and a half huge pages: one block, then an end that cuts a THP. */
    final Layout edge;
    /** Slot 5: IO memory whose hva and physical address are equally huge-page aligned. */
    final Layout ioAligned;
    /** Slot 6: IO memory whose physical address is one page off its hva's alignment. */
    final Layout ioMisaligned;
    final Layout[] all;
    /** The hvas whose huge-page-aligned two huge pages are THP mappings. */
    final long[] thpRanges;
    /** The start of the region prepared with small pages for {@code collapse_huge_page}. */
    final long collapseHva;

    Slots(HostPageSize host) {
      long h = host.pmdSize();
      huge = h;
      thp = new Layout(0, 0, 2 * h, HVA);
      hugetlb = new Layout(1, 2 * h, h, HVA + 4 * h);
      misaligned = new Layout(2, 4 * h, h, HVA + 8 * h + host.bytes());
      small = new Layout(3, 6 * h, h / 8, HVA + 12 * h);
      edge = new Layout(4, 8 * h, 3 * h / 2, HVA + 16 * h);
      ioAligned = new Layout(5, 10 * h, h, HVA + 20 * h);
      ioMisaligned = new Layout(6, 12 * h, h, HVA + 22 * h);
      all = new Layout[] {thp, hugetlb, misaligned, small, edge, ioAligned, ioMisaligned};
      thpRanges = new long[] {thp.hva, misaligned.hva, small.hva, edge.hva};
      collapseHva = HVA + h;
    }
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

package org.kvmmodel.core.scenario;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.DirtyLogMode;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * dirty-log (after KVM's {@code dirty_log_test}): two vCPUs mostly write guest memory while a
 * harvester turns dirty logging on with a flags-only KVM_SET_USER_MEMORY_REGION2
 * ({@code KVM_MEM_LOG_DIRTY_PAGES}) and then calls KVM_GET_DIRTY_LOG again and again; each
 * harvest re-protects what it reports, so writes race the write-protection and its TLB flush.
 * KVM itself also writes guest pages ({@code kvm_write_guest}, as its kvm-clock and steal-time
 * updates do), and those writes must reach the log too.
 *
 * <p>Each run draws what the selftest varies by command line: the slot's size (64 pages or a
 * host PMD, either exact or 36 pages longer, so the bitmap's last word is partial), its backing
 * (anonymous or THP, so huge leaves may exist when logging starts), and, unless the configuration
 * set one, the log mode through {@code KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)}:
 * harvest-and-protect, manual protect, or manual protect with every bit initially set. With
 * manual protect every harvest is followed by a KVM_CLEAR_DIRTY_LOG of a valid request drawn
 * from the run (a 64-page-aligned start; a multiple of 64 pages or up to the slot's end; all,
 * the harvested or random bits) and now and then a request KVM must refuse with -EINVAL. Every
 * ioctl's return is verified.
 */
public final class DirtyLogHarvest implements Scenario {

  static final long HVA = 0x7f4000000000L;
  static final int ACCESSES_PER_VCPU = 24;
  static final int HARVESTS = 8;
  static final int KVM_WRITES = 6;
  /** Pages past a whole number of bitmap words, so the last word is partial. */
  static final int PARTIAL_WORD = 36;

  @Override
  public String name() {
    return "dirty-log";
  }

  @Override
  public String description() {
    return "two vCPUs write while dirty logging is on and the log is harvested (and cleared)"
        + " again and again";
  }

  /** dirty_log_test's harvest loop: DIRTY-LOG-COMPLETE judges it. */
  @Override
  public boolean harvestsDirtyLog() {
    return true;
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    ChoiceStream choices = run.choices();
    int pageShift = vm.pageShift();
    int pmdPages = (int) (vm.memory().hostPageSize().pmdSize() >>> pageShift);
    int pages = (choices.chance(50) ? 64 : pmdPages) + (choices.chance(50) ? PARTIAL_WORD : 0);
    VmaKind backing = choices.chance(50) ? VmaKind.ANON : VmaKind.ANON_THP;
    enableDrawnLogMode(vm, choices);
    MmStruct vmm = vm.vmm();
    long bytes = (long) pages << pageShift;
    DemandPaging.check(vmm.mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, backing), HVA,
        "mmap(" + backing + ")");
    DemandPaging.check(vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2");
    run.spawnRandomVcpus(2, pages, ACCESSES_PER_VCPU, 70);
    long[] clockPages = new long[KVM_WRITES];
    for (int i = 0; i < KVM_WRITES; i++) {
      clockPages[i] = choices.nextInt(pages);
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
    int delay = choices.nextInt(4);
    run.spawn("harvester", () -> harvest(run, pages, bytes, delay));
  }

  /**
   * As {@code dirty_log_test -M}, unless the configuration set a mode: harvest-and-protect,
   * manual protect, or manual protect with every bit initially set, drawn and enabled with
   * {@code KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)}.
   */
  static void enableDrawnLogMode(KvmInstance vm, ChoiceStream choices) {
    if (!vm.dirtyLogManualProtect()) {
      long mode = new long[] {0, DirtyLogMode.MANUAL_PROTECT_ENABLE,
          DirtyLogMode.MANUAL_PROTECT_ENABLE | DirtyLogMode.INITIALLY_SET}[choices.nextInt(3)];
      DemandPaging.check(vm.enableCap(KvmCap.MANUAL_DIRTY_LOG_PROTECT2, mode), 0,
          "KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)");
    }
  }

  /**
   * The harvester: after {@code delay} scheduler points (the guests may have mapped huge leaves
   * by then) logging is turned on, then the log is harvested, and with manual protect cleared.
   */
  private static void harvest(ScenarioRun run, int pages, long bytes, int delay) {
    KvmInstance vm = run.vm();
    for (int i = 0; i < delay; i++) {
      run.scheduler().point("harvester");
    }
    DemandPaging.check(
        vm.setUserMemoryRegion2(
            new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, bytes, HVA)),
        0, "KVM_SET_USER_MEMORY_REGION2(KVM_MEM_LOG_DIRTY_PAGES)");
    long[] bitmap = new long[KvmMemslot.bitmapLongs(pages)];
    for (int i = 0; i < HARVESTS; i++) {
      DemandPaging.check(vm.getDirtyLog(0, bitmap), 0, "KVM_GET_DIRTY_LOG");
      run.scheduler().point("harvester");
      if (vm.dirtyLogManualProtect()) {
        clear(run, pages, bitmap);
        run.scheduler().point("harvester");
      }
    }
  }

  /**
   * One KVM_CLEAR_DIRTY_LOG drawn from the run: mostly a request KVM accepts, one in eight one
   * it must refuse (a start that is not 64-page aligned, or a length that is not a multiple of
   * 64 and stops short of the slot's end).
   */
  private static void clear(ScenarioRun run, int pages, long[] harvested) {
    ChoiceStream choices = run.choices();
    int words = harvested.length;
    long first = 64L * choices.nextInt(words);
    long remaining = pages - first;
    long num = remaining >= 128 && choices.chance(50)
        ? 64L * choices.nextInt(1, (int) (remaining / 64) - 1)
        : remaining;
    long[] mask = new long[(int) ((num + 63) >>> 6)];
    for (int w = 0; w < mask.length; w++) {
      switch (choices.nextInt(3)) {
        case 0:
          mask[w] = -1L;
          break;
        case 1:
          mask[w] = harvested[(int) (first >>> 6) + w];
          break;
        default:
          mask[w] = choices.nextInt(Integer.MAX_VALUE) * 0x9e3779b97f4a7c15L;
          break;
      }
    }
    long expected = 0;
    if (choices.chance(12)) {
      expected = Errno.EINVAL.negative();
      if (remaining > 64 && choices.chance(50)) {
        num = 64L * ((remaining - 1) / 64) - 1;
      } else {
        first++;
      }
    }
    DemandPaging.check(run.vm().clearDirtyLog(0, first, num, mask), expected,
        "KVM_CLEAR_DIRTY_LOG(first_page " + first + ", num_pages " + num + ")");
  }
}

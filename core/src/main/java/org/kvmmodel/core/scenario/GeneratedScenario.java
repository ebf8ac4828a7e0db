package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * generated: a scenario composed from the run's choice stream, so every seed is another host.
 * It draws one or two VMs, each of its own VMM process (so with its own mm), and for each the
 * dirty-log mode ({@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}, with or without
 * initially-all-set), one to three memslots ({@link GeneratedSlot}: backing, size, alignment
 * of hva and gpa, flags), one to three vCPUs whose programs are random, sequential or hot-set
 * reads, writes, atomics and instruction fetches (now and then outside every slot), the host's
 * events (MADV_DONTNEED, reclaim, migration, writeback, THP split and collapse, mprotect,
 * munmap and remap, NUMA hinting, hwpoison, aging, VMM stores, and the exit of a forked child
 * that shares pages copy-on-write) and the VMM's operations (dirty-log harvests and clears,
 * logging toggled, slots deleted and recreated or moved, {@code kvm_write_guest}). Each memslot
 * and dirty-log ioctl's return is verified.
 *
 * <p>Every draw's 0 is its simplest option (one VM, one slot of anonymous memory, 64 pages,
 * aligned, no flags, one vCPU, no host or VMM activity), so shrinking a failing run's choices
 * leaves the smallest scenario that still fails, and {@code run generated --seed S} replays it.
 */
public final class GeneratedScenario implements Scenario {

  static final int MAX_VMS = 2;
  static final int MAX_SLOTS = 3;
  static final int MAX_VCPUS = 3;
  static final int MAX_ACCESSES = 32;
  static final int MAX_HOST_EVENTS = 8;
  static final int MAX_VMM_OPERATIONS = 6;

  @Override
  public String name() {
    return "generated";
  }

  @Override
  public String description() {
    return "a host of one or two VMs composed from the seed: memslots of drawn backings, sizes,"
        + " alignments and flags, vCPUs with drawn access patterns, host events and VMM"
        + " operations";
  }

  @Override
  public long stepBound() {
    return 120_000;
  }

  @Override
  public boolean composedFromSeed() {
    return true;
  }

  /** Slots that log are harvested by the VMM: DIRTY-LOG-COMPLETE judges it. */
  @Override
  public boolean harvestsDirtyLog() {
    return true;
  }

  @Override
  public void setUp(ScenarioRun run) {
    ChoiceStream choices = run.choices();
    int vms = 1 + choices.nextInt(MAX_VMS);
    boolean deviceTaken = false;
    for (int index = 0; index < vms; index++) {
      KvmInstance vm = index == 0 ? run.vm() : run.addVm();
      deviceTaken = compose(run, vm, index * MAX_SLOTS, deviceTaken);
    }
  }

  /**
   * Composes one VM: its log mode, memslots, vCPUs, host events and VMM. {@code firstSlot} is
   * its first slot's place among the host's generated slots; returns whether the host's
   * ZONE_DEVICE frames are taken afterwards.
   */
  private static boolean compose(
      ScenarioRun run, KvmInstance vm, int firstSlot, boolean deviceTaken) {
    ChoiceStream choices = run.choices();
    DirtyLogHarvest.enableDrawnLogMode(vm, choices);
    List<GeneratedSlot> slots = new ArrayList<>();
    int count = 1 + choices.nextInt(MAX_SLOTS);
    boolean taken = deviceTaken;
    for (int id = 0; id < count; id++) {
      GeneratedSlot slot = GeneratedSlot.create(vm, choices, id, firstSlot + id, taken);
      if (slot != null) {
        taken |= slot.backing == GeneratedBacking.ZONE_DEVICE;
        slots.add(slot);
      }
    }
    MmStruct child =
        slots.stream().anyMatch(s -> s.backing == GeneratedBacking.COW_AFTER_FORK)
            ? vm.vmm().fork() : null;
    int vcpus = 1 + choices.nextInt(MAX_VCPUS);
    for (int id = 0; id < vcpus; id++) {
      Vcpu vcpu = run.createVcpu(vm, id);
      GuestProgram program = program(choices, slots, vm.pageShift());
      run.spawn(vcpu.name(), () -> vcpu.run(program));
    }
    GeneratedHost.spawn(run, vm, slots, child);
    spawnVmm(run, vm, slots);
    return taken;
  }

  /**
   * A vCPU's accesses: random over every slot, a sequential run through one, or a hot set of
   * four pages of one; one in ten a gpa in no slot (an MMIO exit). The access mix is drawn
   * once per vCPU: a write share of 0, 30, 70 or 100 percent, with atomics and instruction
   * fetches now and then.
   */
  private static GuestProgram program(ChoiceStream choices, List<GeneratedSlot> slots, int pageShift) {
    int n = 1 + choices.nextInt(MAX_ACCESSES);
    long[] gpas = new long[n];
    int[] kinds = new int[n];
    int pattern = choices.nextInt(3);
    int writePercent = new int[] {0, 30, 70, 100}[choices.nextInt(4)];
    GeneratedSlot home = slots.isEmpty() ? null : slots.get(choices.nextInt(slots.size()));
    long start = home == null ? 0 : choices.nextInt((int) home.pages);
    for (int i = 0; i < n; i++) {
      GeneratedSlot slot = home;
      long page;
      if (slot == null || choices.chance(10)) {
        gpas[i] = (long) (2 * GeneratedSlot.REGION_PMDS * MAX_SLOTS + choices.nextInt(64))
            << pageShift;
        kinds[i] = GuestAccess.READ;
        continue;
      }
      switch (pattern) {
        case 0:
          slot = slots.get(choices.nextInt(slots.size()));
          page = choices.nextInt((int) slot.pages);
          break;
        case 1:
          page = (start + i) % slot.pages;
          break;
        default:
          page = (start + choices.nextInt(4)) % slot.pages;
          break;
      }
      gpas[i] = slot.homeGpa(page);
      kinds[i] = access(choices, writePercent);
    }
    return GuestProgram.of(gpas, kinds);
  }

  private static int access(ChoiceStream choices, int writePercent) {
    int roll = choices.nextInt(20);
    if (roll == 18) {
      return GuestAccess.READ_MODIFY_WRITE;
    }
    if (roll == 19) {
      return GuestAccess.EXEC;
    }
    return choices.nextInt(100) < writePercent ? GuestAccess.WRITE : GuestAccess.READ;
  }

  /**
   * The VMM: its operations drawn at set-up, each on a drawn slot: harvest the log (and clear
   * what it reported, with manual protect), toggle logging, delete and recreate, move, or
   * write guest memory as KVM's own kvm-clock update does.
   */
  private static void spawnVmm(ScenarioRun run, KvmInstance vm, List<GeneratedSlot> slots) {
    if (slots.isEmpty()) {
      return;
    }
    ChoiceStream choices = run.choices();
    int n = choices.nextInt(MAX_VMM_OPERATIONS + 1);
    int[] kinds = new int[n];
    int[] targets = new int[n];
    long[] pages = new long[n];
    for (int i = 0; i < n; i++) {
      kinds[i] = choices.nextInt(5);
      targets[i] = choices.nextInt(slots.size());
      pages[i] = choices.nextInt((int) slots.get(targets[i]).pages);
    }
    run.spawn(
        vm.actorName("vmm"),
        () -> {
          for (int i = 0; i < n; i++) {
            GeneratedSlot slot = slots.get(targets[i]);
            switch (kinds[i]) {
              case 0:
                harvest(vm, slot);
                break;
              case 1:
                slot.toggleLogging(vm);
                break;
              case 2:
                slot.deleteAndRecreate(run, vm);
                break;
              case 3:
                slot.move(vm);
                break;
              default:
                writeGuest(vm, slot, pages[i]);
                break;
            }
            run.scheduler().point("vmm");
          }
        });
  }

  /**
   * KVM_GET_DIRTY_LOG of the slot: -ENOENT unless it logs; with manual protect, a
   * KVM_CLEAR_DIRTY_LOG of exactly what it reported.
   */
  private static void harvest(KvmInstance vm, GeneratedSlot slot) {
    long[] bitmap = new long[KvmMemslot.bitmapLongs(slot.pages)];
    int expected = slot.logging() ? 0 : Errno.ENOENT.negative();
    DemandPaging.check(vm.getDirtyLog(slot.id, bitmap), expected, "KVM_GET_DIRTY_LOG " + slot);
    if (expected == 0 && vm.dirtyLogManualProtect()) {
      DemandPaging.check(vm.clearDirtyLog(slot.id, 0, slot.pages, bitmap), 0,
          "KVM_CLEAR_DIRTY_LOG " + slot);
    }
  }

  /**
   * {@code kvm_write_guest} of 32 bytes in a page of the slot, inside an SRCU read section;
   * -EFAULT where the page cannot be written (a read-only slot or host mapping, memory the host
   * took away or poisoned).
   */
  private static void writeGuest(KvmInstance vm, GeneratedSlot slot, long page) {
    int idx = vm.srcu().readLock();
    try {
      int rc = vm.writeGuest(slot.gpa(page) + 0x40, 32);
      if (rc != 0 && rc != Errno.EFAULT.negative()) {
        throw new IllegalStateException("kvm_write_guest " + slot + " failed: returned " + rc);
      }
    } finally {
      vm.srcu().readUnlock(idx);
    }
  }
}

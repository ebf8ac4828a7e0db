package org.kvmmodel.core.scenario;

import java.util.List;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;

/**
 * The host side of a {@link GeneratedScenario}: events drawn at set-up, each on a drawn page
 * of a drawn slot, run by one actor racing the guests and the VMM, each raising the
 * mmu_notifier events Linux raises for it. An event that does not apply to the page's memory
 * (a THP split of a small page, writeback of anonymous memory) does what the kernel does
 * there, which is often nothing (an mprotect of hugetlbfs memory covers its whole huge page, as
 * the kernel requires); last, a forked child sharing pages copy-on-write exits.
 */
final class GeneratedHost {

  private enum Event {
    MADV_DONTNEED,
    RECLAIM,
    MIGRATE,
    WRITEBACK,
    SPLIT_THP,
    COLLAPSE_THP,
    MPROTECT_READ_ONLY_AND_BACK,
    MUNMAP_AND_REMAP,
    NUMA_HINTING,
    HWPOISON,
    AGING,
    VMM_STORE
  }

  private GeneratedHost() {}

  /**
   * Draws the events on {@code vm}'s VMM process and spawns its {@code host} actor, if there is
   * anything to do.
   */
  static void spawn(ScenarioRun run, KvmInstance vm, List<GeneratedSlot> slots, MmStruct child) {
    if (slots.isEmpty()) {
      return;
    }
    ChoiceStream choices = run.choices();
    Event[] all = Event.values();
    int n = choices.nextInt(GeneratedScenario.MAX_HOST_EVENTS + 1);
    Event[] events = new Event[n];
    GeneratedSlot[] targets = new GeneratedSlot[n];
    long[] pages = new long[n];
    for (int i = 0; i < n; i++) {
      events[i] = all[choices.nextInt(all.length)];
      targets[i] = slots.get(choices.nextInt(slots.size()));
      pages[i] = choices.nextInt((int) targets[i].pages);
    }
    if (n == 0 && child == null) {
      return;
    }
    MmStruct vmm = vm.vmm();
    run.spawn(
        vm.actorName("host"),
        () -> {
          for (int i = 0; i < n; i++) {
            apply(run, vmm, events[i], targets[i], pages[i]);
            run.scheduler().point("host");
          }
          if (child != null) {
            child.exitMmap();
          }
        });
  }

  private static void apply(
      ScenarioRun run, MmStruct vmm, Event event, GeneratedSlot slot, long page) {
    HostMemory memory = vmm.memory();
    long pageSize = memory.hostPageSize().bytes();
    long hva = slot.hva + page * pageSize;
    long pte = vmm.hostPte(hva);
    boolean mapsFolio = HostPte.mapsPfn(pte) && !HostPte.isSpecial(pte);
    switch (event) {
      case MADV_DONTNEED:
        vmm.madviseDontneed(hva, pageSize);
        break;
      case RECLAIM:
        if (mapsFolio) {
          memory.reclaimFolio(HostPte.pfn(pte));
        }
        break;
      case MIGRATE:
        PfnCache.migrate(run, memory, pte);
        break;
      case WRITEBACK:
        writeback(run, memory, slot, page);
        break;
      case SPLIT_THP:
        vmm.splitHugePmdAddress(hva);
        break;
      case COLLAPSE_THP:
        vmm.collapseHugePage(hva);
        break;
      case MPROTECT_READ_ONLY_AND_BACK:
        if (!slot.backing.pfnmap()) {
          long size = slot.backing.wholeHugePages() ? memory.hostPageSize().pmdSize() : pageSize;
          long start = hva & -size;
          DemandPaging.check(vmm.mprotect(start, size, Vma.VM_READ), 0, "mprotect(PROT_READ)");
          run.scheduler().point("host");
          DemandPaging.check(vmm.mprotect(start, size, Vma.VM_READ | Vma.VM_WRITE), 0,
              "mprotect(PROT_READ|PROT_WRITE)");
        }
        break;
      case MUNMAP_AND_REMAP:
        remap(run, vmm, slot, page);
        break;
      case NUMA_HINTING:
        vmm.changeProtNuma(hva, hva + pageSize);
        break;
      case HWPOISON:
        if (mapsFolio) {
          memory.memoryFailure(HostPte.pfn(pte));
        }
        break;
      case AGING:
        vmm.clearYoungNotify(hva, hva + pageSize);
        break;
      default:
        vmm.userWrite(hva);
        break;
    }
  }

  /** Writeback of a shared file page: {@code folio_clear_dirty_for_io}, the IO, its end. */
  private static void writeback(ScenarioRun run, HostMemory memory, GeneratedSlot slot, long page) {
    if (slot.backing != GeneratedBacking.FILE_SHARED) {
      return;
    }
    if (memory.writeback(slot.file, page)) {
      run.scheduler().point("writeback IO");
      memory.endWriteback(slot.file, page);
    }
  }

  /**
   * {@code munmap} of a page of anonymous memory and a fresh anonymous mapping in its place,
   * as a VMM that discards and re-creates guest RAM does; other backings are left alone.
   */
  private static void remap(ScenarioRun run, MmStruct vmm, GeneratedSlot slot, long page) {
    if (slot.backing != GeneratedBacking.ANON && slot.backing != GeneratedBacking.ZERO_PAGE) {
      return;
    }
    long pageSize = vmm.memory().hostPageSize().bytes();
    long hva = slot.hva + page * pageSize;
    DemandPaging.check(vmm.munmap(hva, pageSize), 0, "munmap");
    run.scheduler().point("host");
    DemandPaging.check(slot.backing.map(vmm, hva, pageSize, 0, null), hva, "mmap");
  }
}

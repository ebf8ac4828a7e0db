package org.kvmmodel.bench;

import java.lang.ref.Reference;
import java.util.Locale;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * Heap bytes per mapped 4 KiB page of a fully faulted guest, everything included: the host's
 * frame metadata, the VMM's host page tables and folios, the EPT tables, the memslot, the VM
 * and its event log. A host of {@code guest + 16 MiB} of RAM is built, one anonymous memslot of
 * the guest size is faulted in by one vCPU writing every page through the full modelled path
 * (free mode, x86, no checks), and the used heap is read with {@link Runtime} after repeated
 * {@link System#gc()} before the model exists, after the VM and memslot are set up and after
 * every page is mapped. Each round builds a new model; the figures of every round are printed.
 *
 * <p>"total" divides everything the model holds by the guest pages; "faulting" divides only
 * what faulting added (host PTE tables, EPT tables, per-fault bookkeeping), since the frame
 * metadata is allocated with the host; the set-up is also split into host, VM and memslot.
 *
 * <p>The reading is what the heap holds, collector overheads included: under G1 an array larger
 * than half a region is humongous and occupies whole regions, so the host's three per-frame
 * arrays of a 1 GiB guest (1 to 2 MiB each) read about twice their size; on a 64 GiB guest the
 * rounding is negligible. {@code -XX:+UseParallelGC} reads the live size. Run it from the
 * repository's root with:
 *
 * <pre>
 * mvn -B -o -q package -DskipTests -pl bench -am
 * java -Xmx4g -cp bench/target/benchmarks.jar org.kvmmodel.bench.HeapPerPage [guest-MiB] [rounds]
 * java -Xmx4g -XX:+UseParallelGC -cp bench/target/benchmarks.jar org.kvmmodel.bench.HeapPerPage
 * </pre>
 *
 * with a 1024 MiB guest (262144 pages) and 3 rounds by default.
 */
public final class HeapPerPage {

  private HeapPerPage() {}

  public static void main(String[] args) {
    long guestMiB = args.length > 0 ? Long.parseLong(args[0]) : 1024;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    int pages = (int) (guestMiB << 20 >>> HostPageSize.SIZE_4K.shift());
    // Load and compile the classes involved on a small guest first.
    faultIn(32, 4096);
    System.out.printf(
        Locale.US, "guest %d MiB = %d pages of 4 KiB, host RAM %d MiB, x86 ept4-ad%n",
        guestMiB, pages, guestMiB + 16);
    for (int round = 1; round <= rounds; round++) {
      long empty = usedHeap();
      KvmModel model =
          KvmModel.create(
              BenchModels.settings("x86", "ept4-ad", guestMiB + 16),
              BenchModels.REGISTRY,
              FreeScheduler.INSTANCE,
              ChoiceStream.seeded(1));
      long host = usedHeap();
      KvmInstance vm = model.createVm();
      long vmCreated = usedHeap();
      Built built = withMemslot(model, vm, pages);
      long setUp = usedHeap();
      fault(built, pages);
      long mapped = usedHeap();
      Reference.reachabilityFence(built);
      System.out.printf(
          Locale.US,
          "round %d: total %.1f bytes/page (%d bytes), faulting %.1f bytes/page, set-up %.1f"
              + " bytes/page; 64 GiB guest at this rate: %.2f GiB%n",
          round,
          (double) (mapped - empty) / pages,
          mapped - empty,
          (double) (mapped - setUp) / pages,
          (double) (setUp - empty) / pages,
          (double) (mapped - empty) / pages * (64L << 30 >>> HostPageSize.SIZE_4K.shift()) / (1L << 30));
      System.out.printf(
          Locale.US,
          "  set-up: host %.1f bytes/page, VM %.1f bytes/page, memslot and vCPU %.1f bytes/page%n",
          (double) (host - empty) / pages,
          (double) (vmCreated - host) / pages,
          (double) (setUp - vmCreated) / pages);
      built = null;
      model = null;
      vm = null;
    }
  }

  private record Built(KvmModel model, KvmInstance vm, Vcpu vcpu) {}

  private static Built build(long hostMiB, int pages) {
    KvmModel model =
        KvmModel.create(
            BenchModels.settings("x86", "ept4-ad", hostMiB),
            BenchModels.REGISTRY,
            FreeScheduler.INSTANCE,
            ChoiceStream.seeded(1));
    return withMemslot(model, model.createVm(), pages);
  }

  private static Built withMemslot(KvmModel model, KvmInstance vm, int pages) {
    BenchModels.anonymousMemslot(vm, pages);
    ArchMmu arch = vm.arch();
    Vcpu vcpu = new Vcpu(0, vm, arch.walker(), arch::handleGuestFault, FreeScheduler.INSTANCE);
    return new Built(model, vm, vcpu);
  }

  private static void fault(Built built, int pages) {
    GuestProgram program = BenchModels.writeEachPage(0, pages, false, 0);
    long exits = built.vcpu().run(program);
    if (exits != 0 || built.vcpu().accesses() != pages) {
      throw new IllegalStateException(
          exits + " exits to userspace, " + built.vcpu().accesses() + " of " + pages + " accesses");
    }
    program = null;
  }

  private static void faultIn(long hostMiB, int pages) {
    fault(build(hostMiB, pages), pages);
  }

  /** Used heap after garbage collection has settled: the least of several readings. */
  private static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    long least = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while measuring", e);
      }
      least = Math.min(least, rt.totalMemory() - rt.freeMemory());
    }
    return least;
  }
}

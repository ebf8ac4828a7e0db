package org.kvmmodel.bench;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.GuestProgram;
import org.kvmmodel.core.vcpu.Vcpu;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Free-mode demand paging of anonymous guest memory on x86 through the full modelled path.
 * Each vCPU writes every 4 KiB page of its own range once, in gfn order or in a seeded random
 * order, with {@link Vcpu#run}: every access goes through the vCPU's TLB and the EPT hardware
 * walker, misses exit to {@code kvm_tdp_page_fault} in the TDP MMU, which looks up the
 * memslot, faults the page in through GUP (VMA, anonymous folio, host PTE), takes mmu_lock,
 * installs the SPTE and releases the page; the access is then re-executed and completes.
 *
 * <p>The VM has one anonymous memslot of {@code threads × }{@value #PAGES_PER_VCPU} pages; with
 * two threads, each JMH thread runs its own vCPU on its own half. Each iteration is one pass:
 * before it the whole memslot is dropped with {@code madvise(MADV_DONTNEED)} (untimed, while no
 * vCPU runs), which goes through KVM's mmu_notifier and zaps the SPTEs, then every thread
 * faults its whole range once. EPT tables stay linked after the zap, so from the second
 * iteration on the faults are the steady state. The drop is kept out of the passes on
 * purpose: a drop concurrent with another vCPU's faults kicks that vCPU once per zapped SPTE.
 *
 * <p>JMH's score is the time per fault of one thread ({@code @OperationsPerInvocation} is the
 * pages per vCPU). At the end of the trial the benchmark prints the aggregate faults per
 * second over the measurement iterations (all faults of all vCPUs divided by the wall time from
 * the first vCPU's start to the last vCPU's end of each pass) and the bytes allocated by the
 * timed passes per fault, measured per thread. {@code -prof gc}'s {@code gc.alloc.rate.norm}
 * counts every thread from the iteration's start, so it also holds the untimed drop before the
 * pass: its {@code mmu_gather} keeps one pfn (8 bytes) per zapped page and grows by doubling,
 * about 16 bytes per page. {@code checks=true} attaches every check
 * ({@link Checker#attachAll}) to the VM's event log; their verdicts are printed too. Run it
 * from the repository's root with:
 *
 * <pre>
 * mvn -B -o -q package -DskipTests -pl bench -am
 * java -jar bench/target/benchmarks.jar DemandPagingBenchmark -f 1 -wi 5 -i 10 -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 10)
@Measurement(iterations = 20)
@OperationsPerInvocation(DemandPagingBenchmark.PAGES_PER_VCPU)
public class DemandPagingBenchmark {

  /** Pages each vCPU faults per pass (256 MiB). */
  static final int PAGES_PER_VCPU = 65536;

  /** The VM shared by the benchmark's threads. */
  @State(Scope.Benchmark)
  public static class Vm {

    /** The x86 plugin configuration. */
    @Param({"ept4-ad"})
    public String configuration;

    /** gfn: pages in gfn order; random: a seeded permutation per vCPU. */
    @Param({"gfn", "random"})
    public String order;

    /** Whether every check is attached to the VM's event log. */
    @Param({"false", "true"})
    public boolean checks;

    KvmInstance vm;
    private Checker checker;
    private long pages;
    volatile boolean measuring;
    final AtomicInteger nextVcpuId = new AtomicInteger();
    final LongAccumulator passStart = new LongAccumulator(Math::min, Long.MAX_VALUE);
    final LongAccumulator passEnd = new LongAccumulator(Math::max, Long.MIN_VALUE);
    final LongAdder passFaults = new LongAdder();
    private long timedFaults;
    private long timedNanos;
    final LongAdder timedAccesses = new LongAdder();
    final LongAdder timedBytes = new LongAdder();

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
      int threads = params.getThreads();
      pages = (long) threads * PAGES_PER_VCPU;
      long hostMiB = (pages << HostPageSize.SIZE_4K.shift() >>> 20) + 64;
      KvmModel model =
          KvmModel.create(
              BenchModels.settings("x86", configuration, hostMiB),
              BenchModels.REGISTRY,
              FreeScheduler.INSTANCE,
              ChoiceStream.seeded(1));
      vm = model.createVm();
      checker = checks ? Checker.attachAll(vm) : null;
      BenchModels.anonymousMemslot(vm, pages);
    }

    /** madvise(MADV_DONTNEED) of the whole memslot while no vCPU runs: every page faults again. */
    @Setup(Level.Iteration)
    public void dropAll(IterationParams params) {
      measuring = params.getType() == IterationType.MEASUREMENT;
      int r = vm.vmm().madviseDontneed(BenchModels.HVA, pages << HostPageSize.SIZE_4K.shift());
      if (r != 0) {
        throw new IllegalStateException("madvise(MADV_DONTNEED) failed: " + r);
      }
      passStart.reset();
      passEnd.reset();
      passFaults.reset();
    }

    @TearDown(Level.Iteration)
    public void endPass() {
      if (measuring) {
        timedFaults += passFaults.sum();
        timedNanos += passEnd.get() - passStart.get();
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      long accesses = timedAccesses.sum();
      System.out.printf(
          Locale.US,
          "%n[fault path] %d timed accesses, %d faults (%.3f per access), %.0f faults/s"
              + " aggregate, %.1f bytes allocated per fault%n",
          accesses,
          timedFaults,
          accesses == 0 ? 0.0 : (double) timedFaults / accesses,
          timedNanos == 0 ? 0.0 : timedFaults * 1e9 / timedNanos,
          timedFaults == 0 ? 0.0 : (double) timedBytes.sum() / timedFaults);
      if (checker != null) {
        List<CheckResult> results = checker.finish();
        for (CheckResult r : results) {
          System.out.printf(
              Locale.US,
              "[check] %s: %s, %d judged, %d violations%s%n",
              r.id(),
              r.status(),
              r.judged(),
              r.violations().size(),
              r.violations().isEmpty() ? "" : ", first: " + r.violations().get(0));
        }
      }
    }
  }

  /** One vCPU per JMH thread, on its own range of the memslot. */
  @State(Scope.Thread)
  public static class VcpuThread {

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    Vcpu vcpu;
    GuestProgram program;

    @Setup(Level.Trial)
    public void setUp(Vm vm) {
      int id = vm.nextVcpuId.getAndIncrement();
      ArchMmu arch = vm.vm.arch();
      vcpu = new Vcpu(id, vm.vm, arch.walker(), arch::handleGuestFault, FreeScheduler.INSTANCE);
      long firstGfn = (long) id * PAGES_PER_VCPU;
      program =
          BenchModels.writeEachPage(firstGfn, PAGES_PER_VCPU, "random".equals(vm.order), 42 + id);
    }

    long faultEveryPage(Vm vm) {
      long accessesBefore = vcpu.accesses();
      long faultsBefore = vcpu.faults();
      long allocatedBefore = THREADS.getCurrentThreadAllocatedBytes();
      long start = System.nanoTime();
      long exits = vcpu.run(program);
      long end = System.nanoTime();
      long allocated = THREADS.getCurrentThreadAllocatedBytes() - allocatedBefore;
      long accesses = vcpu.accesses() - accessesBefore;
      long faults = vcpu.faults() - faultsBefore;
      if (exits != 0 || accesses != PAGES_PER_VCPU) {
        throw new IllegalStateException(
            vcpu.name() + ": " + exits + " exits to userspace (last error "
                + vcpu.lastExitError() + "), " + accesses + " accesses completed");
      }
      vm.passStart.accumulate(start);
      vm.passEnd.accumulate(end);
      vm.passFaults.add(faults);
      if (vm.measuring) {
        vm.timedAccesses.add(accesses);
        vm.timedBytes.add(allocated);
      }
      return faults;
    }
  }

  /** One vCPU on one thread faults its whole range. */
  @Benchmark
  @Threads(1)
  public long oneVcpu(Vm vm, VcpuThread vcpu) {
    return vcpu.faultEveryPage(vm);
  }

  /** Two vCPUs, each on its own thread, fault disjoint halves of the memslot. */
  @Benchmark
  @Threads(2)
  public long twoVcpus(Vm vm, VcpuThread vcpu) {
    return vcpu.faultEveryPage(vm);
  }
}

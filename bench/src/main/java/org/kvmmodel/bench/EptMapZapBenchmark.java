package org.kvmmodel.bench;

import java.util.concurrent.TimeUnit;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.SimpleTableMemory;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;
import org.kvmmodel.arch.x86.EptPageTableFormat;
import org.kvmmodel.arch.x86.EptSpteEncoder;
import org.kvmmodel.arch.x86.Spte;
import org.kvmmodel.arch.x86.X86Plugin;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Maps {@code pages} 4 KiB EPT leaves in gfn order and then zaps them all with one range zap,
 * through the radix engine and the x86 EPT format with no shortcut: each map composes its
 * leaf with {@code make_spte}, walks from the root and installs by cmpxchg; the zap walks
 * the range and freezes, flushes (a counting no-op here) and clears every leaf as
 * {@code tdp_mmu_zap_spte_atomic} does. Tables stay linked after a zap, as after
 * {@code tdp_mmu_zap_leafs}, so after the first invocation the map path allocates nothing:
 * this measures the steady state. No observer is attached.
 *
 * <p>One operation is one map-all-then-zap-all round of {@code pages} pages; pages per second
 * is the score times {@code pages}. Run it with:
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java -jar bench/target/benchmarks.jar EptMapZapBenchmark -f 1 -wi 3 -i 5 -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class EptMapZapBenchmark {

  /** Pages mapped and zapped per operation. */
  @Param({"4096", "262144"})
  public int pages;

  /** The x86 plugin configuration. */
  @Param({"ept4-ad"})
  public String configuration;

  private PageTableCursor cursor;
  private EptSpteEncoder encoder;
  private long memtype;
  private FlushCounter control;

  @Setup
  public void setUp() {
    EptPageTableFormat format =
        EptPageTableFormat.forConfiguration(new X86Plugin().configuration(configuration));
    SimpleTableMemory memory = new SimpleTableMemory(1L << 32, 1L << 20);
    control = new FlushCounter();
    cursor = RadixPageTable.create(format, memory, memory, null).newCursor(control);
    encoder = format.encoder();
    memtype = Spte.vmxGetMtMask(false, true);
  }

  /** Maps every page, then zaps the whole range; returns the pages zapped. */
  @Benchmark
  public long mapThenZap() {
    long hostPfnBase = 0x100000;
    for (long gfn = 0; gfn < pages; gfn++) {
      long leaf = encoder.makeSpte(1, hostPfnBase + gfn, Spte.ACC_ALL, false, true, memtype);
      if (cursor.map(gfn, 1, leaf) != UpdateStatus.CHANGED) {
        throw new IllegalStateException("map of gfn " + gfn + " did not install");
      }
    }
    long zapped = cursor.zapRange(0, pages);
    if (zapped != pages) {
      throw new IllegalStateException("zapped " + zapped + " of " + pages);
    }
    return zapped + control.flushes;
  }

  /** Never yields; counts the per-entry flushes the zap asks for. */
  static final class FlushCounter implements WalkControl {
    long flushes;

    @Override
    public boolean shouldYield() {
      return false;
    }

    @Override
    public void yieldLock() {
      throw new IllegalStateException("never yields");
    }

    @Override
    public void flushTlbs() {
      flushes++;
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      flushes++;
    }
  }
}

package org.kvmmodel.arch.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.HardwareWalkControl;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * One VM of a RISC-V plugin on core's KVM services and host memory, free-running on the test's
 * thread, with every check attached: memory is mapped and given to slots, a vCPU accesses it,
 * and the table is read back as the hardware would read it.
 */
final class RiscvVm {

  static final long MB = 1 << 20;
  static final int RW = 0x3;

  final KvmInstance kvm;
  final GstageMmu mmu;
  final Vcpu vcpu;
  private final Checker checker;
  private final PageTableCursor probe;

  RiscvVm(RiscvPlugin plugin, String configuration) {
    ModelSettings settings =
        ModelSettings.from(
            ConfigFactory.parseString(
                    "kvmmodel { arch = riscv, arch-configuration = " + configuration
                        + ", host.memory = 512 MiB }")
                .withFallback(ConfigFactory.defaultReference())
                .resolve());
    KvmModel model =
        KvmModel.create(settings, ArchPluginRegistry.of(List.of(plugin)), FreeScheduler.INSTANCE,
            ChoiceStream.seeded(1));
    kvm = model.createVm();
    checker = Checker.attach(kvm, Checker.ALL, id -> !id.equals(DirtyLogCompleteCheck.ID));
    mmu = (GstageMmu) kvm.arch();
    vcpu = new Vcpu(0, kvm, mmu.walker(), mmu::handleGuestFault, FreeScheduler.INSTANCE);
    probe = kvm.pageTablePages().pageTables().get(0).newCursor(HardwareWalkControl.INSTANCE);
  }

  /** mmap of {@code bytes} of {@code kind} at {@code hva}, and slot {@code id} over it. */
  RiscvVm slot(int id, int flags, long gpa, long bytes, long hva, VmaKind kind) {
    assertEquals(hva, kvm.vmm().mmap(hva, bytes, RW, kind));
    assertEquals(0, region(id, flags, gpa, bytes, hva));
    return this;
  }

  int region(int id, int flags, long gpa, long bytes, long hva) {
    return kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(id, flags, gpa, bytes, hva));
  }

  /** The leaf mapping {@code gfn}, or 0. */
  long leaf(long gfn) {
    return probe.walk(gfn) ? probe.entry() : 0;
  }

  /** The level of the leaf {@link #leaf} last found. */
  int leafLevel() {
    return probe.level();
  }

  /** Every check's verdict, by id. */
  Map<String, CheckResult> finish() {
    Map<String, CheckResult> results = new TreeMap<>();
    for (CheckResult r : checker.finish()) {
      results.put(r.id(), r);
    }
    return results;
  }
}

package org.kvmmodel.bench;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.vcpu.GuestProgram;

/** Settings, plugins, memslots and guest programs shared by the benchmarks. */
final class BenchModels {

  /** Where the guest memory is mapped in the VMM process. */
  static final long HVA = 0x7f0000000000L;

  /** Only the x86 plugin: the benchmarks measure its EPT paths. */
  static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(List.of(new X86Plugin()));

  private BenchModels() {}

  /** Default settings with {@code arch}, {@code configuration} and host RAM of {@code hostMiB}. */
  static ModelSettings settings(String arch, String configuration, long hostMiB) {
    return ModelSettings.from(
        ConfigFactory.parseString(
                String.format(
                    Locale.US,
                    "kvmmodel { arch = %s, arch-configuration = \"%s\", host.memory = %d MiB }",
                    arch,
                    configuration,
                    hostMiB))
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
  }

  /**
   * mmap of {@code pages} anonymous 4 KiB pages at {@link #HVA} in the VMM and
   * KVM_SET_USER_MEMORY_REGION2 of slot 0 over them at gpa 0.
   */
  static void anonymousMemslot(KvmInstance vm, long pages) {
    MmStruct vmm = vm.vmm();
    long bytes = pages << HostPageSize.SIZE_4K.shift();
    long mapped = vmm.mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON);
    if (mapped != HVA) {
      throw new IllegalStateException("mmap failed: " + mapped);
    }
    int r = vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, bytes, HVA));
    if (r != 0) {
      throw new IllegalStateException("KVM_SET_USER_MEMORY_REGION2 failed: " + r);
    }
  }

  /**
   * One write to each page of {@code [firstGfn, firstGfn + pages)}: in gfn order, or shuffled
   * by {@code seed} when {@code shuffled}.
   */
  static GuestProgram writeEachPage(long firstGfn, int pages, boolean shuffled, long seed) {
    long[] gpas = new long[pages];
    int[] accesses = new int[pages];
    for (int i = 0; i < pages; i++) {
      gpas[i] = (firstGfn + i) << HostPageSize.SIZE_4K.shift();
      accesses[i] = GuestAccess.WRITE;
    }
    if (shuffled) {
      SplittableRandom random = new SplittableRandom(seed);
      for (int i = pages - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        long t = gpas[i];
        gpas[i] = gpas[j];
        gpas[j] = t;
      }
    }
    return GuestProgram.of(gpas, accesses);
  }
}

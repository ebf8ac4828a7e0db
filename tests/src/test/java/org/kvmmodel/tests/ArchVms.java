package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.Stage2Leaves;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;

/**
 * VMs of the real arch plugins driven by hand, and what their stage-2 table holds, read from
 * page-table memory through the table's own format: for tests that judge one fault or one
 * notifier callback at a time.
 */
final class ArchVms {

  static final long HVA = 0x7f0000000000L;
  static final long MB = 1L << 20;

  private static final ArchPluginRegistry REGISTRY =
      ArchPluginRegistry.of(List.of(new X86Plugin(), new Arm64Plugin(), new RiscvPlugin()));

  private ArchVms() {}

  /** A VM of {@code arch} in {@code configuration}, with {@code extra} settings (HOCON). */
  static KvmInstance create(String arch, String configuration, String extra) {
    ModelSettings settings = ModelSettings.from(
        ConfigFactory.parseString("kvmmodel { arch = " + arch + ", arch-configuration = \""
                + configuration + "\" }\n" + extra)
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
    return KvmModel.create(settings, REGISTRY, FreeScheduler.INSTANCE, ChoiceStream.seeded(1))
        .createVm();
  }

  /**
   * A VM whose slot 0 maps gpa 0 onto {@code bytes} of anonymous memory at {@link #HVA}, with
   * {@code flags}; every page of it written once by the VMM, so the host maps each writable
   * and a fault resolves it with fast GUP.
   */
  static KvmInstance withTouchedSlot(String arch, String configuration, String extra, long bytes,
      int flags) {
    KvmInstance kvm = create(arch, configuration, extra);
    assertEquals(HVA, kvm.vmm().mmap(HVA, bytes, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    for (long off = 0; off < bytes; off += 1L << kvm.pageShift()) {
      assertEquals(0, kvm.vmm().userWrite(HVA + off));
    }
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, flags, 0, bytes, HVA)));
    return kvm;
  }

  /** The stage-2 table of {@code kvm}'s only MMU. */
  static RadixPageTable table(KvmInstance kvm) {
    return kvm.pageTablePages().pageTables().get(0);
  }

  /** The present leaf mapping {@code gfn}, or 0. */
  static long leaf(KvmInstance kvm, long gfn) {
    PageTableCursor cursor = table(kvm).newCursor(Stage2Leaves.READ_ONLY);
    return cursor.walk(gfn) ? cursor.entry() : 0;
  }

  /** The kernel level of the leaf mapping {@code gfn}; the gfn must be mapped. */
  static int leafLevel(KvmInstance kvm, long gfn) {
    PageTableCursor cursor = table(kvm).newCursor(Stage2Leaves.READ_ONLY);
    if (!cursor.walk(gfn)) {
      throw new AssertionError("gfn " + gfn + " is not mapped");
    }
    return cursor.level();
  }

  /** Whether the leaf mapping {@code gfn} is young, by the table's format. */
  static boolean young(KvmInstance kvm, long gfn) {
    PageTableCursor cursor = table(kvm).newCursor(Stage2Leaves.READ_ONLY);
    return cursor.walk(gfn) && table(kvm).format().isYoung(cursor.entry(), cursor.level());
  }

  /** Whether the leaf mapping {@code gfn} lets the guest write, by the table's format. */
  static boolean writable(KvmInstance kvm, long gfn) {
    PageTableCursor cursor = table(kvm).newCursor(Stage2Leaves.READ_ONLY);
    return cursor.walk(gfn)
        && Stage2Leaves.isWritableLeaf(table(kvm).format(), cursor.entry(), cursor.level());
  }

  /**
   * One guest access of {@code gpa} by vCPU {@code vcpu}: the arch's walker, and if it faults,
   * one call of the arch's fault handler; returns the handler's result, or 0 when the access
   * translated without a fault.
   */
  static int access(KvmInstance kvm, int vcpu, long gpa, int access) {
    Stage2Walk walk = new Stage2Walk();
    walk.begin(gpa, access);
    kvm.arch().walker().walk(walk);
    if (walk.translated()) {
      return 0;
    }
    return kvm.arch().handleGuestFault(vcpu, walk);
  }
}

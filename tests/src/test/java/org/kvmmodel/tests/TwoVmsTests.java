package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ObjLongConsumer;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.IsolationCheck;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.trace.Tracepoint;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * Two VMs of two VMM processes on one host: the two-vms scenario on x86 and on the doubles, and
 * a double whose unmap hook leaves a leaf, so one VM reads a frame the host has handed to the
 * other.
 */
class TwoVmsTests {

  private static final long HVA = 0x7f0000000000L;
  private static final long PAGE = 4096;

  @Test
  void everyCheckPassesOnX86AndTheDoublesAcrossSeedsAndPolicies() {
    for (String[] arch : List.of(new String[] {"x86", "ept4-ad"}, new String[] {"x86", "ept5-noad"},
        new String[] {"toy-spin", ""}, new String[] {"toy-concat", ""})) {
      for (long seed = 0; seed < 4; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          RunResult r = ScenarioFixtures.run("two-vms", arch[0], arch[1], seed, policy);
          ScenarioFixtures.assertClean(r, arch[0] + " seed " + seed + " " + policy);
          CheckResult isolation = r.checks().stream()
              .filter(c -> c.id().equals(IsolationCheck.ID)).findFirst().orElseThrow();
          assertEquals(CheckStatus.PASS, isolation.status(), isolation.toString());
        }
      }
    }
  }

  /**
   * Frames one VM loses are faulted in by the other: seen from the kvm_follow_pfn events of the
   * two VMs, over a few seeds.
   */
  @Test
  void framesMoveFromOneVmToTheOther() {
    long handoffs = 0;
    for (long seed = 0; seed < 8; seed++) {
      handoffs += handoffs(seed);
    }
    assertTrue(handoffs > 0, "some frame was faulted in by both VMs");
  }

  private static long handoffs(long seed) {
    ModelSettings settings = ScenarioFixtures.settings("x86", "ept4-ad");
    Map<Long, Integer> owner = new HashMap<>();
    long[] moved = new long[1];
    Scenario twoVms =
        observedTwoVms((vm, pfn) -> {
          Integer before = owner.put(pfn, vm);
          if (before != null && before != vm) {
            moved[0]++;
          }
        });
    ScenarioRun.execute(
        twoVms, settings, ScenarioFixtures.REGISTRY, seed, SchedulePolicy.RANDOM);
    return moved[0];
  }

  /** The two-vms scenario, telling {@code faultin} of each page a VM faults in. */
  private static Scenario observedTwoVms(ObjLongConsumer<Integer> faultin) {
    return ScenarioFixtures.observed(Scenarios.byName("two-vms"), run -> {
      for (int id = 0; id < run.vm().vmList().size(); id++) {
        int vm = id;
        run.vm().vmList().get(id).log().addListener((seq, tp, actor, a, b, c) -> {
          if (tp == Tracepoint.KVM_FAULTIN_PFN && b >= 0) {
            faultin.accept(vm, b);
          }
        });
      }
    });
  }

  /**
   * vm0's unmap hook leaves its leaf when the host drops vm0's page; the freed frame is the one
   * vm1's next write fault gets (the host is otherwise full); vm0's vCPU then reads vm1's data.
   */
  @Test
  void aVmReadingAFrameAnotherVmGotIsCaughtByIsolation() {
    ToyPlugin plugin = ToyPlugin.broken(Breakage.UNMAP_LEAVES_LEAF);
    ModelSettings settings =
        ModelSettings.from(
            ConfigFactory.parseString("kvmmodel { arch = " + plugin.name() + ", host.memory = 2 MiB }")
                .withFallback(ConfigFactory.defaultReference())
                .resolve());
    KvmModel model = KvmModel.create(settings, ArchPluginRegistry.of(List.of(plugin)),
        FreeScheduler.INSTANCE, ChoiceStream.seeded(1));
    KvmInstance vm0 = model.createVm();
    KvmInstance vm1 = model.createVm();
    Checker checker0 = Checker.attach(vm0, List.of(IsolationCheck::new));
    Checker checker1 = Checker.attach(vm1, List.of(IsolationCheck::new));
    for (KvmInstance vm : List.of(vm0, vm1)) {
      assertEquals(HVA, vm.vmm().mmap(HVA, 16 * PAGE, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
      assertEquals(0, vm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 16 * PAGE, HVA)));
    }
    Vcpu vcpu0 = new Vcpu(0, vm0, vm0.arch().walker(), vm0.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    Vcpu vcpu1 = new Vcpu(0, vm1, vm1.arch().walker(), vm1.arch()::handleGuestFault,
        FreeScheduler.INSTANCE);
    vcpu0.access(0, GuestAccess.WRITE);
    long frame = HostPte.pfn(vm0.vmm().hostPte(HVA));
    // Everything else the host has goes to other processes, so the frame vm0 loses is the
    // only one free when vm1 faults.
    fill(model);
    assertEquals(0, vm0.vmm().madviseDontneed(HVA, PAGE));
    assertEquals(1, model.hostMemory().freePages());
    vcpu1.access(5 * PAGE, GuestAccess.WRITE);
    assertEquals(frame, HostPte.pfn(vm1.vmm().hostPte(HVA + 5 * PAGE)), "vm1 got vm0's frame");
    vcpu0.access(0, GuestAccess.READ);

    CheckResult r0 = checker0.finish().get(0);
    assertEquals(CheckStatus.FAIL, r0.status(), r0.toString());
    assertEquals(String.format(
        "vm0 guest access to gpa 0x0 reached frame %#x, which now backs gpa 0x5000 of vm1"
            + " (hva 0x7f0000005000)", frame), r0.violations().get(0).message());
    CheckResult r1 = checker1.finish().get(0);
    assertEquals(CheckStatus.PASS, r1.status(), r1.toString());
  }

  /** Takes every free frame but one into a process of its own. */
  private static void fill(KvmModel model) {
    MmStruct others = new MmStruct(model.hostMemory());
    long free = model.hostMemory().freePages();
    long base = 0x600000000000L;
    assertEquals(base, others.mmap(base, free * PAGE, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    for (long p = 0; p < free; p++) {
      assertEquals(0, others.userWrite(base + p * PAGE));
    }
    assertEquals(0, model.hostMemory().freePages());
  }
}

package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.LivenessCheck;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.check.PermissionsCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.KnownDivergences;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.ScheduleFailure;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * What RISC-V 6.13 does with a hugetlbfs page that its memslot holds only part of, as generated
 * VMs meet it: {@code kvm_riscv_gstage_map} maps a leaf of the whole huge page at the gpa rounded
 * down, past the memslot's bounds. Two consequences follow, each judged from page-table memory:
 * an invalidation the notifier clips to the memslot leaves that leaf mapped
 * ({@code gstage_unmap_range} clears only leaves the range covers whole), and where the memslot
 * places gpa and hva differently inside the huge page, the leaf's output frame is not aligned to
 * its size, a misaligned superpage the MMU refuses, so the vCPU faults on it for ever. The plugin
 * declares all three; a plugin that declares nothing sees them fail.
 */
class RiscvHugetlbSlotFitTests {

  private static final ArchPluginRegistry REGISTRY =
      ArchPluginRegistry.of(List.of(new RiscvPlugin()));
  private static final KnownDivergences RISCV =
      KnownDivergences.of(new RiscvPlugin(), KvmVersion.DEFAULT);
  private static final KnownDivergences NONE =
      KnownDivergences.of(new X86Plugin(), KvmVersion.DEFAULT);

  private static RunResult generated(long seed, SchedulePolicy policy) {
    ModelSettings settings = ModelSettings.from(ConfigFactory.parseString(
            "kvmmodel { arch = riscv, arch-configuration = sv39x4-svade }")
        .withFallback(ConfigFactory.defaultReference())
        .resolve());
    return ScenarioRun.execute(Scenarios.byName("generated"), settings, REGISTRY, seed, policy);
  }

  private static CheckResult check(RunResult r, String id) {
    return r.checks().stream().filter(c -> c.id().equals(id)).findFirst().orElseThrow();
  }

  @Test
  void aLeafPastTheSlotIsDeclaredAndTheClippedInvalidationThatLeavesItToo() {
    RunResult r = generated(4, SchedulePolicy.RANDOM);
    Violation crossing = check(r, PermissionsCheck.ID).violations().get(0);
    assertEquals("crosses-memslot", crossing.kind());
    assertEquals("kvm_riscv_gstage_map", crossing.site());
    assertEquals("a 512-page leaf at gfn 0x200 crosses the bounds of memslot 0",
        crossing.message());
    Violation stale = check(r, NoStaleMappingCheck.ID).violations().get(0);
    assertEquals("crossing-leaf-after-invalidate-start", stale.kind());
    assertEquals("kvm_mmu_notifier_invalidate_range_start", stale.site());
    assertEquals("invalidate_range_start returned while a 512-page leaf at gfn 0x200, which"
        + " crosses the bounds of memslot 0, still maps hva 0x7e00000a9000 at stage 2",
        stale.message());
    for (CheckResult c : r.checks()) {
      assertNull(RISCV.firstUncovered(c), c.toString());
    }
    assertNotNull(NONE.firstUncovered(check(r, PermissionsCheck.ID)));
    assertNotNull(NONE.firstUncovered(check(r, NoStaleMappingCheck.ID)));
  }

  @Test
  void aMisalignedSuperpageLivelocksTheVcpuAndTheStepBoundIsPutDownToIt() {
    RunResult r = generated(49, SchedulePolicy.PCT);
    assertEquals(ScheduleFailure.Kind.STEP_BOUND, r.failure().kind());
    Violation livelock = check(r, LivenessCheck.ID).violations().get(0);
    assertEquals("misaligned-leaf-livelock", livelock.kind());
    assertTrue(livelock.message().startsWith("vcpu0 faulted 17 times in a row at gpa 0x2222000"
        + " with nothing changing in between: the fault handler does not change the state that"
        + " made the access fault (stage 2 holds a 512-page leaf at gfn 0x2200 whose output frame"
        + " 0x4d is not aligned to its size)"), livelock.message());
    assertEquals(livelock, RISCV.livelockBehind(r));
    assertNull(NONE.livelockBehind(r), "an undeclared livelock must leave the step bound failing");
  }
}

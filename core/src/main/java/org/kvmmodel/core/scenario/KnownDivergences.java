package org.kvmmodel.core.scenario;

import java.util.List;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.LivenessCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.sched.ScheduleFailure;

/**
 * The failures real KVM has at the modelled version, as the plugin declares them
 * ({@link ArchPlugin#knownDivergences}), each a check in one kernel function with the signature
 * of what happens there: a violation of that check found in that function, whose kind and
 * events the signature matches, is reported as {@code known-divergence} with its citation
 * rather than as a failure; any other violation of the same check is not covered.
 */
public final class KnownDivergences {

  private final List<KnownDivergence> declared;

  private KnownDivergences(ArchPlugin plugin, KvmVersion version) {
    this.declared = List.copyOf(plugin.knownDivergences(version));
  }

  /** What {@code plugin} declares for {@code version}. */
  public static KnownDivergences of(ArchPlugin plugin, KvmVersion version) {
    return new KnownDivergences(plugin, version);
  }

  /** The divergence that covers {@code v}, or null. */
  public KnownDivergence covering(Violation v) {
    for (KnownDivergence d : declared) {
      if (d.covers(v.evidence())) {
        return d;
      }
    }
    return null;
  }

  /**
   * The livelock that explains a run stopped at its step bound, if LIVENESS found one and every
   * violation it found is declared (real KVM spins there too); else null.
   */
  public Violation livelockBehind(RunResult r) {
    if (r.failure() == null || r.failure().kind() != ScheduleFailure.Kind.STEP_BOUND) {
      return null;
    }
    for (CheckResult c : r.checks()) {
      if (c.id().equals(LivenessCheck.ID) && !c.violations().isEmpty()
          && firstUncovered(c) == null) {
        return c.violations().get(0);
      }
    }
    return null;
  }

  /** The first violation of {@code result} no declaration covers, or null. */
  public Violation firstUncovered(CheckResult result) {
    for (Violation v : result.violations()) {
      if (covering(v) == null) {
        return v;
      }
    }
    return null;
  }
}

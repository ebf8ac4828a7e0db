package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import org.kvmmodel.core.kvm.KvmInstance;

/**
 * The model's lockdep and KASAN: the checks attached to one VM's event log, judging the run as
 * it happens, and their verdicts at the end.
 */
public final class Checker {

  /** Every check the model has, in report order. */
  public static final List<Function<KvmInstance, Check>> ALL =
      List.of(
          DirtyProtectedCheck::new,
          RefcountBalancedCheck::new,
          NoStaleMappingCheck::new,
          TlbCoherentCheck::new,
          PermissionsCheck::new,
          LockDisciplineCheck::new,
          NoLostWriteCheck::new,
          DirtyLogCompleteCheck::new,
          IsolationCheck::new,
          LivenessCheck::new);

  /** The ids of {@link #ALL}, in the same order, for reports on runs that cannot happen. */
  public static final List<String> IDS =
      List.of(
          DirtyProtectedCheck.ID,
          RefcountBalancedCheck.ID,
          NoStaleMappingCheck.ID,
          TlbCoherentCheck.ID,
          PermissionsCheck.ID,
          LockDisciplineCheck.ID,
          NoLostWriteCheck.ID,
          DirtyLogCompleteCheck.ID,
          IsolationCheck.ID,
          LivenessCheck.ID);

  private final List<Check> checks = new ArrayList<>();

  private Checker() {}

  /** Attaches the given checks to {@code kvm}'s event log. */
  public static Checker attach(KvmInstance kvm, List<Function<KvmInstance, Check>> factories) {
    Checker checker = new Checker();
    for (Function<KvmInstance, Check> factory : factories) {
      Check check = factory.apply(kvm);
      kvm.log().addListener(check);
      checker.checks.add(check);
    }
    return checker;
  }

  /** Attaches those of the given checks whose id {@code applies} accepts. */
  public static Checker attach(
      KvmInstance kvm, List<Function<KvmInstance, Check>> factories, Predicate<String> applies) {
    Checker checker = new Checker();
    for (Function<KvmInstance, Check> factory : factories) {
      Check check = factory.apply(kvm);
      if (applies.test(check.id())) {
        kvm.log().addListener(check);
        checker.checks.add(check);
      }
    }
    return checker;
  }

  /** Attaches every check. */
  public static Checker attachAll(KvmInstance kvm) {
    return attach(kvm, ALL);
  }

  /** The attached check of class {@code type}, or null if none is. */
  public <T extends Check> T find(Class<T> type) {
    for (Check check : checks) {
      if (type.isInstance(check)) {
        return type.cast(check);
      }
    }
    return null;
  }

  /** Ends the run: end-of-run judgements, then every verdict in report order. */
  public List<CheckResult> finish() {
    List<CheckResult> results = new ArrayList<>();
    for (Check check : checks) {
      check.finish();
      results.add(check.result());
    }
    return results;
  }
}

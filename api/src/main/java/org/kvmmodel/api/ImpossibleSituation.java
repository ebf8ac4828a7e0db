package org.kvmmodel.api;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A kind of situation a check judges that cannot arise on this architecture, declared by its
 * plugin with the reason, so that conformance reports it {@code not-applicable} rather than
 * {@code not-exercised}. The kind is a pattern of {@code axis=value} terms (e.g.
 * {@code leaf=huge}, or {@code backing=pfnmap leaf=huge}); it covers every kind of the check
 * that has all of those terms.
 *
 * @param check the check id, e.g. {@code PERMISSIONS}
 * @param kind the {@code axis=value} terms, space-separated
 * @param reason why the arch never creates it, worded for a KVM developer
 */
public record ImpossibleSituation(String check, String kind, String reason) {

  public ImpossibleSituation {
    Objects.requireNonNull(check, "check");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(reason, "reason");
  }

  /** Whether it covers kind {@code situation} of {@code checkId}. */
  public boolean covers(String checkId, String situation) {
    List<String> terms = Arrays.asList(situation.split(" "));
    return check.equals(checkId) && terms.containsAll(Arrays.asList(kind.split(" ")));
  }
}

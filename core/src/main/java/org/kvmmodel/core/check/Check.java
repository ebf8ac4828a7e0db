package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.kvmmodel.core.kvm.KvmCallSites;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.TraceListener;

/**
 * An invariant judged from page-table memory, folio state and the events core services and
 * the engine emit, never from what a plugin says about itself. It counts the situations it
 * judged, in total and by kind ({@link Facet}), so that a run that never reached them, or never
 * reached one kind of them, reports {@code not-exercised}.
 */
public abstract class Check implements TraceListener {

  private static final int KEPT = 16;

  private final String id;
  protected final KvmInstance kvm;
  private final KvmCallSites sites;
  private final List<Violation> violations = new ArrayList<>();
  private final List<Facet> facets = new ArrayList<>();
  private long judged;

  protected Check(String id, KvmInstance kvm) {
    this.id = id;
    this.kvm = kvm;
    this.sites = kvm.callSites();
  }

  public String id() {
    return id;
  }

  /** Registers {@code facet}, whose kinds this check counts and reports; returns it. */
  protected final Facet facet(Facet facet) {
    facets.add(facet);
    return facet;
  }

  /** One more situation judged. */
  protected final void judged() {
    judged++;
  }

  /**
   * Records a violation of kind {@code kind} seen at event {@code seq} of {@code actor}, with
   * the KVM entry point the actor is inside and the actor's events that led there. The first
   * {@code KEPT} are kept, and after them the first of each site and kind not yet seen, so that
   * no breach hides behind another's.
   */
  protected final void fail(long seq, int actor, String kind, String format, Object... args) {
    String site = sites.innermost(actor);
    if (violations.size() < KEPT || !kept(site, kind)) {
      violations.add(new Violation(id, seq, kvm.log().actorName(actor), site, kind,
          String.format(Locale.US, format, args), kvm.log().entryEvents(seq, actor)));
    }
  }

  private boolean kept(String site, String kind) {
    for (Violation v : violations) {
      if (Objects.equals(v.site(), site) && v.kind().equals(kind)) {
        return true;
      }
    }
    return false;
  }

  /** Judges what can only be judged at the end of the run (teardown). */
  public void finish() {}

  public CheckResult result() {
    Map<String, Long> situations = new LinkedHashMap<>();
    for (Facet f : facets) {
      situations.putAll(f.counts());
    }
    return new CheckResult(id, judged, violations, situations);
  }
}

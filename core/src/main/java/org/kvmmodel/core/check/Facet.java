package org.kvmmodel.core.check;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One small product of axes naming the kinds of situation a check judges, e.g. PERMISSIONS'
 * host backing × leaf size, with a count per kind. A kind is spelled {@code axis=value} for
 * each axis, space-separated ({@code backing=anon-thp leaf=huge}). A kind KVM's own rules make
 * unreachable (an order-0 folio under a huge leaf) is left out, the reason said where the check
 * leaves it out, so that only reachable kinds can be reported {@code not-exercised}. Counting is one array increment.
 */
public final class Facet {

  private final String firstAxis;
  private final String[] first;
  private final String secondAxis;
  private final String[] second;
  private final long[] counts;
  private final boolean[] unreachable;

  private Facet(String firstAxis, String[] first, String secondAxis, String[] second) {
    this.firstAxis = firstAxis;
    this.first = first.clone();
    this.secondAxis = secondAxis;
    this.second = second.clone();
    this.counts = new long[first.length * Math.max(1, second.length)];
    this.unreachable = new boolean[counts.length];
  }

  /** A facet of one axis. */
  public static Facet of(String axis, String... values) {
    return new Facet(axis, values, null, new String[0]);
  }

  /** A facet of two axes: every pair of values is a kind. */
  public static Facet of(String axis, String[] values, String otherAxis, String[] otherValues) {
    return new Facet(axis, values, otherAxis, otherValues);
  }

  /** Leaves out the kind of value {@code a} of a one-axis facet: it cannot happen. */
  public Facet unreachable(int a) {
    unreachable[a] = true;
    return this;
  }

  /** Leaves out the kind {@code (a, b)}: KVM's rules or this VM's arch make it impossible. */
  public Facet unreachable(int a, int b) {
    unreachable[a * second.length + b] = true;
    return this;
  }

  /** One situation of kind {@code a} judged (a one-axis facet). */
  public void hit(int a) {
    counts[a]++;
  }

  /** One situation of kind {@code (a, b)} judged. */
  public void hit(int a, int b) {
    counts[a * second.length + b]++;
  }

  /** The reachable kinds and how often each was judged, in axis order. */
  Map<String, Long> counts() {
    Map<String, Long> m = new LinkedHashMap<>();
    for (int i = 0; i < counts.length; i++) {
      if (!unreachable[i]) {
        m.put(kind(i), counts[i]);
      }
    }
    return m;
  }

  private String kind(int i) {
    if (secondAxis == null) {
      return firstAxis + "=" + first[i];
    }
    return firstAxis + "=" + first[i / second.length] + " " + secondAxis + "="
        + second[i % second.length];
  }
}

package org.kvmmodel.core.trace;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.kvmmodel.api.KernelEvent;

/**
 * The model's trace buffer: a ring of the most recent events, kept in primitive arrays, plus
 * listeners (the checks) that see every event as it happens. Actors are interned to small ids.
 * The ring prints as a story, one event per line ({@code actor kernel-function object
 * outcome}), or as JSON lines.
 */
public final class EventLog {

  /** The most events {@link #entryEvents} returns. */
  static final int EVIDENCE_MAX = 512;
  /** How many of its events {@link #entryEvents} returns for an actor in no entry point. */
  static final int EVIDENCE_OUTSIDE_ENTRY = 32;

  private final int capacity;
  private final long[] seqs;
  private final Tracepoint[] tps;
  private final int[] actors;
  private final long[] as;
  private final long[] bs;
  private final long[] cs;
  /** Replaced whole on every add, so that emitting walks a plain array and allocates nothing. */
  private volatile TraceListener[] listeners = new TraceListener[0];
  private final ConcurrentHashMap<String, Integer> actorIds = new ConcurrentHashMap<>();
  private final List<String> actorNames = new CopyOnWriteArrayList<>();
  private final ThreadLocal<int[]> currentActor = ThreadLocal.withInitial(() -> new int[] {-1});
  private long next;

  public EventLog(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be positive");
    }
    this.capacity = capacity;
    this.seqs = new long[capacity];
    this.tps = new Tracepoint[capacity];
    this.actors = new int[capacity];
    this.as = new long[capacity];
    this.bs = new long[capacity];
    this.cs = new long[capacity];
  }

  public synchronized void addListener(TraceListener listener) {
    TraceListener[] grown = Arrays.copyOf(listeners, listeners.length + 1);
    grown[grown.length - 1] = listener;
    listeners = grown;
  }

  /** The small id of the calling thread's actor (its thread name), interned on first use. */
  public int currentActor() {
    int[] cached = currentActor.get();
    if (cached[0] < 0) {
      cached[0] = actorId(Thread.currentThread().getName());
    }
    return cached[0];
  }

  /** The id of the actor called {@code name}. */
  public int actorId(String name) {
    return actorIds.computeIfAbsent(
        name,
        n -> {
          synchronized (actorNames) {
            actorNames.add(n);
            return actorNames.size() - 1;
          }
        });
  }

  public String actorName(int id) {
    return id >= 0 && id < actorNames.size() ? actorNames.get(id) : "?";
  }

  /** Records an event of the calling actor and hands it to every listener. */
  public void emit(Tracepoint tp, long a, long b, long c) {
    int actor = currentActor();
    long seq;
    synchronized (this) {
      seq = next++;
      int i = (int) (seq % capacity);
      seqs[i] = seq;
      tps[i] = tp;
      actors[i] = actor;
      as[i] = a;
      bs[i] = b;
      cs[i] = c;
    }
    for (TraceListener l : listeners) {
      l.onEvent(seq, tp, actor, a, b, c);
    }
  }

  /** Events emitted so far. */
  public synchronized long emitted() {
    return next;
  }

  /**
   * The events of {@code actor} that led to its event {@code seq}, oldest first and ending with
   * it: those since it entered the KVM entry point it is innermost in at {@code seq}, or, when
   * it is in none, its last {@value #EVIDENCE_OUTSIDE_ENTRY}; at most {@value #EVIDENCE_MAX},
   * and only what the ring still holds. Built when a check records a violation, never on the
   * hot path.
   */
  public synchronized List<KernelEvent> entryEvents(long seq, int actor) {
    List<KernelEvent> events = new ArrayList<>();
    long oldest = Math.max(0, next - capacity);
    int nested = 0;
    boolean inEntry = false;
    for (long s = Math.min(seq, next - 1); s >= oldest && events.size() < EVIDENCE_MAX; s--) {
      int i = (int) (s % capacity);
      if (actors[i] != actor) {
        continue;
      }
      Tracepoint tp = tps[i];
      events.add(event(tp, as[i], bs[i], cs[i]));
      if (s == seq) {
        continue;
      }
      if (tp == Tracepoint.KVM_CALL_DONE || tp == Tracepoint.KVM_PAGE_FAULT_DONE) {
        nested++;
      } else if (tp == Tracepoint.KVM_CALL || tp == Tracepoint.KVM_PAGE_FAULT) {
        if (nested == 0) {
          inEntry = true;
          break;
        }
        nested--;
      }
    }
    if (!inEntry && events.size() > EVIDENCE_OUTSIDE_ENTRY) {
      events.subList(EVIDENCE_OUTSIDE_ENTRY, events.size()).clear();
    }
    Collections.reverse(events);
    return events;
  }

  private static KernelEvent event(Tracepoint tp, long a, long b, long c) {
    Map<String, Long> fields = new HashMap<>();
    long[] values = {a, b, c};
    for (int f = 0; f < 3; f++) {
      if (!tp.field(f).isEmpty()) {
        fields.put(tp.field(f), values[f]);
      }
    }
    return new KernelEvent(tp.kernelName(), fields);
  }

  /** The events still in the ring, oldest first, each as a story line. */
  public synchronized List<String> story() {
    List<String> lines = new ArrayList<>();
    long first = Math.max(0, next - capacity);
    for (long seq = first; seq < next; seq++) {
      int i = (int) (seq % capacity);
      lines.add(
          String.format(
              Locale.US,
              "%6d  %-8s %-45s %s",
              seq,
              actorName(actors[i]),
              tps[i].kernelName(),
              payload(tps[i], as[i], bs[i], cs[i])));
    }
    return lines;
  }

  /** The events still in the ring as JSON lines. */
  public synchronized void writeJsonLines(Writer out) throws IOException {
    long first = Math.max(0, next - capacity);
    for (long seq = first; seq < next; seq++) {
      int i = (int) (seq % capacity);
      Tracepoint tp = tps[i];
      StringBuilder sb =
          new StringBuilder(
              String.format(
                  Locale.US,
                  "{\"seq\":%d,\"actor\":\"%s\",\"event\":\"%s\"",
                  seq,
                  actorName(actors[i]),
                  tp.kernelName()));
      long[] values = {as[i], bs[i], cs[i]};
      for (int f = 0; f < 3; f++) {
        if (!tp.field(f).isEmpty()) {
          sb.append(String.format(Locale.US, ",\"%s\":%d", tp.field(f), values[f]));
        }
      }
      out.write(sb.append("}\n").toString());
    }
  }

  private static String payload(Tracepoint tp, long a, long b, long c) {
    StringBuilder sb = new StringBuilder();
    long[] values = {a, b, c};
    for (int f = 0; f < 3; f++) {
      if (!tp.field(f).isEmpty()) {
        if (sb.length() > 0) {
          sb.append(' ');
        }
        sb.append(tp.field(f)).append('=').append(String.format(Locale.US, "0x%x", values[f]));
      }
    }
    return sb.toString();
  }
}

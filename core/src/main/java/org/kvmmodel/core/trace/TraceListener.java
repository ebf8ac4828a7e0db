package org.kvmmodel.core.trace;

/**
 * Receives every event as it is emitted, on the emitting actor's thread, before the emitter
 * goes on: the way checks judge the run. Primitive arguments, so emitting allocates nothing.
 */
@FunctionalInterface
public interface TraceListener {

  void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c);
}

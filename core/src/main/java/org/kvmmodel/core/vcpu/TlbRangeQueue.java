package org.kvmmodel.core.vcpu;

import java.util.function.IntToLongFunction;

/**
 * The ranged invalidations queued for one vCPU's TLB, as RISC-V queues its per-vCPU
 * {@code KVM_REQ_HFENCE} entries ({@code vcpu_hfence_enqueue}): flushers add gfn ranges, the
 * vCPU applies them before it next enters the guest. It is bounded and allocates nothing; a
 * range that finds it full is refused and the flusher asks for a whole-TLB flush instead, as
 * {@code make_xfence_request} falls back to its full request.
 */
final class TlbRangeQueue {

  /** Ranges held at most, as {@code KVM_RISCV_VCPU_MAX_HFENCE} bounds RISC-V's queue. */
  static final int CAPACITY = 16;

  private final long[] starts = new long[CAPACITY];
  private final long[] ends = new long[CAPACITY];
  private int count;

  /** Queues {@code [start, end)}; false, queuing nothing, when the queue is full. */
  synchronized boolean offer(long start, long end) {
    if (count == CAPACITY) {
      return false;
    }
    starts[count] = start;
    ends[count] = end;
    count++;
    return true;
  }

  /** Applies every queued range to {@code tlb} and empties the queue. */
  synchronized void drainInto(Tlb tlb, IntToLongFunction leafPages) {
    for (int i = 0; i < count; i++) {
      tlb.invalidateRange(starts[i], ends[i], leafPages);
    }
    count = 0;
  }

  /** Whether a queued range overlaps {@code [base, base + span)}. */
  synchronized boolean overlaps(long base, long span) {
    for (int i = 0; i < count; i++) {
      if (starts[i] < base + span && base < ends[i]) {
        return true;
      }
    }
    return false;
  }
}

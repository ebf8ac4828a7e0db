package org.kvmmodel.core.sched;

/**
 * Where the model can be preempted or raced. Every point at which KVM could be interrupted by
 * another CPU (lock acquire and release, an SPTE cmpxchg, between faultin and taking mmu_lock,
 * RCU sections, notifier start and end) calls {@link #point}, and every lock is made by the
 * scheduler, so that a deterministic scheduler can choose who runs next at each of them and a
 * free scheduler can let real threads race.
 */
public interface Scheduler {

  /** A point at which another actor may run before this one continues. */
  void point(String label);

  /**
   * A point at which this actor is spinning until another makes progress (a vCPU re-entering the
   * guest after its fault was retried, as {@code RET_PF_RETRY} does while an invalidation is in
   * progress). On real CPUs the other actor runs meanwhile; a scheduler that prefers some actors
   * must not let the spinner starve it. A voluntary reschedule ({@code cond_resched} after
   * dropping a lock) is such a point too: the yielder goes behind everyone else.
   */
  default void spinPoint(String label) {
    point(label);
  }

  /**
   * {@code need_resched()}: whether the scheduler wants this CPU for another task now, which a
   * long walk holding a lock answers by yielding it. Deterministic mode draws it from the
   * choice stream while another actor could run; free mode leaves preemption to the hardware
   * and the JVM and says no.
   */
  boolean needResched();

  /** A lock whose waiting is visible to the scheduler ({@code rwlock_t}, a mutex, a spinlock). */
  SchedLock newLock(String name);

  /** The name of the actor running this code, for messages and events. */
  String currentActor();

  /** Whether one actor runs at a time with choices drawn from a seed. */
  boolean isDeterministic();
}

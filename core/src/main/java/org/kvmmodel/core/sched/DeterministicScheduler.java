package org.kvmmodel.core.sched;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import org.kvmmodel.core.choice.ChoiceStream;

/**
 * Deterministic mode: every actor is a thread, but only one runs at a time. At each race point
 * the running actor asks the policy who runs next, with every choice drawn from a
 * {@link ChoiceStream}, so that the same seed (or the same recorded choices) replays the same
 * interleaving exactly. Blocking on a {@link SchedLock} hands the baton to another runnable
 * actor; if none is runnable the actors have deadlocked. Kernel-shaped model code runs
 * unchanged: it only calls {@link #point} and takes locks.
 */
public final class DeterministicScheduler implements Scheduler {

  /** The odds, one in this many, that a random schedule wants the CPU back at a resched test. */
  static final int RESCHED_ODDS = 8;

  private final ChoiceStream choices;
  private final SchedulePolicy policy;
  private final int pctDepth;
  private final long maxSteps;
  private final long pctHorizon;
  private final List<Actor> actors = new ArrayList<>();
  private final ThreadLocal<Actor> self = new ThreadLocal<>();
  private final Semaphore finished = new Semaphore(0);
  private Actor[] runnable = new Actor[0];
  private long[] pctChangePoints = new long[0];
  private int pctChangesDone;
  private int lowestPriority;
  private volatile ScheduleFailure failure;
  private volatile boolean aborted;
  private int remaining;
  private long steps;
  private boolean started;

  /**
   * @param choices the stream every choice is drawn from
   * @param policy how the next actor is picked
   * @param pctDepth the bug depth PCT targets (ignored for RANDOM)
   * @param pctHorizon the number of race points PCT expects a run to take (its {@code k}):
   *     priority change points are drawn from {@code [1, pctHorizon]}
   * @param maxSteps race points after which the run is a liveness failure
   */
  public DeterministicScheduler(
      ChoiceStream choices, SchedulePolicy policy, int pctDepth, long pctHorizon, long maxSteps) {
    if (pctDepth < 1 || pctHorizon < 1 || maxSteps < 1) {
      throw new IllegalArgumentException("pctDepth, pctHorizon and maxSteps must be positive");
    }
    this.pctHorizon = pctHorizon;
    this.choices = choices;
    this.policy = policy;
    this.pctDepth = pctDepth;
    this.maxSteps = maxSteps;
  }

  /** Adds an actor; all are added before {@link #run()}. */
  public void spawn(String name, Runnable body) {
    if (started) {
      throw new IllegalStateException("actors are spawned before the run starts");
    }
    actors.add(new Actor(name, body));
  }

  /** The outcome of a run: its failure (or null), steps taken and the choices drawn. */
  public record Result(ScheduleFailure failure, long steps, int[] choices) {
    public boolean passed() {
      return failure == null;
    }
  }

  /** Runs every actor to completion, one at a time; returns when all have finished. */
  public Result run() {
    if (started) {
      throw new IllegalStateException("a scheduler runs once");
    }
    started = true;
    if (actors.isEmpty()) {
      return new Result(null, 0, choices.recorded());
    }
    runnable = new Actor[actors.size()];
    remaining = actors.size();
    if (policy == SchedulePolicy.PCT) {
      assignPctPriorities();
    }
    for (Actor a : actors) {
      a.thread = ActorThreads.start(a.name, () -> body(a));
    }
    pick().permit.release();
    finished.acquireUninterruptibly();
    for (Actor a : actors) {
      try {
        a.thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return new Result(failure, steps, choices.recorded());
  }

  private void body(Actor a) {
    self.set(a);
    a.permit.acquireUninterruptibly();
    try {
      if (!aborted) {
        a.body.run();
      }
    } catch (ScheduleAbort e) {
      // Unwound after another actor's failure.
    } catch (Throwable t) {
      fail(ScheduleFailure.Kind.EXCEPTION, a.name, String.valueOf(t.getMessage()), t);
    } finally {
      finish(a);
    }
  }

  @Override
  public void point(String label) {
    Actor me = self.get();
    if (me == null) {
      return;
    }
    checkAbort();
    steps++;
    if (steps > maxSteps) {
      fail(
          ScheduleFailure.Kind.STEP_BOUND,
          me.name,
          String.format(Locale.US, "no progress within %d scheduler steps (at %s)", maxSteps, label),
          null);
      throw new ScheduleAbort();
    }
    if (pctChangesDone < pctChangePoints.length && steps == pctChangePoints[pctChangesDone]) {
      me.priority = pctDepth - 1 - pctChangesDone;
      pctChangesDone++;
    }
    Actor next = pick();
    if (next != me) {
      switchTo(me, next);
    }
  }

  /**
   * Under PCT the spinner drops below every other actor's priority first, as a yield does in
   * CHESS-style fair PCT, so the actor it waits for runs; a random schedule just takes a point.
   */
  @Override
  public void spinPoint(String label) {
    Actor me = self.get();
    if (me != null && policy == SchedulePolicy.PCT) {
      int lowest = me.priority;
      for (Actor a : actors) {
        lowest = Math.min(lowest, a.priority);
      }
      me.priority = lowest - 1;
    }
    point(label);
  }

  /**
   * One chance in {@value #RESCHED_ODDS} under a random schedule, while another actor is
   * runnable; never under PCT, whose running actor is by construction the one it wants on the
   * CPU (contention still makes a walk yield there).
   */
  @Override
  public boolean needResched() {
    Actor me = self.get();
    if (me == null || policy == SchedulePolicy.PCT) {
      return false;
    }
    for (Actor a : actors) {
      if (a != me && a.state == State.RUNNABLE) {
        return choices.nextInt(RESCHED_ODDS) == 0;
      }
    }
    return false;
  }

  @Override
  public SchedLock newLock(String name) {
    return new DetLock(name);
  }

  @Override
  public String currentActor() {
    Actor me = self.get();
    return me == null ? Thread.currentThread().getName() : me.name;
  }

  @Override
  public boolean isDeterministic() {
    return true;
  }

  /** Race points taken so far. */
  public long steps() {
    return steps;
  }

  private void assignPctPriorities() {
    int n = actors.size();
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = choices.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int i = 0; i < n; i++) {
      actors.get(order[i]).priority = pctDepth + i;
    }
    pctChangePoints = new long[pctDepth - 1];
    for (int i = 0; i < pctChangePoints.length; i++) {
      pctChangePoints[i] = 1 + choices.nextInt((int) Math.min(Integer.MAX_VALUE - 1, pctHorizon));
    }
    Arrays.sort(pctChangePoints);
  }

  /** The next actor to run among the runnable ones, or null if none is. */
  private Actor pick() {
    int count = 0;
    for (Actor a : actors) {
      if (a.state == State.RUNNABLE) {
        runnable[count++] = a;
      }
    }
    if (count == 0) {
      return null;
    }
    if (policy == SchedulePolicy.PCT) {
      Actor best = runnable[0];
      for (int i = 1; i < count; i++) {
        if (runnable[i].priority > best.priority) {
          best = runnable[i];
        }
      }
      return best;
    }
    return count == 1 ? runnable[0] : runnable[choices.nextInt(count)];
  }

  private void switchTo(Actor me, Actor next) {
    next.permit.release();
    me.permit.acquireUninterruptibly();
    checkAbort();
  }

  private void checkAbort() {
    if (aborted) {
      throw new ScheduleAbort();
    }
  }

  /** Blocks the running actor on {@code lock} and runs another; deadlock if there is none. */
  private void block(Actor me, DetLock lock) {
    me.state = State.BLOCKED;
    me.blockedOn = lock;
    Actor next = pick();
    if (next == null) {
      fail(ScheduleFailure.Kind.DEADLOCK, me.name, describeDeadlock(), null);
      throw new ScheduleAbort();
    }
    switchTo(me, next);
  }

  private String describeDeadlock() {
    StringBuilder sb = new StringBuilder("every actor is blocked:");
    for (Actor a : actors) {
      if (a.state == State.BLOCKED) {
        sb.append(' ').append(a.name).append(" waits for ").append(a.blockedOn.name).append(';');
      }
    }
    return sb.substring(0, sb.length() - 1);
  }

  private void wake(DetLock lock) {
    for (Actor a : actors) {
      if (a.state == State.BLOCKED && a.blockedOn == lock) {
        a.state = State.RUNNABLE;
        a.blockedOn = null;
      }
    }
  }

  private synchronized void fail(ScheduleFailure.Kind kind, String actor, String message, Throwable t) {
    if (failure == null) {
      failure = new ScheduleFailure(kind, actor, message, t);
    }
    if (!aborted) {
      aborted = true;
      for (Actor a : actors) {
        if (a.state != State.DONE) {
          a.permit.release();
        }
      }
    }
  }

  private void finish(Actor me) {
    Actor next = null;
    synchronized (this) {
      me.state = State.DONE;
      remaining--;
      if (remaining == 0) {
        finished.release();
        return;
      }
      if (aborted) {
        return;
      }
      next = pick();
      if (next == null) {
        fail(ScheduleFailure.Kind.DEADLOCK, me.name, describeDeadlock(), null);
        return;
      }
    }
    next.permit.release();
  }

  private enum State {
    RUNNABLE,
    BLOCKED,
    DONE
  }

  private static final class Actor {
    final String name;
    final Runnable body;
    final Semaphore permit = new Semaphore(0);
    Thread thread;
    volatile State state = State.RUNNABLE;
    DetLock blockedOn;
    int priority;

    Actor(String name, Runnable body) {
      this.name = name;
      this.body = body;
    }
  }

  /**
   * A reader-writer lock whose waiters are actors. Like the kernel's queued rwlock, a new reader
   * waits while a writer is waiting, so writers are not starved.
   */
  private final class DetLock implements SchedLock {
    final String name;
    Object writer;
    final List<Object> readers = new ArrayList<>(4);
    int waitingWriters;

    DetLock(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    private Object owner() {
      Actor me = self.get();
      return me != null ? me : Thread.currentThread();
    }

    private void checkNotHeld(String op, Object me) {
      if (writer == me || readers.contains(me)) {
        throw new IllegalStateException(op + " of " + name + " already held by this actor: deadlock");
      }
    }

    @Override
    public void acquireExclusive() {
      Object me = owner();
      point("acquire " + name);
      checkNotHeld("exclusive acquire", me);
      if (writer != null || !readers.isEmpty()) {
        waitingWriters++;
        try {
          while (writer != null || !readers.isEmpty()) {
            waitOrFail(me);
          }
        } finally {
          waitingWriters--;
        }
      }
      writer = me;
    }

    @Override
    public void releaseExclusive() {
      Object me = owner();
      if (writer != me) {
        throw new IllegalStateException("exclusive release of " + name + " not held");
      }
      writer = null;
      wake(this);
      point("release " + name);
    }

    @Override
    public void acquireShared() {
      Object me = owner();
      point("acquire-shared " + name);
      checkNotHeld("shared acquire", me);
      while (writer != null || waitingWriters > 0) {
        waitOrFail(me);
      }
      readers.add(me);
    }

    @Override
    public void releaseShared() {
      Object me = owner();
      if (!readers.remove(me)) {
        throw new IllegalStateException("shared release of " + name + " not held");
      }
      if (readers.isEmpty()) {
        wake(this);
      }
      point("release-shared " + name);
    }

    @Override
    public boolean tryAcquireExclusive() {
      Object me = owner();
      checkNotHeld("exclusive try-acquire", me);
      if (writer != null || !readers.isEmpty()) {
        return false;
      }
      writer = me;
      return true;
    }

    @Override
    public boolean tryAcquireShared() {
      Object me = owner();
      checkNotHeld("shared try-acquire", me);
      if (writer != null || waitingWriters > 0) {
        return false;
      }
      readers.add(me);
      return true;
    }

    private void waitOrFail(Object me) {
      if (!(me instanceof Actor)) {
        throw new IllegalStateException(name + " is contended outside a deterministic run");
      }
      block((Actor) me, this);
    }

    @Override
    public boolean heldShared() {
      return readers.contains(owner());
    }

    @Override
    public boolean heldExclusive() {
      return writer == owner();
    }

    @Override
    public boolean isWriteLocked() {
      return writer != null;
    }

    @Override
    public boolean isContended() {
      for (Actor a : actors) {
        if (a.state == State.BLOCKED && a.blockedOn == this) {
          return true;
        }
      }
      return false;
    }
  }
}

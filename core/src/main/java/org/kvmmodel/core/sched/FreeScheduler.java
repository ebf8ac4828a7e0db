package org.kvmmodel.core.sched;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Free mode: real threads, real locks; race points cost next to nothing and the hardware and
 * the JVM decide the interleaving. Used for stress and speed; a failure found here is hunted
 * down in deterministic mode.
 *
 * <p>A scheduler made with {@link #FreeScheduler()} runs actors: each is a platform thread, all
 * are released together so that they race from their first step, and {@link #run()} waits for
 * all of them. An actor that throws fails the run, and the others are then unwound at their
 * next race point or lock wait, as in deterministic mode. Since real threads cannot be counted
 * in scheduler steps without making them contend, a hang is judged by progress: if no actor
 * passes a race point or takes a lock for a whole watch period, the run is a liveness failure
 * that names what each actor waits for.
 */
public final class FreeScheduler implements Scheduler {

  /** A scheduler with no actors of its own, for code driven directly by the caller's threads. */
  public static final FreeScheduler INSTANCE = new FreeScheduler(0);

  /** How long, in milliseconds, the actors may go without any progress before a run fails. */
  public static final long DEFAULT_STALL_MILLIS = 5_000;

  private final long stallMillis;
  private final List<ActorThread> actors = new ArrayList<>();
  private final CountDownLatch start = new CountDownLatch(1);
  private final AtomicReference<ScheduleFailure> failure = new AtomicReference<>();
  private volatile boolean aborted;
  private boolean started;

  /** A scheduler for one free run, failing it after {@link #DEFAULT_STALL_MILLIS} without progress. */
  public FreeScheduler() {
    this(DEFAULT_STALL_MILLIS);
  }

  /** A scheduler for one free run that fails it after {@code stallMillis} without progress. */
  public FreeScheduler(long stallMillis) {
    this.stallMillis = stallMillis;
  }

  /** The outcome of a free run: its failure (or null) and the race points its actors passed. */
  public record Result(ScheduleFailure failure, long steps) {
    public boolean passed() {
      return failure == null;
    }
  }

  /** Adds an actor, a thread named {@code name}; all are added before {@link #run()}. */
  public void spawn(String name, Runnable body) {
    if (started || this == INSTANCE) {
      throw new IllegalStateException("actors are spawned on a fresh scheduler before its run");
    }
    actors.add(new ActorThread(name, body));
  }

  /** Starts every actor at once and returns when all have finished (or the run has failed). */
  public Result run() {
    if (started) {
      throw new IllegalStateException("a scheduler runs once");
    }
    started = true;
    for (ActorThread a : actors) {
      a.start();
    }
    start.countDown();
    watch();
    long steps = 0;
    for (ActorThread a : actors) {
      steps += a.progress.get();
    }
    return new Result(failure.get(), steps);
  }

  /** Waits for the actors, failing the run when none has made progress for a watch period. */
  private void watch() {
    long seen = -1;
    for (ActorThread a : actors) {
      while (a.isAlive()) {
        joinQuietly(a, stallMillis);
        long now = totalProgress();
        if (a.isAlive() && now == seen && !aborted) {
          fail(ScheduleFailure.Kind.STEP_BOUND, a.getName(), describeStall());
        }
        seen = now;
      }
    }
  }

  private static void joinQuietly(Thread t, long millis) {
    try {
      t.join(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for free-mode actors", e);
    }
  }

  private long totalProgress() {
    long sum = 0;
    for (ActorThread a : actors) {
      sum += a.progress.get();
    }
    return sum;
  }

  private String describeStall() {
    StringBuilder sb =
        new StringBuilder(
            String.format(Locale.US, "no actor made progress for %d ms:", stallMillis));
    for (ActorThread a : actors) {
      if (a.isAlive()) {
        String waiting = a.waitingFor.get();
        sb.append(' ')
            .append(a.getName())
            .append(waiting == null ? " runs or spins" : " waits for " + waiting)
            .append(';');
      }
    }
    return sb.substring(0, sb.length() - 1);
  }

  private void fail(ScheduleFailure.Kind kind, String actor, String message, Throwable t) {
    failure.compareAndSet(null, new ScheduleFailure(kind, actor, message, t));
    aborted = true;
    Thread me = Thread.currentThread();
    for (ActorThread a : actors) {
      if (a != me) {
        a.interrupt();
      }
    }
  }

  private void fail(ScheduleFailure.Kind kind, String actor, String message) {
    fail(kind, actor, message, null);
  }

  /** The calling thread if it is one of this run's actors, else null. */
  private ActorThread self() {
    Thread t = Thread.currentThread();
    return t instanceof ActorThread && ((ActorThread) t).owner() == this ? (ActorThread) t : null;
  }

  @Override
  public void point(String label) {
    ActorThread me = self();
    if (me != null) {
      if (aborted) {
        throw new ScheduleAbort();
      }
      me.progress.lazySet(me.progress.get() + 1);
    }
  }

  /** A spin does not count as progress: only the actor it waits for can make some. */
  @Override
  public void spinPoint(String label) {
    if (aborted && self() != null) {
      throw new ScheduleAbort();
    }
  }

  /** Preemption in free mode is the hardware's and the JVM's; a walk yields on contention. */
  @Override
  public boolean needResched() {
    return false;
  }

  @Override
  public SchedLock newLock(String name) {
    return new RealLock(name);
  }

  @Override
  public String currentActor() {
    return Thread.currentThread().getName();
  }

  @Override
  public boolean isDeterministic() {
    return false;
  }

  /** One actor: a platform thread that waits for the start signal, then runs its body. */
  private final class ActorThread extends Thread {
    private final Runnable body;
    final AtomicLong progress = new AtomicLong();
    final AtomicReference<String> waitingFor = new AtomicReference<>();

    ActorThread(String name, Runnable body) {
      super(name);
      this.body = body;
      setDaemon(true);
    }

    FreeScheduler owner() {
      return FreeScheduler.this;
    }

    @Override
    public void run() {
      try {
        start.await();
        body.run();
      } catch (ScheduleAbort | InterruptedException e) {
        // Unwound after another actor's failure.
      } catch (Throwable t) {
        fail(ScheduleFailure.Kind.EXCEPTION, getName(), String.valueOf(t.getMessage()), t);
      }
    }
  }

  /**
   * A {@link ReentrantReadWriteLock} with recursion refused. Its non-fair mode makes a new
   * reader queue behind a waiting writer, as the kernel's queued rwlock does. An actor waits
   * interruptibly, so a failed run can unwind it.
   */
  private final class RealLock implements SchedLock {
    private final String name;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    RealLock(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    private void checkNotHeld(String op) {
      if (lock.getReadHoldCount() > 0 || lock.isWriteLockedByCurrentThread()) {
        throw new IllegalStateException(op + " of " + name + " already held by this actor: deadlock");
      }
    }

    private void acquire(Lock side) {
      ActorThread me = self();
      if (me == null) {
        side.lock();
        return;
      }
      if (aborted) {
        throw new ScheduleAbort();
      }
      me.waitingFor.lazySet(name);
      try {
        side.lockInterruptibly();
      } catch (InterruptedException e) {
        throw new ScheduleAbort();
      } finally {
        me.waitingFor.lazySet(null);
      }
      me.progress.lazySet(me.progress.get() + 1);
    }

    @Override
    public void acquireExclusive() {
      checkNotHeld("exclusive acquire");
      acquire(lock.writeLock());
    }

    @Override
    public void releaseExclusive() {
      if (!lock.isWriteLockedByCurrentThread()) {
        throw new IllegalStateException("exclusive release of " + name + " not held");
      }
      lock.writeLock().unlock();
    }

    @Override
    public void acquireShared() {
      checkNotHeld("shared acquire");
      acquire(lock.readLock());
    }

    @Override
    public void releaseShared() {
      if (lock.getReadHoldCount() == 0) {
        throw new IllegalStateException("shared release of " + name + " not held");
      }
      lock.readLock().unlock();
    }

    @Override
    public boolean tryAcquireExclusive() {
      checkNotHeld("exclusive try-acquire");
      return lock.writeLock().tryLock();
    }

    @Override
    public boolean tryAcquireShared() {
      checkNotHeld("shared try-acquire");
      return lock.readLock().tryLock();
    }

    @Override
    public boolean heldShared() {
      return lock.getReadHoldCount() > 0;
    }

    @Override
    public boolean heldExclusive() {
      return lock.isWriteLockedByCurrentThread();
    }

    @Override
    public boolean isWriteLocked() {
      return lock.isWriteLocked();
    }

    @Override
    public boolean isContended() {
      return lock.hasQueuedThreads();
    }
  }
}

package org.kvmmodel.core.sched;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Free mode: real threads, real locks; race points cost nothing and the JVM decides the
 * interleaving. Used for stress and speed; a failure found here is hunted down in
 * deterministic mode.
 */
public final class FreeScheduler implements Scheduler {

  /** The shared instance: it has no state. */
  public static final FreeScheduler INSTANCE = new FreeScheduler();

  private FreeScheduler() {}

  @Override
  public void point(String label) {
    // Free mode lets the hardware and the JVM interleave; nothing to decide here.
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

  /** A {@link ReentrantReadWriteLock} with recursion refused. */
  private static final class RealLock implements SchedLock {
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

    @Override
    public void acquireExclusive() {
      checkNotHeld("exclusive acquire");
      lock.writeLock().lock();
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
      lock.readLock().lock();
    }

    @Override
    public void releaseShared() {
      if (lock.getReadHoldCount() == 0) {
        throw new IllegalStateException("shared release of " + name + " not held");
      }
      lock.readLock().unlock();
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
  }
}

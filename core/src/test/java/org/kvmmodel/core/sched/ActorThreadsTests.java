package org.kvmmodel.core.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ActorThreadsTests {

  @Test
  void actorsAreVirtualThreadsExactlyFromJdk24AndPlatformDaemonsBefore() throws Exception {
    AtomicReference<Thread> ran = new AtomicReference<>();
    Thread t = ActorThreads.start("actor-under-test", () -> ran.set(Thread.currentThread()));
    t.join();
    assertEquals(t, ran.get());
    assertEquals("actor-under-test", t.getName());
    boolean expectVirtual = Runtime.version().feature() >= 24;
    assertEquals(expectVirtual, ActorThreads.virtual());
    assertEquals(expectVirtual, isVirtual(t));
    assertTrue(t.isDaemon(), "an actor never keeps the JVM alive");
  }

  private static boolean isVirtual(Thread t) throws Exception {
    if (Runtime.version().feature() < 21) {
      return false;
    }
    return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
  }
}

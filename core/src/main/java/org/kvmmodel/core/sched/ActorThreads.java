package org.kvmmodel.core.sched;

import java.lang.reflect.Method;

/**
 * Starts the threads a {@link DeterministicScheduler} runs its actors on. Only one actor runs at
 * a time and every switch is a hand-off, so on a runtime whose virtual threads unmount while
 * holding a monitor (JDK 24 and later, JEP 491) each actor is a virtual thread and a switch is
 * a continuation switch rather than two kernel-thread wake-ups; elsewhere (the build targets
 * Java 17) they are daemon platform threads. Kernel code that holds a Java monitor across a
 * race point would pin an older runtime's carrier, which is why 21 to 23 keep platform threads.
 */
final class ActorThreads {

  /** {@code Thread.ofVirtual()}'s builder methods, or null on a runtime that keeps platform threads. */
  private static final Method[] VIRTUAL = virtualThreadBuilder();

  private ActorThreads() {}

  /** Starts {@code body} on a new actor thread called {@code name}. */
  static Thread start(String name, Runnable body) {
    Thread thread = VIRTUAL != null ? unstartedVirtual(name, body) : platform(name, body);
    thread.start();
    return thread;
  }

  /** Whether actors run on virtual threads on this runtime. */
  static boolean virtual() {
    return VIRTUAL != null;
  }

  private static Thread platform(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    return thread;
  }

  private static Thread unstartedVirtual(String name, Runnable body) {
    try {
      Object builder = VIRTUAL[0].invoke(null);
      builder = VIRTUAL[1].invoke(builder, name);
      return (Thread) VIRTUAL[2].invoke(builder, body);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot start a virtual thread for " + name, e);
    }
  }

  private static Method[] virtualThreadBuilder() {
    if (Runtime.version().feature() < 24) {
      return null;
    }
    try {
      Class<?> builder = Class.forName("java.lang.Thread$Builder");
      return new Method[] {
        Thread.class.getMethod("ofVirtual"),
        builder.getMethod("name", String.class),
        builder.getMethod("unstarted", Runnable.class)
      };
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }
}

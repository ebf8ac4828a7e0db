package org.kvmmodel.core.inject;

import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.FaultInjectionSettings;

/**
 * Decides, from the seeded choice stream, when an error path is taken on purpose: GUP failing
 * with -EFAULT or -EHWPOISON, an MMU memory cache top-up failing with -ENOMEM, an atomic
 * stage-2 update losing its cmpxchg. With every percentage at 0 it draws nothing, so runs
 * without injection consume exactly the choices they would otherwise.
 */
public final class FaultInjector {

  private final FaultInjectionSettings settings;
  private final ChoiceStream choices;
  private long injected;

  public FaultInjector(FaultInjectionSettings settings, ChoiceStream choices) {
    this.settings = settings;
    this.choices = choices;
  }

  /** No injection at all. */
  public static FaultInjector none() {
    return new FaultInjector(FaultInjectionSettings.NONE, null);
  }

  /** GUP returns -EFAULT here. */
  public boolean gupEfault() {
    return draw(settings.gupEfault());
  }

  /** GUP returns -EHWPOISON here. */
  public boolean gupHwpoison() {
    return draw(settings.gupHwpoison());
  }

  /** A memory cache top-up fails with -ENOMEM here. */
  public boolean cacheEnomem() {
    return draw(settings.cacheEnomem());
  }

  /** An atomic entry update loses its race here. */
  public boolean cmpxchgLoss() {
    return draw(settings.cmpxchgLoss());
  }

  /** How many errors were injected. */
  public synchronized long injected() {
    return injected;
  }

  private synchronized boolean draw(int percent) {
    if (percent == 0) {
      return false;
    }
    boolean hit = choices.chance(percent);
    if (hit) {
      injected++;
    }
    return hit;
  }
}

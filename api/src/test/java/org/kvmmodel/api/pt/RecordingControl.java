package org.kvmmodel.api.pt;

import java.util.ArrayList;
import java.util.List;

/** A walk control that yields every {@code yieldEvery} consultations and records what it did. */
final class RecordingControl implements WalkControl {

  private final int yieldEvery;
  private int consulted;
  final List<String> log = new ArrayList<>();

  RecordingControl(int yieldEvery) {
    this.yieldEvery = yieldEvery;
  }

  @Override
  public boolean shouldYield() {
    return yieldEvery > 0 && ++consulted % yieldEvery == 0;
  }

  @Override
  public void yieldLock() {
    log.add("yield");
  }

  @Override
  public void flushTlbs() {
    log.add("flush-all");
  }

  @Override
  public void flushTlbRange(long gfn, long pages) {
    log.add("flush " + gfn + "+" + pages);
  }

  long count(String prefix) {
    return log.stream().filter(s -> s.startsWith(prefix)).count();
  }
}

package org.kvmmodel.api.pt;

/**
 * The walk control of a cursor that stands for the MMU hardware: it only walks and sets
 * hardware-managed bits ({@link PageTableCursor#hardwareSetBits}), so the engine never asks
 * it to yield or flush, which only range operations through an arch hook do.
 */
public final class HardwareWalkControl implements WalkControl {

  /** The one instance; it has no state. */
  public static final HardwareWalkControl INSTANCE = new HardwareWalkControl();

  private HardwareWalkControl() {}

  @Override
  public boolean shouldYield() {
    throw new IllegalStateException("a hardware walker runs no range operations");
  }

  @Override
  public void yieldLock() {
    throw new IllegalStateException("a hardware walker holds no lock");
  }

  @Override
  public void flushTlbs() {
    throw new IllegalStateException("a hardware walker issues no flushes");
  }

  @Override
  public void flushTlbRange(long gfn, long pages) {
    throw new IllegalStateException("a hardware walker issues no flushes");
  }
}

package org.kvmmodel.api.kvm;

/**
 * One walk of the stage-2 table by the MMU hardware for a guest access, and what it found:
 * either a translation (the host physical address and the leaf's permissions, which a TLB may
 * cache) or a fault with the information the hardware reports on the exit (x86 EPT violation
 * exit qualification, arm64 ESR_EL2, RISC-V htval/scause), decoded. A vCPU owns one and reuses
 * it, so a walk allocates nothing.
 */
public final class Stage2Walk {

  private long gpa;
  private int access;
  private boolean translated;
  private long hpa;
  private int level;
  private int permissions;
  private boolean entryPresent;
  private int faultKind;

  /** Starts a walk for {@code access} ({@link GuestAccess} bits) at {@code gpa}. */
  public void begin(long gpa, int access) {
    this.gpa = gpa;
    this.access = access;
    this.translated = false;
    this.hpa = 0;
    this.level = 0;
    this.permissions = 0;
    this.entryPresent = false;
    this.faultKind = 0;
  }

  /** The walk translated: the leaf at {@code level} grants {@code permissions}. */
  public void translated(long hostPhysical, int leafLevel, int leafPermissions) {
    this.translated = true;
    this.hpa = hostPhysical;
    this.level = leafLevel;
    this.permissions = leafPermissions;
  }

  /**
   * The walk faulted. {@code present} says whether a present leaf was found whose permissions
   * refused the access (a permission fault) rather than no translation at all; {@code kind} is
   * the arch's own fault code (e.g. arm64's access-flag fault).
   */
  public void faulted(boolean present, int presentPermissions, int kind) {
    this.translated = false;
    this.entryPresent = present;
    this.permissions = presentPermissions;
    this.faultKind = kind;
  }

  public long gpa() {
    return gpa;
  }

  /** The frame number of {@link #gpa} on a host whose {@code PAGE_SHIFT} is {@code pageShift}. */
  public long gfn(int pageShift) {
    return gpa >>> pageShift;
  }

  public int access() {
    return access;
  }

  public boolean isWrite() {
    return (access & GuestAccess.WRITE) != 0;
  }

  public boolean isExec() {
    return (access & GuestAccess.EXEC) != 0;
  }

  public boolean translated() {
    return translated;
  }

  /** Host physical address of the accessed byte, when translated. */
  public long hpa() {
    return hpa;
  }

  /** The leaf's level in the arch's numbering, when translated. */
  public int level() {
    return level;
  }

  /** {@link GuestAccess} bits the leaf grants (translated) or granted (permission fault). */
  public int permissions() {
    return permissions;
  }

  /** Whether the fault found a present leaf (permission fault) rather than none. */
  public boolean entryPresent() {
    return entryPresent;
  }

  /** The arch's fault code; 0 when it has only one kind. */
  public int faultKind() {
    return faultKind;
  }
}
